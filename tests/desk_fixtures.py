"""A station on an in-process bus of virtual YubiKeys, with signed-in operators and a clock to move.

from desk_fixtures import desk  # noqa: F401  (the fixture)

def test_x(desk):
    key = desk.insert(20000001)                   # a virtual YubiKey 5 NFC in a free reader
    desk.op("carol")                              # carol's session (signed in with PIN and HOTP code)
    desk.approval("sam")                          # sam signs in to approve one four-eyes action
    op("carol"), approval("sam")                  # the same, at the running test's desk
    desk.clock.advance(minutes=5)

Operators sign in for real (station.operators.signin) with test-only HOTP tokens (operator_tokens.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import operator_tokens as ot
import pytest

from drivers.emulator import VirtualYubiKey
from drivers.emulator.bus import VirtualBus
from station.core import Station, init_station
from station.inventory.admin import enrol_operator
from station.operators import sessions
from station.operators.credentials import set_credentials
from station.operators.sessions import NotSignedIn, Session
from station.operators.signin import approve, sign_in

PASS = "correct horse battery"
T0 = datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC)
ADMIN = "root"
OPERATORS = {
    "carol": "custodian",
    "dave": "custodian",
    "sam": "supervisor",
    "audrey": "auditor",
    "hank": "admin,supervisor",
}


class MovableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


def new_station(
    path, clock, bus=None, admin: str = ADMIN, site: str = "branch-07", **kwargs: object
) -> Station:
    """A station whose admin has test credentials (ot.pin / ot.token); kwargs go to init_station."""
    return init_station(
        path,
        site,
        PASS,
        admin=admin,
        admin_pin=ot.pin(admin),
        admin_token=ot.token(admin),
        clock=clock,
        bus=bus or VirtualBus(),
        pin_cost=ot.CHEAP,
        **kwargs,
    )


@dataclass
class Desk:
    station: Station
    bus: VirtualBus
    clock: MovableClock
    codes: ot.Codes = field(default_factory=ot.Codes)
    _sessions: dict[str, Session] = field(default_factory=dict)

    def insert(self, serial: int, firmware: str = "5.4.3", model: str = "yubikey-5-nfc") -> VirtualYubiKey:
        key = VirtualYubiKey.open(serial, firmware, model=model)
        self.bus.insert(key)
        return key

    def only(self, serial: int) -> VirtualYubiKey:
        """Empty every reader, then insert a fresh key with this serial (one key at the desk)."""
        for reader in self.bus.reader_names():
            held = self.bus.key_in(reader)
            if held is not None:
                self.bus.remove(held)
        return self.insert(serial)

    def types(self) -> list[str]:
        return [e.type for e in self.station.ledger.entries()]

    def sign_in(self, operator: str) -> Session:
        return sign_in(self.station, operator, ot.pin(operator), self.codes.next(operator))

    def op(self, operator: str) -> Session:
        """The operator's live session: the one from before, or a new sign-in if it ended or timed out."""
        held = self._sessions.get(operator)
        if held is not None:
            try:
                with self.station.record() as tx:
                    sessions.check(tx.db, held, self.station.now(), touch=False)
                return held
            except NotSignedIn:
                pass
        self._sessions[operator] = self.sign_in(operator)
        return self._sessions[operator]

    def approval(self, operator: str) -> Session:
        """A fresh approval by `operator` (a sign-in for one four-eyes action)."""
        return approve(self.station, operator, ot.pin(operator), self.codes.next(operator))


def enrol_all(station: Station, admin: Session, operators: dict[str, str] = OPERATORS) -> None:
    for op, roles in operators.items():
        enrol_operator(station, op, roles, operator=admin)
        set_credentials(station, op, pin=ot.pin(op), token=ot.token(op), operator=admin, cost=ot.CHEAP)


def desk_at(
    path, clock, operators: dict[str, str] = OPERATORS, bus: VirtualBus | None = None, **kwargs: object
) -> Desk:
    """A new station at `path` on this clock, with these operators enrolled (and the admin root)."""
    bus = bus or VirtualBus()
    desk = Desk(new_station(path, clock, bus, **kwargs), bus, clock)
    enrol_all(desk.station, desk.op(ADMIN), operators)
    return desk


def make_desk(path, readers: int = 4) -> Desk:
    clock = MovableClock(T0)
    bus = VirtualBus(readers=readers)
    desk = Desk(new_station(path, clock, bus), bus, clock)
    enrol_all(desk.station, desk.op(ADMIN))
    return desk


CURRENT: list[Desk] = []


def op(operator: str) -> Session:
    """The operator's session at the desk of the running test (see Desk.op)."""
    return CURRENT[-1].op(operator)


def approval(operator: str) -> Session:
    """A fresh approval by `operator` at the desk of the running test (see Desk.approval)."""
    return CURRENT[-1].approval(operator)


@contextmanager
def at_desk(desk: Desk) -> Iterator[Desk]:
    """Make `desk` the running test's desk (for op/approval) and close its station afterwards."""
    CURRENT.append(desk)
    try:
        yield desk
    finally:
        CURRENT.remove(desk)
        desk.station.close()


@pytest.fixture
def desk(tmp_path):
    d = make_desk(tmp_path / "station")
    CURRENT.append(d)
    yield d
    CURRENT.remove(d)
    d.station.close()
