"""The station's side of the Merkle ledger: origin, upgrade of stations from before it, key rotation
with its sealed key, head office as a witness, cosignatures, and the CLI verbs."""

import base64
import hashlib
import json
import shutil
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from desk_fixtures import desk_at
from station_cli import StationCli

from ledger.canonical import canonical_bytes
from ledger.keys import key_id, private_key_from_bytes
from ledger.note import parse_note
from station import ledger_ops
from station.clock import fixed_clock
from station.core import SIGNING_KEY_RECORD, init_station, open_readonly, open_station
from station.datadir import config_path, default_origin
from station.errors import InputError, StationError, VerificationFailed
from station.witness import witness

PASS = "correct horse battery"
T0 = datetime(2026, 12, 3, 3, 0, 0, tzinfo=UTC)
STATION = Path(sys.executable).parent / "station"


def ticking(start=T0):
    now = [start]

    def clock():
        now[0] += timedelta(seconds=1)
        return now[0]

    return clock


ROLES = {"carol": "admin", "ho": "auditor"}


@pytest.fixture
def branch(tmp_path):
    desk = desk_at(
        tmp_path / "branch",
        ticking(),
        {"carol": "admin"},
        site="Branch 07",
        origin="tokens.example.org/branch-07",
    )
    s = desk.station
    s.desk = desk
    s.initial = s.ledger.size()  # the station's own first entries: genesis, admins, break-glass
    for i in range(3):
        s.append("token.note", {"i": i}, actor="carol")
    yield s
    s.close()


@pytest.fixture
def head_office(tmp_path):
    desk = desk_at(
        tmp_path / "ho",
        ticking(T0 + timedelta(days=1)),
        {"ho": "auditor"},
        site="Head Office",
        origin="tokens.example.org/head-office",
    )
    s = desk.station
    s.desk = desk
    yield s
    s.close()


def who(station, operator):
    return station.desk.op(operator)


def test_origin_is_set_at_init_with_a_default_from_the_site(tmp_path, branch):
    assert branch.ledger.origin == branch.config.origin == "tokens.example.org/branch-07"
    assert branch.ledger.checkpoint().startswith(f"tokens.example.org/branch-07\n{branch.initial + 3}\n")
    assert default_origin("Branch 07 (Zürich)") == "token-station.invalid/branch-07-zurich"
    other = init_station(tmp_path / "b2", "Branch 08", PASS, clock=ticking())
    assert other.ledger.origin == "token-station.invalid/branch-08"
    with pytest.raises(InputError, match="cannot name a log"):
        init_station(tmp_path / "b3", "Branch 09", PASS, origin="has space/x")


def test_a_station_from_before_the_merkle_ledger_is_upgraded_on_open(tmp_path):
    old = init_station(tmp_path / "old", "Branch 07", PASS, clock=fixed_clock(T0))
    signer = private_key_from_bytes(old.vault.open(SIGNING_KEY_RECORD, old.config.sealed_key_bytes()))
    old.close()
    # Make it what a station looked like before: v1 entries signed one by one, no origin.
    db = tmp_path / "old" / "station.db"
    conn = sqlite3.connect(db)
    for table in (
        "ledger_state",
        "ledger_tree",
        "ledger_checkpoints",
        "ledger_log_keys",
        "ledger_signers",
        "ledger_witnesses",
    ):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("DROP TRIGGER ledger_entries_no_delete")
    conn.execute("DELETE FROM ledger_entries")
    prev = "0" * 64
    for i in range(2):
        raw = canonical_bytes(
            {
                "v": 1,
                "seq": i,
                "at": f"2026-12-0{i + 1}T03:00:00.000000Z",
                "type": "a.b",
                "actor": "admin",
                "body": {"i": i},
                "prev": prev,
            }
        )
        prev = hashlib.sha256(raw).hexdigest()
        conn.execute(
            "INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?)",
            (i, raw, prev, signer.sign(raw), key_id(signer)),
        )
    conn.commit()
    conn.close()
    config = json.loads(config_path(tmp_path / "old").read_text())
    del config["origin"]
    config_path(tmp_path / "old").write_text(json.dumps(config))
    auditor = open_readonly(tmp_path / "old")
    report = ledger_ops.verify(auditor)
    assert report.ok and "predates signed checkpoints" in report.notes[0]
    auditor.close()
    station = open_station(tmp_path / "old", PASS, clock=fixed_clock(T0 + timedelta(days=1)))
    head = station.ledger.head()
    assert (head.seq, head.type, head.body["v1_entries"]) == (2, "ledger.upgraded", 2)
    assert station.config.origin == "token-station.invalid/branch-07"
    assert json.loads(config_path(tmp_path / "old").read_text())["origin"] == station.config.origin
    station.append("a.c", {}, actor="admin")
    assert ledger_ops.verify(station).ok
    station.close()


