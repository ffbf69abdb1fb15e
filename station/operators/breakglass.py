"""The break-glass admin: for when no admin can sign in. Every use is flagged until an auditor closes it.

The break-glass operator (id ``break-glass``, roles admin and supervisor) is created with the station.
Its credentials are an envelope printed once: a 10-digit PIN and a list of one-time codes (its
"token", single use each, kept as Argon2id hashes like recovery codes). Keep the two parts apart in
the safe. Each sign-in opens a review (`reviews`), listed with every action taken in that session
until an auditor closes it with a note (`review.closed`). A new envelope (the old one stops working)
takes an admin and a second operator.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from ..codes import issue_recovery_codes
from ..codes.slow_hash import DEFAULT_COST, HashCost
from ..core import Station
from ..errors import InputError
from ..inventory.common import NotFound, clean_reason
from ..inventory.roles import require, require_second
from .credentials import OperatorToken, write_credentials
from .pins import check_pin
from .sessions import Session

BREAK_GLASS_ID = "break-glass"
ROLES = ["admin", "supervisor"]
CODE_COUNT = 10


@dataclass(frozen=True)
class Envelope:
    """What to print once and seal: the PIN (one part) and the one-time codes (the other part)."""

    operator: str
    pin: str = field(repr=False)
    codes: tuple[str, ...] = field(repr=False)

    def text(self) -> str:
        return (
            f"BREAK-GLASS ENVELOPE for this station (operator id: {self.operator})\n"
            f"Part 1, PIN: {self.pin}\n"
            "Part 2, one-time codes (each works once):\n" + "\n".join(f"  {c}" for c in self.codes)
        )


def _new_pin() -> str:
    while True:
        pin = f"{secrets.randbelow(10**10):010d}"
        try:
            return check_pin(pin, BREAK_GLASS_ID)
        except InputError:
            continue


def write_envelope(
    tx: object, station: Station, *, actor: str, at: datetime, cost: HashCost = DEFAULT_COST
) -> Envelope:
    """Enrol the break-glass operator if new, and give it fresh credentials (inside `tx`)."""
    if tx.db.execute("SELECT 1 FROM operators WHERE id = ?", [BREAK_GLASS_ID]).fetchone() is None:
        tx.append(
            "operator.enrolled",
            {"operator": BREAK_GLASS_ID, "name": "Break-glass admin", "roles": ROLES, "break_glass": True},
            actor=actor,
            at=at,
        )
    codes, code_set = issue_recovery_codes(at, count=CODE_COUNT, cost=cost)
    pin = _new_pin()
    token = OperatorToken("code-list", json.dumps(code_set.to_json()).encode())
    write_credentials(tx, station, BREAK_GLASS_ID, pin, token, actor=actor, at=at, cost=cost)
    return Envelope(BREAK_GLASS_ID, pin, codes)


def reissue_envelope(station: Station, *, operator: Session, approver: Session, reason: str) -> Envelope:
    """A new break-glass envelope (after a use, or on schedule): an admin and a second operator."""
    reason = clean_reason(reason)
    now = station.now()
    with station.record() as tx:
        require(tx.db, operator, "enrol", now)
        require_second(tx.db, operator, approver, "approve_supervisor", now, owner=BREAK_GLASS_ID)
        envelope = write_envelope(tx, station, actor=operator.operator, at=now)
        tx.append(
            "operator.break_glass_reissued",
            {"operator": BREAK_GLASS_ID, "reason": reason, "second_operator": approver.operator},
            actor=operator.operator,
            at=now,
        )
    return envelope


def open_reviews(station: Station, *, everything: bool = False) -> list[dict]:
    """Break-glass uses awaiting an auditor (or all of them), each with the actions taken."""
    where = "" if everything else " WHERE status = 'open'"
    rows = list(station.ledger.db.query(f"SELECT * FROM reviews{where} ORDER BY opened_at"))  # noqa: S608
    for row in rows:
        row["actions"] = review_actions(station, row)
    return rows


def review_actions(station: Station, review: dict) -> list[dict]:
    """The ledger entries made by the break-glass operator from its sign-in to its sign-out."""
    out = []
    for entry in station.ledger.entries(start=review["opened_seq"]):
        if review["ended_seq"] is not None and entry.seq > review["ended_seq"]:
            break
        if entry.actor == review["operator"] and entry.seq != review["opened_seq"]:
            out.append({"seq": entry.seq, "at": entry.at, "type": entry.type})
    return out


def close_review(station: Station, review_id: str, *, operator: Session, note: str) -> int:
    """An auditor has looked at a break-glass use and closes it with a note."""
    note = clean_reason(note)
    now = station.now()
    with station.record() as tx:
        require(tx.db, operator, "review", now)
        row = tx.db.execute("SELECT status FROM reviews WHERE id = ?", [review_id]).fetchone()
        if row is None:
            raise NotFound(f"There is no review {review_id}.", "List them: station review list.")
        if row[0] != "open":
            raise InputError(f"Review {review_id} is already closed.", "Nothing to do.")
        return tx.append(
            "review.closed", {"review": review_id, "note": note}, actor=operator.operator, at=now
        ).seq
