"""Station set-up, vault and offline verification, in-process against a real data directory."""

import base64
import hashlib
import json
import sqlite3
from datetime import UTC, datetime

import pyotp
import pytest
from desk_fixtures import at_desk, desk_at, op

from station.clock import fixed_clock
from station.core import init_station, open_readonly, open_station
from station.errors import (
    InputError,
    NotInitialisedError,
    StationError,
    VerificationFailed,
    WrongPassphraseError,
)
from station.issue import IssueRequest, validate
from station.operators.sessions import Session
from station.projection import rebuild, snapshot
from station.vault import Vault
from station.verify import normalise_code, verify_totp

PASS = "correct horse battery"
T0 = datetime(2026, 12, 3, 3, 0, 0, tzinfo=UTC)


@pytest.fixture
def station(tmp_path):
    with at_desk(desk_at(tmp_path / "data", fixed_clock(T0), {"dave": "custodian"})) as desk:
        yield desk.station


def _issue_without_device(station, owner, seed, serial=12345678, algorithm="SHA1", digits=6, period=30):
    """Record an issuance as issue_totp does after the key write, to test verification in-process."""
    record = f"totp/{serial}/test"
    body = {
        "intent_id": "test", "serial": serial, "model": "YubiKey 5 NFC", "firmware": "5.4.3",
        "credential_id": f"Token Station:{owner}", "owner": owner, "custodian": "carol",
        "issuer": "Token Station", "algorithm": algorithm, "digits": digits, "period": period,
        "seed_fingerprint": station.vault.fingerprint(seed), "vault_record": record,
    }
    with station.record() as tx:
        blob = station.vault.seal(record, seed)
        tx.db["vault_records"].insert({"id": record, "blob": blob, "created_at": ""})
        tx.append("token.issue.started", body, actor="carol", at=station.now())
        tx.append("token.issued", body, actor="carol", at=station.now())


def test_vault_refuses_wrong_passphrase_and_moved_records():
    vault, header = Vault.create(PASS)
    assert Vault.unlock(header, PASS).open("a", vault.seal("a", b"seed")) == b"seed"
    with pytest.raises(WrongPassphraseError):
        Vault.unlock(header, "not the passphrase")
    with pytest.raises(WrongPassphraseError):
        vault.open("b", vault.seal("a", b"seed"))  # a blob moved to another record
    with pytest.raises(InputError):
        Vault.create("short")


def test_open_errors_say_what_is_wrong(tmp_path, station):
    with pytest.raises(NotInitialisedError, match="does not exist"):
        open_station(tmp_path / "nowhere", PASS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotInitialisedError, match="not an initialised station"):
        open_station(tmp_path / "empty", PASS)
    with pytest.raises(WrongPassphraseError):
        open_station(station.data_dir, "wrong passphrase")
    with pytest.raises(Exception, match="already holds a station"):
        init_station(station.data_dir, "branch-07", PASS)


def test_secrets_stay_out_of_the_ledger_and_the_config(station):
    seed = b"12345678901234567890"
    _issue_without_device(station, "alice", seed)
    raw = (station.data_dir / "station.db").read_bytes() + (station.data_dir / "station.json").read_bytes()
    for form in (seed, seed.hex().encode(), base64.b32encode(seed), base64.b64encode(seed)):
        assert form not in raw


@pytest.mark.parametrize("algorithm,seed", [
    ("SHA1", b"12345678901234567890"),
    ("SHA256", b"12345678901234567890123456789012"),
    ("SHA512", b"1234567890123456789012345678901234567890123456789012345678901234"),
])
def test_rfc6238_vectors_verify_once(tmp_path, algorithm, seed):
    # RFC 6238 appendix B: T = 1111111109 gives 07081804 (SHA1), 68084774 (SHA256), 25091201 (SHA512).
    expected = {"SHA1": "07081804", "SHA256": "68084774", "SHA512": "25091201"}[algorithm]
    at = datetime.fromtimestamp(1111111109, UTC)
    with at_desk(desk_at(tmp_path / algorithm, fixed_clock(at), {"dave": "custodian"})) as desk:
        s = desk.station
        _issue_without_device(s, "alice", seed, algorithm=algorithm, digits=8)
        result = verify_totp(s, "alice", expected, operator=op("dave"))
        assert result.drift == 0 and result.step == 1111111109 // 30
        with pytest.raises(VerificationFailed, match="already used"):
            verify_totp(s, "alice", expected, operator=op("dave"))
        types = [e.type for e in s.ledger.entries()]
        assert types[-2:] == ["otp.accepted", "otp.rejected"]


def test_window_is_one_step_either_side_and_older_steps_are_refused(station):
    seed = b"\x01" * 20
    _issue_without_device(station, "bob", seed)
    totp = pyotp.TOTP(base64.b32encode(seed).decode(), digest=hashlib.sha1)
    step = int(T0.timestamp()) // 30
    with pytest.raises(VerificationFailed, match="does not match"):
        verify_totp(station, "bob", totp.generate_otp(step + 2), operator=op("dave"))
    assert verify_totp(station, "bob", totp.generate_otp(step + 1), operator=op("dave")).drift == 1
    # The current step is older than the accepted one: a replay window attack, refused.
    with pytest.raises(VerificationFailed, match="already used"):
        verify_totp(station, "bob", totp.generate_otp(step), operator=op("dave"))


