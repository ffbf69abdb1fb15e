"""Recovery codes per owner: a set shown once, kept as Argon2id hashes, single use, rotated.

`issue_recovery_codes` makes a new set (default 10 codes) for an owner and revokes the one before it
(a rotation), returning the codes to print once for a sealed envelope. The vault keeps the set's salt
and hashes (record ``recovery/<owner>/<set>``); which codes were used lives in the projection, from
``recovery.used`` events that name the set and the used positions, never a code. A set is rotated on
request, when the owner's token is replaced (issue flows call `rotate_on_replacement`), and when it
is older than the policy's age (its codes are then refused until a new set is issued;
`rotation_due` lists those owners).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .. import code_check
from ..clock import rfc3339
from ..codes import Accepted, Malformed, RecoveryCodeSet, Rejected, RejectReason
from ..codes import issue_recovery_codes as make_codes
from ..codes.recovery import add_months, verify_recovery_code
from ..codes.slow_hash import DEFAULT_COST, HashCost
from ..core import Station
from ..inventory.common import clean_id, clean_reason
from ..inventory.owners import check_owner
from ..inventory.roles import require
from ..operators.sessions import Session


@dataclass(frozen=True)
class RecoveryIssue:
    owner: str
    set_id: str
    codes: tuple[str, ...] = field(repr=False)  # shown once; never stored
    issued_at: str
    rotation_due: str
    ledger_seq: int


def active_set(db: object, owner: str) -> dict | None:
    cur = db.execute("SELECT * FROM recovery_sets WHERE owner = ? AND status = 'active'", [owner])
    row = cur.fetchone()
    return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))


def write_set(
    tx: object, station: Station, owner: str, *, actor: str, reason: str, cost: HashCost = DEFAULT_COST
) -> RecoveryIssue:
    """Revoke the owner's active set (if any) and issue a new one, inside the caller's transaction."""
    now = station.now()
    policy = station.config.policy
    old = active_set(tx.db, owner)
    if old is not None:
        tx.append(
            "recovery.revoked", {"owner": owner, "set": old["set_id"], "reason": reason}, actor=actor, at=now
        )
    codes, code_set = make_codes(now, count=policy.recovery_count, cost=cost)
    set_id = os.urandom(6).hex()
    record = f"recovery/{owner}/{set_id}"
    tx.db.execute(
        "INSERT INTO vault_records (id, blob, created_at) VALUES (?, ?, ?)",
        [record, station.vault.seal(record, json.dumps(code_set.to_json()).encode()), rfc3339(now)],
    )
    due = rfc3339(add_months(code_set.issued_at, policy.recovery_max_age_months))
    entry = tx.append(
        "recovery.issued",
        {
            "owner": owner,
            "set": set_id,
            "count": len(codes),
            "vault_record": record,
            "rotation_due": due,
            "reason": reason,
        },
        actor=actor,
        at=now,
    )
    return RecoveryIssue(owner, set_id, codes, rfc3339(code_set.issued_at), due, entry.seq)


def issue_recovery_codes(
    station: Station,
    owner: str,
    *,
    operator: Session,
    reason: str | None = None,
    cost: HashCost = DEFAULT_COST,
) -> RecoveryIssue:
    """A new set for `owner` (the previous one stops working). Show `codes` once, then forget them."""
    owner = clean_id("owner", owner)
    reason = clean_reason(reason, "issued on request")
    with station.record() as tx:
        actor = require(tx.db, operator, "recovery", station.now())
        if owner == actor.id:
            raise_own()
        check_owner(tx.db, owner, station.now())
        return write_set(tx, station, owner, actor=actor.id, reason=reason, cost=cost)


def raise_own() -> None:
    from ..errors import NotPermitted

    raise NotPermitted("Nobody issues their own recovery codes.", "Ask another operator.")


def rotate_on_replacement(tx: object, station: Station, owner: str, *, actor: str) -> RecoveryIssue | None:
    """A replaced token: the owner's set (if they had one) is replaced too, in the issue's transaction."""
    if active_set(tx.db, owner) is None:
        return None
    return write_set(tx, station, owner, actor=actor, reason="token replaced")


def rotation_due(station: Station) -> list[dict]:
    """Owners whose active set is older than the policy's age: their codes no longer work."""
    now = rfc3339(station.now())
    return list(
        station.ledger.db.query(
            "SELECT owner, set_id, issued_at, rotation_due FROM recovery_sets WHERE status = 'active'"
            " AND rotation_due <= ? ORDER BY rotation_due",
            [now],
        )
    )


def list_sets(station: Station, owner: str | None = None) -> list[dict]:
    sql = (
        "SELECT owner, set_id, issued_at, issued_by, count, used_codes, status, rotation_due"
        " FROM recovery_sets"
    )
    rows = list(
        station.ledger.db.query(
            sql + (" WHERE owner = ?" if owner else "") + " ORDER BY issued_at", [owner] if owner else []
        )
    )
    for row in rows:
        row["remaining"] = row["count"] - len(code_check.used_indices(row))
        del row["used_codes"]
    return rows


def check(station: Station, owner: str, code: object) -> tuple[Accepted | Rejected | Malformed, dict | None]:
    """Check a recovery code; the event body to record when accepted (None otherwise)."""
    row = active_set(station.ledger.db, owner)
    if row is None:
        return Rejected(
            RejectReason.WRONG_CODE,
            f"{owner} has no recovery codes at this station.",
            "Check the owner; an operator issues recovery codes with 'station recovery issue'.",
        ), None
    codes = code_check.code_list(row, station.secret(row["vault_record"]))
    result = verify_recovery_code(
        codes, code, station.now(), max_age_months=station.config.policy.recovery_max_age_months
    )
    if not isinstance(result, Accepted):
        return result, None
    used = sorted(i for i, at in enumerate(result.state.used_at) if at is not None)
    return result, {
        "owner": owner,
        "set": row["set_id"],
        "used_codes": ",".join(map(str, used)),
        "remaining": result.state.remaining,
    }


__all__ = [
    "RecoveryCodeSet",
    "RecoveryIssue",
    "check",
    "issue_recovery_codes",
    "list_sets",
    "rotate_on_replacement",
    "rotation_due",
    "write_set",
]
