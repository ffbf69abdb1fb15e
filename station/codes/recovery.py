"""Recovery codes: a set per owner, shown once, kept only as slow hashes, each usable once.

A set is issued (default ten codes of three groups, 55 random bits each; see human.py), printed for
a sealed envelope, and from then on the station holds only Argon2id hashes (slow_hash.py). The codes
of one set share one salt, so checking a typed code costs one slow hash however many codes are left;
an attacker holding the hashes gains the same factor of ten, which 55 bits per code absorb many times
over. A set older than `max_age_months` (default 12) is due for rotation, and its codes are refused
until a new set is issued; the workflows also rotate on request and when a token is replaced.
"""

from __future__ import annotations

import base64
import calendar
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from ..clock import rfc3339
from . import human
from .results import Accepted, Malformed, Rejected, RejectReason, Result, replay
from .slow_hash import DEFAULT_COST, SALT_BYTES, HashCost, same, slow_hash

COUNT = 10
GROUPS = 3
MAX_AGE_MONTHS = 12
WHAT = "recovery code"


@dataclass(frozen=True)
class RecoveryCodeSet:
    """What the station keeps of one owner's set: hashes and when each code was used (None: unused)."""

    issued_at: datetime
    salt: bytes = field(repr=False)
    hashes: tuple[bytes, ...] = field(repr=False)
    used_at: tuple[datetime | None, ...]
    cost: HashCost = DEFAULT_COST
    groups: int = GROUPS

    @property
    def remaining(self) -> int:
        return sum(1 for at in self.used_at if at is None)

    def rotation_due_at(self, max_age_months: int = MAX_AGE_MONTHS) -> datetime:
        return add_months(self.issued_at, max_age_months)

    def to_json(self) -> dict:
        """For sealing in the vault (hashes only; the codes themselves are never kept)."""
        return {
            "issued_at": rfc3339(self.issued_at),
            "salt": base64.b64encode(self.salt).decode(),
            "hashes": [base64.b64encode(h).decode() for h in self.hashes],
            "used_at": [None if at is None else rfc3339(at) for at in self.used_at],
            "cost": self.cost.to_json(),
            "groups": self.groups,
        }

    @classmethod
    def from_json(cls, data: dict) -> RecoveryCodeSet:
        return cls(
            _parse_time(data["issued_at"]),
            base64.b64decode(data["salt"]),
            tuple(base64.b64decode(h) for h in data["hashes"]),
            tuple(None if at is None else _parse_time(at) for at in data["used_at"]),
            HashCost.from_json(data["cost"]),
            int(data["groups"]),
        )


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def add_months(at: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day when it is shorter), or datetime.max."""
    years, month0 = divmod(at.month - 1 + months, 12)
    year = at.year + years
    if not 1 <= year <= 9999:
        return datetime.max.replace(tzinfo=UTC)
    day = min(at.day, calendar.monthrange(year, month0 + 1)[1])
    return at.replace(year=year, month=month0 + 1, day=day)


def issue_recovery_codes(
    now: datetime,
    *,
    count: int = COUNT,
    groups: int = GROUPS,
    rng: human.Random = secrets.token_bytes,
    cost: HashCost = DEFAULT_COST,
) -> tuple[tuple[str, ...], RecoveryCodeSet]:
    """A fresh set: the codes to print once, and the record to keep. Codes in a set are distinct."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if count < 1:
        raise ValueError("a set needs at least one code")
    codes: list[str] = []
    while len(codes) < count:
        code = human.generate(groups, rng)
        if code not in codes:
            codes.append(code)
    salt = rng(SALT_BYTES)
    hashes = tuple(slow_hash(code.replace("-", ""), salt, cost) for code in codes)
    issued = now.astimezone(UTC).replace(microsecond=0)
    return tuple(codes), RecoveryCodeSet(issued, salt, hashes, (None,) * count, cost, groups)


def rotation_due(codes: RecoveryCodeSet, now: datetime, *, max_age_months: int = MAX_AGE_MONTHS) -> bool:
    """Whether the set is old enough to be replaced by a new one."""
    return now >= codes.rotation_due_at(max_age_months)


def verify_recovery_code(
    codes: RecoveryCodeSet, code: object, now: datetime, *, max_age_months: int = MAX_AGE_MONTHS
) -> Result[RecoveryCodeSet]:
    """Accept an unused code of the set once; the new set marks it used."""
    typed = human.read(code, codes.groups, what=WHAT)
    if isinstance(typed, Malformed):
        return typed
    if rotation_due(codes, now, max_age_months=max_age_months):
        return Rejected(
            RejectReason.EXPIRED,
            f"This owner's recovery codes are older than {max_age_months} months and no longer valid.",
            "A supervisor must issue a new set of recovery codes.",
        )
    digest = slow_hash(typed, codes.salt, codes.cost)
    found = [i for i, h in enumerate(codes.hashes) if same(h, digest)]  # every hash compared
    if not found:
        return Rejected(RejectReason.WRONG_CODE, "The recovery code is not one of this owner's codes.",
                        "Check the owner, and that the code is from their latest envelope.")
    index = found[0]
    if codes.used_at[index] is not None:
        return replay(WHAT, "Use another code from the envelope; each works once.")
    used = list(codes.used_at)
    used[index] = now.astimezone(UTC).replace(microsecond=0)
    after = replace(codes, used_at=tuple(used))
    left = after.remaining
    note = "; it was the last one, issue a new set" if left == 0 else f"; {left} left"
    return Accepted(after, f"Recovery code accepted{note}.")
