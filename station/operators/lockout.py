"""Locking and unlocking operators. Locking takes one admin or supervisor; unlocking takes two.

A locked operator cannot sign in and every open session of theirs ends at once. Unlocking (which
also clears a failed-sign-in lockout early) is a four-eyes action: an admin performs it, a supervisor
or another admin approves it by signing in for it, and the operator being unlocked can be neither.
"""

from __future__ import annotations

from ..core import Station
from ..errors import InputError
from ..inventory.common import NotFound, clean_id, clean_reason
from ..inventory.roles import find_operator, require, require_second
from . import sessions
from .approvals import append_two_person
from .sessions import Session


def _other_admins(db: object, operator_id: str) -> int:
    return db.execute(
        "SELECT count(*) FROM operators WHERE status = 'active' AND ',' || roles || ',' LIKE '%,admin,%'"
        " AND id != ?",
        [operator_id],
    ).fetchone()[0]


def lock_operator(station: Station, target: str, *, operator: Session, reason: str) -> int:
    """Lock an operator out now (a lost token, a suspicion); their sessions end. Returns the ledger seq."""
    target, reason = clean_id("operator id", target), clean_reason(reason)
    now = station.now()
    with station.record() as tx:
        actor = require(tx.db, operator, "lock_operator", now)
        found = find_operator(tx.db, target)
        if found is None:
            raise NotFound(f"{target} is not an enrolled operator.", "Check the id: station operator list.")
        if target == actor.id:
            raise InputError("You cannot lock yourself.", "Sign out instead; another operator can lock you.")
        if found.status != "active":
            raise InputError(f"{target} is already {found.status}.", "Nothing to do.")
        if "admin" in {r.value for r in found.roles} and _other_admins(tx.db, target) == 0:
            raise InputError(
                "That would leave the station without an active admin.", "Enrol another admin first."
            )
        entry = tx.append("operator.locked", {"operator": target, "reason": reason}, actor=actor.id, at=now)
        sessions.end_all(tx.db, target, now, "locked")
    return entry.seq


def unlock_operator(
    station: Station, target: str, *, operator: Session, approver: Session, reason: str
) -> int:
    """Unlock an operator (and clear a sign-in lockout): an admin with a second operator's approval."""
    target, reason = clean_id("operator id", target), clean_reason(reason)
    now = station.now()
    with station.record() as tx:
        require(tx.db, operator, "unlock_operator", now)
        if target == operator.operator:
            raise InputError("You cannot unlock yourself.", "Two other operators must do it.")
        require_second(tx.db, operator, approver, "approve_supervisor", now, owner=target)
        row = tx.db.execute(
            "SELECT status, failures, locked_until FROM operators WHERE id = ?", [target]
        ).fetchone()
        if row is None:
            raise NotFound(f"{target} is not an enrolled operator.", "Check the id: station operator list.")
        if row[0] != "locked" and row[2] is None and row[1] == 0:
            raise InputError(f"{target} is not locked.", "Nothing to do.")
        entry = append_two_person(
            tx,
            station,
            "operator.unlocked",
            {"operator": target, "reason": reason},
            first=operator,
            second=approver,
            at=now,
        )
    return entry.seq


def operators_overview(station: Station) -> list[dict]:
    """Every operator with their roles, state and token kind (no secret)."""
    return list(
        station.ledger.db.query(
            "SELECT o.id, o.roles, o.status, o.failures, o.locked_until, o.break_glass, t.kind AS token"
            " FROM operators o LEFT JOIN operator_tokens t ON t.operator = o.id ORDER BY o.id"
        )
    )