def test_key_rotation_keeps_the_new_key_sealed_and_survives_a_crash(branch):
    old_config = config_path(branch.data_dir).read_text()
    rotation = ledger_ops.rotate_key(branch, operator=who(branch, "root"))
    assert rotation.entry.type == "ledger.key_rotated" and rotation.new_key != rotation.old_key
    assert ledger_ops.verifier_key(branch) == rotation.new_key
    branch.append("token.note", {"after": True}, actor="carol")
    data_dir = branch.data_dir
    branch.close()
    # A crash between the ledger's commit and the config write leaves station.json naming the old key.
    config_path(data_dir).write_text(old_config)
    reopened = open_station(data_dir, PASS, clock=ticking(T0 + timedelta(days=2)))
    assert reopened.config.key_id == key_id(reopened.ledger.public_key)
    reopened.append("token.note", {"reopened": True}, actor="carol")
    assert ledger_ops.verify(reopened).ok
    assert ledger_ops.verify(reopened, keys=[rotation.old_key]).ok  # the old key vouched for the new
    reopened.close()


def test_witness_cosigns_and_the_branch_stores_it(branch, head_office, tmp_path):
    ledger_ops.export(branch, tmp_path / "b1")
    with pytest.raises(InputError, match="has not witnessed"):
        witness(head_office, tmp_path / "b1", log_key=None, operator=who(head_office, "ho"))
    result = witness(
        head_office, tmp_path / "b1", log_key=ledger_ops.verifier_key(branch), operator=who(head_office, "ho")
    )
    assert result.size == branch.initial + 3 and result.line.startswith(
        "\u2014 tokens.example.org/head-office/witness "
    )
    assert len(parse_note(result.cosigned).signatures) == 2
    entry = ledger_ops.cosign_add(
        branch, result.cosigned, witness_key=result.witness_key, operator=who(branch, "carol")
    )
    assert entry.type == "ledger.cosigned" and entry.body["size"] == branch.initial + 3
    assert ledger_ops.checkpoint(branch, cosigned=True) == result.cosigned
    # The branch goes on; head office witnesses again without being told the key.
    branch.append("token.note", {"i": 9}, actor="carol")
    ledger_ops.rotate_key(branch, operator=who(branch, "root"))
    ledger_ops.export(branch, tmp_path / "b2")
    second = witness(head_office, tmp_path / "b2", log_key=None, operator=who(head_office, "ho"))
    ledger_ops.cosign_add(
        branch, second.line, witness_key=None, operator=who(branch, "carol")
    )  # a bare line will do
    report = ledger_ops.verify(branch)
    assert report.ok, report
    assert ledger_ops.verify(None, bundle=tmp_path / "b2", keys=[ledger_ops.verifier_key(branch)]).ok


