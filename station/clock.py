"""Time is passed in, never read from globals, so TOTP and expiry are exact under test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real UTC time; the only place the station reads the wall clock."""
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock that always says `at` (for tests and replays)."""
    if at.tzinfo is None:
        raise ValueError("a clock must be timezone-aware")
    return lambda: at


def rfc3339(at: datetime) -> str:
    """UTC RFC 3339 with a Z, to the second: how the station shows and stores times."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
