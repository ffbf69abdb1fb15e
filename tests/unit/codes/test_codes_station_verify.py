"""`station verify` on the codes core: the drift it learns is kept in the projection, rebuildable."""

import base64
import sqlite3
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from desk_fixtures import desk_at

from station.clock import fixed_clock
from station.core import open_station
from station.errors import VerificationFailed
from station.projection import rebuild, snapshot
from station.verify import verify_totp

PASS = "correct horse battery"
T0 = datetime(2026, 12, 3, 3, 0, 0, tzinfo=UTC)
SEED = b"\x07" * 20
TOTP = pyotp.TOTP(base64.b32encode(SEED).decode())


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _issue(station, owner="alice", serial=12345678):
    record = f"totp/{serial}/test"
    body = {
        "intent_id": "test", "serial": serial, "model": "YubiKey 5 NFC", "firmware": "5.4.3",
        "credential_id": f"Token Station:{owner}", "owner": owner, "custodian": "carol",
        "issuer": "Token Station", "algorithm": "SHA1", "digits": 6, "period": 30,
        "seed_fingerprint": station.vault.fingerprint(SEED), "vault_record": record,
    }
    with station.record() as tx:
        blob = station.vault.seal(record, SEED)
        tx.db["vault_records"].insert({"id": record, "blob": blob, "created_at": ""})
        tx.append("token.issue.started", body, actor="carol", at=station.now())
        tx.append("token.issued", body, actor="carol", at=station.now())


def step(at: datetime) -> int:
    return int(at.timestamp()) // 30


def test_the_learned_drift_moves_the_window_and_survives_a_rebuild(tmp_path):
    clock = Clock(T0)
    desk = desk_at(tmp_path / "data", clock, {"dave": "custodian"})
    station = desk.station
    _issue(station)
    first = verify_totp(station, "alice", TOTP.generate_otp(step(T0) + 1), operator=desk.op("dave"))
    assert (first.step, first.drift) == (step(T0) + 1, 1)
    clock.at = T0 + timedelta(minutes=10)
    now = step(clock.at)
    second = verify_totp(station, "alice", TOTP.generate_otp(now + 2), operator=desk.op("dave"))
    assert (second.step, second.drift) == (now + 2, 2)
    with pytest.raises(VerificationFailed, match="already used"):
        verify_totp(station, "alice", TOTP.generate_otp(now + 1), operator=desk.op("dave"))
    rejected = list(station.ledger.entries())[-1]
    assert rejected.type == "otp.rejected" and rejected.body["reason"] == "older code"
    live = snapshot(station.ledger.db)
    assert (live["credentials"][0]["last_step"], live["credentials"][0]["drift"]) == (now + 2, 2)
    rebuild(station.ledger.db, list(station.ledger.entries()))
    assert snapshot(station.ledger.db) == live
    station.close()


def test_a_station_from_before_the_drift_column_is_rebuilt_at_open(tmp_path):
    desk = desk_at(tmp_path / "data", fixed_clock(T0), {"dave": "custodian"})
    station = desk.station
    _issue(station)
    verify_totp(station, "alice", TOTP.generate_otp(step(T0) - 1), operator=desk.op("dave"))
    expected = snapshot(station.ledger.db)
    station.close()
    db = sqlite3.connect(tmp_path / "data" / "station.db")
    # What a station of projection layout 2 (before the drift column) holds.
    db.execute("ALTER TABLE credentials DROP COLUMN drift")
    db.execute("UPDATE projection_meta SET version = 2")
    db.commit()
    db.close()
    reopened = open_station(tmp_path / "data", PASS, clock=fixed_clock(T0 + timedelta(minutes=1)))
    assert snapshot(reopened.ledger.db) == expected
    assert expected["credentials"][0]["drift"] == -1
    desk.station = reopened  # dave's session (a row of the station's database) carries over
    result = verify_totp(reopened, "alice", TOTP.generate_otp(step(T0) + 1), operator=desk.op("dave"))
    assert result.drift == -1  # two steps ahead of T0 is one behind T0 + 1 min
    reopened.close()