def test_malformed_code_is_not_a_wrong_code(station):
    assert normalise_code(" 123 456 ") == "123456"
    for bad in ("12a456", "", "12345", "123456789", "１２３４５６"):
        with pytest.raises(InputError, match="malformed"):
            normalise_code(bad)
    with pytest.raises(VerificationFailed, match="no active"):
        verify_totp(station, "nobody", "123456", operator=op("dave"))


def test_projection_rebuilds_from_the_ledger_alone(station):
    _issue_without_device(station, "alice", b"\x02" * 20)
    totp = pyotp.TOTP(base64.b32encode(b"\x02" * 20).decode())
    verify_totp(station, "alice", totp.generate_otp(int(T0.timestamp()) // 30), operator=op("dave"))
    live = snapshot(station.ledger.db)
    assert live["credentials"][0]["last_step"] == int(T0.timestamp()) // 30
    rebuild(station.ledger.db, list(station.ledger.entries()))
    assert snapshot(station.ledger.db) == live


def test_auditor_verifies_without_the_passphrase_and_sees_tampering(station):
    _issue_without_device(station, "alice", b"\x03" * 20)
    station.close()
    auditor = open_readonly(station.data_dir)
    assert auditor.ledger.verify(auditor.public_keys()).ok
    auditor.close()
    db = sqlite3.connect(station.data_dir / "station.db")
    triggers = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in triggers:
        db.execute(f"DROP TRIGGER {name}")
    issued = db.execute("SELECT max(seq) FROM ledger_entries").fetchone()[0]  # token.issued, naming alice
    entry = db.execute("SELECT entry FROM ledger_entries WHERE seq = ?", [issued]).fetchone()[0]
    assert b"alice" in entry
    db.execute("UPDATE ledger_entries SET entry = ? WHERE seq = ?",
               [entry.replace(b"alice", b"mallo"), issued])
    db.commit()
    db.close()
    auditor = open_readonly(station.data_dir)
    report = auditor.ledger.verify(auditor.public_keys())
    assert not report.ok and report.first_bad_seq == issued


def test_an_emptied_database_is_refused_not_reinitialised(station):
    station.close()
    (station.data_dir / "station.db").write_bytes(b"")
    for opener in (lambda: open_station(station.data_dir, PASS), lambda: open_readonly(station.data_dir)):
        with pytest.raises(StationError, match="holds no ledger"):
            opener()
    assert (station.data_dir / "station.db").read_bytes() == b""  # nothing was created in it


def test_init_refuses_the_remains_of_a_station(station):
    station.close()
    (station.data_dir / "station.json").unlink()
    with pytest.raises(StationError, match="remains of one"):
        init_station(station.data_dir, "branch-07", PASS)


@pytest.mark.parametrize("field,value,says", [
    ("public_key", 12, "public_key must be text"),
    ("sealed_signing_key", "!!!", "not base64"),
    ("key_id", "0000000000000000", "does not match the key id"),
])
def test_a_damaged_config_is_named(station, field, value, says):
    station.close()
    path = station.data_dir / "station.json"
    config = json.loads(path.read_text())
    config[field] = value
    path.write_text(json.dumps(config))
    with pytest.raises(StationError, match=says):
        open_readonly(station.data_dir)


def test_a_deleted_or_altered_vault_record_is_a_clear_error(station):
    _issue_without_device(station, "alice", b"\x04" * 20)
    db = station.ledger.db
    db.execute("UPDATE vault_records SET blob = X'00' WHERE id LIKE 'totp/%'")
    db.conn.commit()
    with pytest.raises(WrongPassphraseError, match="altered or moved"):
        verify_totp(station, "alice", "123456", operator=op("dave"))
    db.execute("DELETE FROM vault_records WHERE id LIKE 'totp/%'")
    db.conn.commit()
    with pytest.raises(StationError, match="has no record"):
        verify_totp(station, "alice", "123456", operator=op("dave"))


@pytest.mark.parametrize("serial", [0, -5, 2**32, 10**30])
def test_serial_out_of_range_is_bad_input(serial):
    with pytest.raises(InputError, match="not a YubiKey serial"):
        validate(IssueRequest(serial, "alice", Session("", "carol", T0)))  # the form check, before sign-in


@pytest.mark.parametrize("site,passphrase,admin", [
    ("br\x1b[31mred", PASS, "admin"), ("x" * 65, PASS, "admin"), ("   ", PASS, "admin"),
    ("branch-07", " " * 12, "admin"), ("branch-07", PASS, ""),
])
def test_init_refuses_bad_site_passphrase_or_admin(tmp_path, site, passphrase, admin):
    with pytest.raises(InputError):
        init_station(tmp_path / "new", site, passphrase, admin=admin)
    assert not (tmp_path / "new" / "station.db").exists()