def test_witness_refuses_a_rolled_back_or_forked_branch(branch, head_office, tmp_path):
    backup = tmp_path / "backup.db"
    with sqlite3.connect(backup) as copy:
        branch.ledger.db.conn.backup(copy)
    branch.append("token.note", {"i": 3}, actor="carol")
    ledger_ops.export(branch, tmp_path / "seen")
    witness(
        head_office,
        tmp_path / "seen",
        log_key=ledger_ops.verifier_key(branch),
        operator=who(head_office, "ho"),
    )
    data_dir = branch.data_dir
    branch.close()
    for suffix in ("-wal", "-shm"):
        (data_dir / f"station.db{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, data_dir / "station.db")  # the branch "restores" an older database
    restored = open_station(data_dir, PASS, clock=ticking(T0 + timedelta(days=3)))
    ledger_ops.export(restored, tmp_path / "rolled-back")
    with pytest.raises(VerificationFailed, match="truncated"):
        witness(head_office, tmp_path / "rolled-back", log_key=None, operator=who(head_office, "ho"))
    restored.append("token.note", {"i": 4}, actor="carol")  # a different entry 4: a fork
    ledger_ops.export(restored, tmp_path / "forked")
    with pytest.raises(VerificationFailed, match="forked"):
        witness(head_office, tmp_path / "forked", log_key=None, operator=who(head_office, "ho"))
    restored.close()


def test_cosign_add_refuses_a_cosignature_on_another_history(branch, head_office, tmp_path):
    other = init_station(
        tmp_path / "twin", "Branch 07", PASS, origin="tokens.example.org/branch-07", clock=ticking()
    )
    for i in range(3):
        other.append("token.note", {"twin": i}, actor="mallory")
    ledger_ops.export(other, tmp_path / "twin-bundle")
    cosigned = witness(
        head_office,
        tmp_path / "twin-bundle",
        log_key=ledger_ops.verifier_key(other),
        operator=who(head_office, "ho"),
    )
    with pytest.raises(StationError):
        ledger_ops.cosign_add(
            branch, cosigned.cosigned, witness_key=cosigned.witness_key, operator=who(branch, "carol")
        )
    other.close()


def test_cli_ledger_verbs(tmp_path):
    data = tmp_path / "s"
    cli = StationCli(data, tmp_path)

    def run(*args, data=None, as_=None):
        return cli.run(*map(str, args), data=data or tmp_path / "none", as_=as_)

    created = cli.init("--origin", "tokens.example.org/branch-07", site="Branch 07")
    assert created.returncode == 0, created.stderr
    key = run("ledger", "key", data=data).stdout.strip()
    assert key.startswith("tokens.example.org/branch-07+") and key in created.stdout
    size = len(json.loads(run("ledger", "show", "--json", data=data).stdout))  # init is one transaction
    checkpoint = run("ledger", "checkpoint", data=data).stdout
    assert checkpoint.startswith(f"tokens.example.org/branch-07\n{size}\n") and checkpoint.endswith("\n")
    proof = run("ledger", "prove", "--index", "0", data=data)
    assert proof.returncode == 0 and proof.stdout.startswith("c2sp.org/tlog-proof@v1\nindex 0\n")
    assert run("ledger", "consistency", "--old", "1", data=data).returncode == 0
    assert run("ledger", "export", tmp_path / "bundle", data=data).returncode == 0
    ok = run("ledger", "verify", "--bundle", tmp_path / "bundle", "--key", key, "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    (tmp_path / "trusted").write_text(checkpoint)
    assert run("ledger", "verify", "--trusted", tmp_path / "trusted", data=data).returncode == 0
    entries = tmp_path / f"bundle/tile/entries/000.p/{size}"
    entries.write_bytes(entries.read_bytes().replace(b"Branch 07", b"Branch 08"))
    damaged = run("ledger", "verify", "--bundle", tmp_path / "bundle", "--key", key)
    assert damaged.returncode == 3 and "LEDGER DAMAGED (modified)" in damaged.stdout
    bad = run("ledger", "verify", "--bundle", tmp_path / "bundle", "--key", "not-a-key")
    assert bad.returncode == 2 and "not a verifier key" in bad.stderr
    refused = run("ledger", "rotate-key", data=data)  # nobody signed in: refused, nothing changed
    assert refused.returncode == 2 and "No operator id" in refused.stderr
    rotated = run("ledger", "rotate-key", data=data, as_="admin")
    assert rotated.returncode == 0 and run("ledger", "key", data=data).stdout.strip() != key
    assert run("ledger", "verify", "--key", key, data=data).returncode == 0
    assert base64.b64decode(checkpoint.split("\n")[2])
