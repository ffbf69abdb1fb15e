"""The station's security policy: timeouts, lockout delays, code windows, recovery and temporary access.

Defaults suit a staffed desk; a site may set any of them in station.json under "policy" (unknown keys
and impossible values are refused when the station opens, naming the key). The clock is never read
here: functions take the time they reason about.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Policy:
    idle_minutes: int = 10  # a signed-in session ends after this long without activity
    session_hours: int = 12  # and after this long whatever happens
    approval_minutes: int = 2  # a second operator's sign-in approves one action within this time
    lockout_free_attempts: int = 3  # failed sign-ins before the first delay
    lockout_base_seconds: int = 30  # first delay; each further failure doubles it
    lockout_max_seconds: int = 3600
    totp_window: int = 1  # steps either side of where the token's clock is expected
    hotp_look_ahead: int = 10
    hotp_resync_window: int = 1000
    recovery_count: int = 10
    recovery_max_age_months: int = 12
    temporary_max_hours: int = 12  # the longest a temporary access code may last
    shift_ends: tuple[str, ...] = (
        "06:00",
        "14:00",
        "22:00",
    )  # local times; a temporary code's default expiry
    timezone: str = "UTC"  # the site's zone, for shift ends

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"policy.{f.name} must be a whole number from 0")
        if self.idle_minutes < 1 or self.session_hours < 1 or self.approval_minutes < 1:
            raise ValueError("policy timeouts must be at least 1")
        if self.lockout_base_seconds < 1 or self.lockout_max_seconds < self.lockout_base_seconds:
            raise ValueError("policy.lockout_max_seconds must be at least lockout_base_seconds (>= 1)")
        if self.totp_window > 10 or self.hotp_look_ahead > 100 or not 1 <= self.hotp_resync_window <= 10000:
            raise ValueError(
                "policy code windows are out of range (totp_window <= 10, hotp_look_ahead <= 100,"
                " hotp_resync_window 1..10000)"
            )
        if not 1 <= self.recovery_count <= 20 or not 1 <= self.temporary_max_hours <= 72:
            raise ValueError("policy.recovery_count must be 1..20 and temporary_max_hours 1..72")
        if not self.shift_ends:
            raise ValueError("policy.shift_ends must name at least one time")
        for text in self.shift_ends:
            _parse_hhmm(text)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"policy.timezone {self.timezone!r} is not a known time zone") from exc

    @classmethod
    def from_json(cls, data: object) -> Policy:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("policy must be an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"policy has unknown keys {unknown}")
        values = dict(data)
        if "shift_ends" in values:
            if not isinstance(values["shift_ends"], list):
                raise ValueError("policy.shift_ends must be a list of HH:MM times")
            values["shift_ends"] = tuple(values["shift_ends"])
        return cls(**values)

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["shift_ends"] = list(self.shift_ends)
        return data

    # -- derived values -----------------------------------------------------------------------------

    def lockout_delay(self, failures: int) -> int:
        """Seconds an operator must wait after `failures` failed sign-ins in a row (0: none yet)."""
        if failures < self.lockout_free_attempts:
            return 0
        exponent = min(failures - self.lockout_free_attempts, 30)
        return min(self.lockout_base_seconds * 2**exponent, self.lockout_max_seconds)

    def end_of_shift(self, now: datetime) -> datetime:
        """The next shift end after `now` (in the site's zone), as an aware datetime."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        ends = sorted(_parse_hhmm(t) for t in self.shift_ends)
        for day in (0, 1):
            date = (local + timedelta(days=day)).date()
            for end in ends:
                candidate = datetime.combine(date, end, tzinfo=zone)
                if candidate > local:
                    return candidate
        raise AssertionError("a shift end within two days")  # pragma: no cover - ends is not empty


def _parse_hhmm(text: object) -> time:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError(f"policy.shift_ends: {text!r} is not HH:MM")
    try:
        return time(int(text[:2]), int(text[3:]))
    except ValueError as exc:
        raise ValueError(f"policy.shift_ends: {text!r} is not a time of day") from exc
