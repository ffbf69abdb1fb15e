"""Temporary access codes: granted by a supervisor until a set time, usable once or for their period.

A code is made like a recovery code (human.py, three groups by default) and kept only as an Argon2id
hash with its own salt. The grant says when it stops working; the station's policy picks that time
(by default the end of the shift) and this module refuses a period longer than `max_lifetime`. A code
is refused before it starts, after it expires, once revoked (the workflows revoke it when the owner's
new token is bound), and, if single-use, after its first use.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ..clock import rfc3339
from ..errors import InputError
from . import human
from .results import Accepted, Malformed, Rejected, RejectReason, Result, replay
from .slow_hash import DEFAULT_COST, SALT_BYTES, HashCost, same, slow_hash

GROUPS = 3
MAX_LIFETIME = timedelta(hours=12)
WHAT = "temporary access code"


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return at.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class TemporaryCode:
    """What the station keeps of one granted code."""

    granted_at: datetime
    expires_at: datetime
    single_use: bool
    salt: bytes = field(repr=False)
    hash: bytes = field(repr=False)
    cost: HashCost = DEFAULT_COST
    groups: int = GROUPS
    uses: int = 0
    first_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def revoked(self, now: datetime) -> TemporaryCode:
        """The code, revoked from `now` (an already revoked code keeps its first revocation time)."""
        return self if self.revoked_at is not None else replace(self, revoked_at=_utc(now))

    def to_json(self) -> dict:
        def when(at: datetime | None) -> str | None:
            return None if at is None else rfc3339(at)

        return {
            "granted_at": rfc3339(self.granted_at), "expires_at": rfc3339(self.expires_at),
            "single_use": self.single_use, "salt": base64.b64encode(self.salt).decode(),
            "hash": base64.b64encode(self.hash).decode(), "cost": self.cost.to_json(), "groups": self.groups,
            "uses": self.uses, "first_used_at": when(self.first_used_at), "revoked_at": when(self.revoked_at),
        }

    @classmethod
    def from_json(cls, data: dict) -> TemporaryCode:
        def when(text: str | None) -> datetime | None:
            return None if text is None else datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

        return cls(when(data["granted_at"]), when(data["expires_at"]), bool(data["single_use"]),
                   base64.b64decode(data["salt"]), base64.b64decode(data["hash"]),
                   HashCost.from_json(data["cost"]), int(data["groups"]), int(data["uses"]),
                   when(data["first_used_at"]), when(data["revoked_at"]))


def grant_temporary_code(
    now: datetime,
    expires_at: datetime,
    *,
    single_use: bool,
    max_lifetime: timedelta = MAX_LIFETIME,
    groups: int = GROUPS,
    rng: human.Random = secrets.token_bytes,
    cost: HashCost = DEFAULT_COST,
) -> tuple[str, TemporaryCode]:
    """A fresh code to hand over once, and the record to keep; refuses a period that is empty or too long."""
    start, end = _utc(now), _utc(expires_at)
    if end <= start:
        raise InputError("A temporary access code must expire after it is granted.",
                         "Choose an expiry time later than now.")
    if end - start > max_lifetime:
        hours = max_lifetime.total_seconds() / 3600
        raise InputError(f"A temporary access code may last at most {hours:g} hours.",
                         "Choose an earlier expiry, or grant a new code when this one runs out.")
    code = human.generate(groups, rng)
    salt = rng(SALT_BYTES)
    digest = slow_hash(code.replace("-", ""), salt, cost)
    return code, TemporaryCode(start, end, single_use, salt, digest, cost, groups)


def verify_temporary_code(record: TemporaryCode, code: object, now: datetime) -> Result[TemporaryCode]:
    """Accept the code within its period (once, if single-use); the new record counts the use."""
    typed = human.read(code, record.groups, what=WHAT)
    if isinstance(typed, Malformed):
        return typed
    at = _utc(now)
    if record.revoked_at is not None and at >= record.revoked_at:
        return Rejected(RejectReason.REVOKED, "This temporary access code was revoked.",
                        "The owner has a token again; use it. A supervisor can grant a new code if needed.")
    if at < record.granted_at:
        return Rejected(RejectReason.NOT_YET_VALID, "This temporary access code is not valid yet.",
                        "Check the station's clock; a code works from the moment it is granted.")
    if at >= record.expires_at:
        return Rejected(RejectReason.EXPIRED,
                        f"This temporary access code expired at {rfc3339(record.expires_at)}.",
                        "A supervisor can grant a new code.")
    if not same(slow_hash(typed, record.salt, record.cost), record.hash):
        return Rejected(RejectReason.WRONG_CODE, "The temporary access code does not match the one granted.",
                        "Check the owner, and type the code exactly as it was handed over.")
    if record.single_use and record.uses:
        return replay(WHAT, "A single-use code works once; a supervisor can grant a new one.")
    after = replace(record, uses=record.uses + 1, first_used_at=record.first_used_at or at)
    note = "" if record.single_use else f"; valid until {rfc3339(record.expires_at)}"
    return Accepted(after, f"Temporary access code accepted{note}.")
