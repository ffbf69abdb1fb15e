"""A key whose OATH applet has a password is refused by `station issue`, and nothing is recorded.

YKOATH has no retry counter: a "locked" OATH applet is one with an access password, however many
wrong passwords were tried. The password is set with the real ykman, as a holder would.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PASS = "correct horse battery"
STATION = Path(sys.executable).parent / "station"
SERIAL = 31337201


def run(data: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("STATION_PASSPHRASE", "STATION_DATA")}
    env["STATION_PASSPHRASE"] = PASS
    return subprocess.run([str(STATION), "--data", str(data), *args], capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL)


def ledger_rows(data: Path) -> list[tuple]:
    with sqlite3.connect(data / "station.db") as db:
        return db.execute("SELECT seq, entry FROM ledger_entries ORDER BY seq").fetchall()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "station"
    result = run(data, "init", "--site", "branch-07")
    assert result.returncode == 0, result.stderr
    # The custodian handing out tokens is an enrolled operator (the admin comes from init).
    enrolled = run(data, "operator", "add", "carol", "--role", "custodian", "--operator", "admin")
    assert enrolled.returncode == 0, enrolled.stderr
    return data


def test_issue_refused_while_oath_has_a_password(data, virtual_key, ykman, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # ykman's remembered-password store stays ours
    key = virtual_key(SERIAL)
    set_pw = ykman(key.reader, "oath", "access", "change", "-n", "holder-secret")
    assert set_pw.returncode == 0, set_pw.stderr
    for _ in range(3):  # wrong passwords never block the applet (no retry counter)
        assert ykman(key.reader, "oath", "accounts", "list", "-p", "guess").returncode != 0
    before = ledger_rows(data)

    result = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "has an OATH access password set" in result.stderr and "hint:" in result.stderr
    assert ledger_rows(data) == before
    listed = ykman(key.reader, "oath", "accounts", "list", "-p", "holder-secret")
    assert listed.returncode == 0 and listed.stdout == ""

    # With the password removed the same issue goes through.
    cleared = ykman(key.reader, "oath", "access", "change", "-p", "holder-secret", "-c")
    assert cleared.returncode == 0, cleared.stderr
    issued = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
    assert issued.returncode == 0, issued.stderr
