"""Temporary access codes: granted by a supervisor with a second operator, until a set time.

The code (station.codes.temporary) is shown once to hand over; the vault keeps its salt and Argon2id
hash (record ``temporary/<owner>/<grant>``). By default it expires at the end of the current shift
(policy.shift_ends, in the site's zone) and never lasts longer than policy.temporary_max_hours. It is
usable once or for its whole period. It is revoked automatically when the owner's new token is bound
(`revoke_for_owner`, called in the issue's transaction), or by hand. The ledger records grant (endorsed
by both operators), each use and the revocation; never the code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ..clock import rfc3339
from ..codes import Accepted, Malformed, Rejected, RejectReason, TemporaryCode, human, verify_temporary_code
from ..codes import grant_temporary_code as make_code
from ..codes.slow_hash import same, slow_hash
from ..codes.temporary import WHAT
from ..core import Station
from ..errors import InputError
from ..inventory.common import NotFound, clean_id, clean_reason
from ..inventory.owners import check_owner
from ..inventory.roles import require, require_second
from ..operators.approvals import append_two_person
from ..operators.sessions import Session


@dataclass(frozen=True)
class Grant:
    owner: str
    grant_id: str
    code: str = field(repr=False)  # shown once; never stored
    expires_at: str
    single_use: bool
    ledger_seq: int


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def grant_temporary_access(
    station: Station,
    owner: str,
    *,
    operator: Session,
    approver: Session,
    reason: str,
    expires_at: datetime | None = None,
    single_use: bool = False,
) -> Grant:
    """A code for `owner` until `expires_at` (default: end of shift); needs a second operator."""
    owner, reason = clean_id("owner", owner), clean_reason(reason)
    policy = station.config.policy
    now = station.now()
    expires = policy.end_of_shift(now) if expires_at is None else expires_at
    if expires.tzinfo is None:
        raise InputError("The expiry time needs a time zone.", "Give it as 2026-12-03T22:00:00Z.")
    with station.record() as tx:
        require(tx.db, operator, "temporary", now)
        require_second(tx.db, operator, approver, "approve", now, owner=owner)
        check_owner(tx.db, owner, now)
        code, record = make_code(
            now, expires, single_use=single_use, max_lifetime=timedelta(hours=policy.temporary_max_hours)
        )
        grant_id = os.urandom(6).hex()
        vault_record = f"temporary/{owner}/{grant_id}"
        tx.db.execute(
            "INSERT INTO vault_records (id, blob, created_at) VALUES (?, ?, ?)",
            [
                vault_record,
                station.vault.seal(vault_record, json.dumps(record.to_json()).encode()),
                rfc3339(now),
            ],
        )
        body = {
            "owner": owner,
            "grant": grant_id,
            "expires_at": rfc3339(record.expires_at),
            "single_use": single_use,
            "reason": reason,
            "vault_record": vault_record,
        }
        entry = append_two_person(
            tx, station, "temporary.granted", body, first=operator, second=approver, at=now
        )
    return Grant(owner, grant_id, code, rfc3339(record.expires_at), single_use, entry.seq)


def active_grants(db: object, owner: str) -> list[dict]:
    return list(
        db.query(
            "SELECT * FROM temporary_grants WHERE owner = ? AND revoked_at IS NULL ORDER BY granted_at",
            [owner],
        )
    )


def revoke_for_owner(tx: object, owner: str, *, actor: str, at: datetime, reason: str) -> list[str]:
    """Revoke every live grant of `owner` inside the caller's transaction (e.g. a new token was bound)."""
    revoked = []
    for grant in active_grants(tx.db, owner):
        if _parse(grant["expires_at"]) <= at:
            continue  # already over by itself
        tx.append(
            "temporary.revoked",
            {"owner": owner, "grant": grant["grant_id"], "reason": reason},
            actor=actor,
            at=at,
        )
        revoked.append(grant["grant_id"])
    return revoked


def revoke_temporary_access(station: Station, owner: str, *, operator: Session, reason: str) -> list[str]:
    owner, reason = clean_id("owner", owner), clean_reason(reason)
    now = station.now()
    with station.record() as tx:
        actor = require(tx.db, operator, "temporary", now)
        revoked = revoke_for_owner(tx, owner, actor=actor.id, at=now, reason=reason)
        if not revoked:
            raise NotFound(f"{owner} has no temporary access code in force.", "Nothing to revoke.")
    return revoked


def list_grants(station: Station, owner: str | None = None) -> list[dict]:
    sql = (
        "SELECT grant_id, owner, granted_by, approved_by, granted_at, expires_at, single_use, uses,"
        " revoked_at,"
        " revoke_reason FROM temporary_grants"
    )
    return list(
        station.ledger.db.query(
            sql + (" WHERE owner = ?" if owner else "") + " ORDER BY granted_at", [owner] if owner else []
        )
    )


def _state(grant: dict, secret: bytes) -> TemporaryCode:
    record = TemporaryCode.from_json(json.loads(secret))
    return replace(
        record,
        uses=grant["uses"],
        first_used_at=None if grant["first_used_at"] is None else _parse(grant["first_used_at"]),
        revoked_at=None if grant["revoked_at"] is None else _parse(grant["revoked_at"]),
    )


def _matches(record: TemporaryCode, typed: str) -> bool:
    return same(slow_hash(typed, record.salt, record.cost), record.hash)


def check(station: Station, owner: str, code: object) -> tuple[Accepted | Rejected | Malformed, dict | None]:
    """Check a temporary access code against the owner's grants: the grant it belongs to decides
    (expired, revoked, used once); a code matching none is a wrong code."""
    grants = list(
        station.ledger.db.query(
            "SELECT * FROM temporary_grants WHERE owner = ? ORDER BY granted_at DESC", [owner]
        )
    )
    if not grants:
        return Rejected(
            RejectReason.WRONG_CODE,
            f"{owner} has no temporary access code at this station.",
            "Check the owner; a supervisor grants one with a second operator.",
        ), None
    for grant in grants:
        record = _state(grant, station.secret(grant["vault_record"]))
        typed = human.read(code, record.groups, what=WHAT)
        if isinstance(typed, Malformed):
            return typed, None
        if not _matches(record, typed):
            continue
        result = verify_temporary_code(record, code, station.now())
        if isinstance(result, Accepted):
            return result, {"owner": owner, "grant": grant["grant_id"], "uses": result.state.uses}
        return result, None
    return Rejected(
        RejectReason.WRONG_CODE,
        "The temporary access code does not match any granted to this owner.",
        "Check the owner, and type the code exactly as it was handed over.",
    ), None
