"""Issue a TOTP credential with `station`, read it with the real ykman, verify it, tamper the ledger.

Everything runs over the real stack: the `station` console script, pcscd, vpcd and a virtual key
in its own process, and Yubico's ykman CLI as the independent reader of the key.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import operator_tokens as ot
import pytest
from station_cli import StationCli, action_rows

PASS = "correct horse battery"
SERIAL = 31337001
CLI: list[StationCli] = []
# Verbs that change something: carol (the custodian) signs in for them, with her test token.
ACTING = {"issue", "verify", "reconcile"}


def run(data: Path, *args: str, passphrase: str | None = PASS) -> subprocess.CompletedProcess:
    who = "carol" if args and args[0] in ACTING else None
    return CLI[-1].run(*args, as_=who, passphrase=passphrase, data=data)


@pytest.fixture
def data(tmp_path):
    data = tmp_path / "station"
    cli = StationCli(data, tmp_path)
    CLI.append(cli)
    result = cli.init()
    assert result.returncode == 0, result.stderr
    # The custodian handing out tokens is an enrolled operator with her own (test) token.
    cli.add_operator("carol", "custodian")
    return data


def ledger_rows(data: Path) -> list[tuple]:
    return action_rows(data)  # a refused action leaves everything but the operator's sign-in as it was


def ykman_code(ykman, reader: str, name: str) -> str:
    out = ykman(reader, "oath", "accounts", "code", "--single", name)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_issue_read_with_ykman_verify_once_then_tamper(data, virtual_key, ykman):
    key = virtual_key(SERIAL)
    result = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
    assert result.returncode == 0, result.stderr
    assert "Token Station:alice" in result.stdout

    listed = ykman(key.reader, "oath", "accounts", "list")
    assert listed.stdout.split() == ["Token", "Station:alice"]

    code = ykman_code(ykman, key.reader, "Token Station:alice")
    accepted = run(data, "verify", "--owner", "alice", "--code", code)
    assert accepted.returncode == 0, accepted.stderr
    replay = run(data, "verify", "--owner", "alice", "--code", code)
    assert replay.returncode == 3 and "already used" in replay.stderr

    shown = run(data, "ledger", "show", "--json")
    types = [e["type"] for e in json.loads(shown.stdout)
             if not e["type"].startswith(("operator.", "ledger."))]
    assert types == ["station.initialised", "token.received", "token.issue.started", "token.issued",
                     "otp.accepted", "otp.rejected"]
    # The seed never reaches the ledger: not in any form the operator could see.
    issued = [e for e in json.loads(shown.stdout) if e["type"] == "token.issued"][0]
    assert set(issued["body"]) >= {"serial", "firmware", "credential_id", "owner", "custodian",
                                   "seed_fingerprint"}
    assert "seed" not in issued["body"] and "secret" not in issued["body"]

    ok = run(data, "ledger", "verify", passphrase=None)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    db = sqlite3.connect(data / "station.db")
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")  # an attacker with the file can drop our guard rails
    seq, entry = db.execute("SELECT seq, entry FROM ledger_entries WHERE seq = ?", [issued["seq"]]).fetchone()
    changed = bytearray(entry)
    changed[changed.index(b"alice")] ^= 0x01  # one byte: "alice" becomes "`lice"
    db.execute("UPDATE ledger_entries SET entry = ? WHERE seq = ?", [bytes(changed), seq])
    db.commit()
    db.close()
    bad = run(data, "ledger", "verify", passphrase=None)
    assert bad.returncode == 3
    assert f"entry {seq}:" in bad.stdout, bad.stdout


def test_sha256_eight_digits_sixty_seconds(data, virtual_key, ykman):
    key = virtual_key(SERIAL)
    result = run(data, "issue", "--serial", str(SERIAL), "--owner", "bob", "--custodian", "carol",
                 "--digits", "8", "--period", "60", "--algorithm", "SHA256", "--issuer", "ACME")
    assert result.returncode == 0, result.stderr
    code = ykman_code(ykman, key.reader, "ACME:bob")
    assert len(code) == 8
    assert run(data, "verify", "--owner", "bob", "--code", code).returncode == 0


def test_bad_input_is_refused_and_changes_nothing(tmp_path, data, virtual_key, ykman):
    key = virtual_key(SERIAL)
    before = ledger_rows(data)

    def refused(*args: str, code: int, says: str, passphrase: str | None = PASS) -> None:
        result = run(data, *args, passphrase=passphrase)
        assert result.returncode == code, result.stdout + result.stderr
        assert says in result.stderr and "hint:" in result.stderr, result.stderr

    issue = ("issue", "--serial", str(SERIAL), "--custodian", "carol")
    refused(*issue, "--owner", "   ", code=2, says="owner is empty")
    refused(*issue, "--owner", "x" * 60, code=2, says="a YubiKey allows 64")
    refused("issue", "--serial", "999", "--owner", "alice", "--custodian", "carol", code=1,
            says="No YubiKey with serial 999")
    refused(*issue, "--owner", "alice", code=1, says="does not open", passphrase="wrong passphrase")
    missing = run(tmp_path / "nowhere", *issue, "--owner", "alice")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run(tmp_path / "empty", *issue, "--owner", "alice")
    assert empty.returncode == 1 and "not an initialised station" in empty.stderr
    refused("verify", "--owner", "alice", "--code", "12x456", code=2, says="malformed")
    assert ledger_rows(data) == before
    assert ykman(key.reader, "oath", "accounts", "list").stdout == ""

    # A duplicate name is refused before anything is written (the applet would overwrite silently).
    assert run(data, *issue, "--owner", "alice").returncode == 0
    after_first = ledger_rows(data)
    refused(*issue, "--owner", "alice", code=1, says="already holds a credential")
    assert ledger_rows(data) == after_first


@pytest.mark.parametrize("firmware,capacity", [("5.4.3", 32), ("5.7.1", 64)])
def test_full_key_is_refused(tmp_path, data, virtual_key, ykman, firmware, capacity):
    key = virtual_key(SERIAL, firmware=firmware, extra_args=["--oath-full"])  # a full key, on demand
    assert len(ykman(key.reader, "oath", "accounts", "list").stdout.split()) == capacity
    before = ledger_rows(data)
    result = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
    assert result.returncode == 1 and f"is full ({capacity} of {capacity}" in result.stderr
    assert ledger_rows(data) == before


def test_key_removed_before_and_during_the_write(tmp_path, data, virtual_key, ykman):
    key = virtual_key(SERIAL)
    key.stop()
    gone = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
    assert gone.returncode == 1 and f"No YubiKey with serial {SERIAL}" in gone.stderr

    # Pulled when the OATH PUT (INS 0x01) arrives: the key never applies the half-sent command.
    key = virtual_key(SERIAL, state=key.state_path, extra_args=["--pull-on-ins", "01"])
    pulled = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
    assert pulled.returncode == 1, pulled.stderr
    assert "removed while the credential was being written" in pulled.stderr
    key.wait_removed()
    shown = json.loads(run(data, "ledger", "show", "--json").stdout)
    assert shown[-1]["type"] == "token.issue.started"  # the outcome is unknown until the key is back
    waiting = run(data, "reconcile").stdout  # key absent: the intent stays open, and says so
    assert f"key {SERIAL}: a write interrupted at" in waiting and "insert that key" in waiting

    key = virtual_key(SERIAL, state=key.state_path)  # re-inserted: the station asks the key
    assert ykman(key.reader, "oath", "accounts", "list").stdout == ""
    settled = run(data, "reconcile")
    assert settled.returncode == 0 and "had not completed; recorded as failed" in settled.stdout
    shown = json.loads(run(data, "ledger", "show", "--json").stdout)
    assert shown[-1]["type"] == "token.issue.failed" and shown[-1]["body"]["reason"] == "interrupted"
    assert run(data, "ledger", "verify", passphrase=None).returncode == 0
    retry = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
    assert retry.returncode == 0, retry.stderr


def test_devices_lists_two_keys(data, virtual_key):
    virtual_key(SERIAL)
    virtual_key(SERIAL + 1, firmware="5.7.1", port=35964)
    result = run(data, "devices", "--json", passphrase=None)
    assert result.returncode == 0, result.stderr
    keys = {k["serial"]: k for k in json.loads(result.stdout)}
    assert keys[SERIAL]["firmware"] == "5.4.3" and keys[SERIAL + 1]["firmware"] == "5.7.1"
    assert keys[SERIAL]["reader"] == "Virtual PCD 00 00"
    assert "OATH" in keys[SERIAL]["enabled"] and keys[SERIAL]["oath_credentials"] == 0
    assert keys[SERIAL]["model"] == "YubiKey 5 NFC"


def test_reconcile_records_a_write_that_completed_before_a_crash(data, virtual_key, ykman):
    """The station died after the key took the PUT but before the outcome was recorded."""
    from drivers.oath import TotpSpec, open_oath
    from station.core import open_station
    from station.operators.signin import sign_in

    key = virtual_key(SERIAL)
    station = open_station(data, PASS)
    carol = sign_in(station, "carol", ot.pin("carol"), CLI[-1].code("carol"))
    seed = bytes(range(20))
    record = f"totp/{SERIAL}/crashed"
    body = {"intent_id": "crashed", "serial": SERIAL, "model": "YubiKey 5 NFC", "firmware": "5.4.3",
            "credential_id": "Token Station:erin", "owner": "erin", "custodian": "carol",
            "issuer": "Token Station", "algorithm": "SHA1", "digits": 6, "period": 30,
            "seed_fingerprint": station.vault.fingerprint(seed), "vault_record": record}
    with station.record() as tx:  # what issue_totp commits before it talks to the key
        tx.db["vault_records"].insert({"id": record, "blob": station.vault.seal(record, seed),
                                       "created_at": ""})
        tx.append("token.issue.started", body, actor=carol.operator, at=station.now())
    with open_oath(SERIAL) as oath:  # the write reaches the key; then the "crash"
        oath.put_totp(TotpSpec("Token Station", "erin", seed))
    station.close()

    settled = run(data, "reconcile")
    assert "write had completed; issuance recorded" in settled.stdout, settled.stdout + settled.stderr
    code = ykman_code(ykman, key.reader, "Token Station:erin")
    assert run(data, "verify", "--owner", "erin", "--code", code).returncode == 0


def test_a_key_held_by_another_program_is_reported_busy(data, virtual_key):
    from smartcard.CardConnection import CardConnection
    from smartcard.scard import SCARD_SHARE_EXCLUSIVE
    from smartcard.System import readers

    key = virtual_key(SERIAL)
    reader = next(r for r in readers() if str(r) == key.reader)
    held = reader.createConnection()
    held.connect(CardConnection.T1_protocol, mode=SCARD_SHARE_EXCLUSIVE)  # another program holds it
    try:
        before = ledger_rows(data)
        result = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
        assert result.returncode == 1 and "busy: another program is using it" in result.stderr
        assert ledger_rows(data) == before
    finally:
        held.disconnect()
        held.release()
    assert run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol"
               ).returncode == 0
