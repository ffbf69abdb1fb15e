"""A station on an in-process bus of virtual YubiKeys, with enrolled operators and a clock to move.

from desk_fixtures import desk  # noqa: F401  (the fixture)

def test_x(desk):
    key = desk.insert(20000001)                   # a virtual YubiKey 5 NFC in a free reader
    desk.clock.advance(minutes=5)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from drivers.emulator import VirtualYubiKey
from drivers.emulator.bus import VirtualBus
from station.core import Station, init_station
from station.inventory.admin import enrol_operator

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


@dataclass
class Desk:
    station: Station
    bus: VirtualBus
    clock: MovableClock

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


def make_desk(path, readers: int = 4) -> Desk:
    clock = MovableClock(T0)
    bus = VirtualBus(readers=readers)
    station = init_station(path, "branch-07", PASS, admin=ADMIN, clock=clock, bus=bus)
    for op, roles in OPERATORS.items():
        enrol_operator(station, op, roles, operator=ADMIN)
    return Desk(station, bus, clock)


@pytest.fixture
def desk(tmp_path):
    d = make_desk(tmp_path / "station")
    yield d
    d.station.close()
