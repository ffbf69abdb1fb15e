"""A key whose OATH applet has a password is refused by `station issue`, and nothing is recorded.

YKOATH has no retry counter: a "locked" OATH applet is one with an access password, however many
wrong passwords were tried. The password is set with the real ykman, as a holder would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from station_cli import StationCli, action_rows

PASS = "correct horse battery"
STATION = Path(sys.executable).parent / "station"
SERIAL = 31337201


CLI: list[StationCli] = []


def run(data: Path, *args: str, as_: str | None = None) -> subprocess.CompletedProcess:
    """The station CLI; `--custodian carol` (or as_) signs carol in with her test token, as a script would."""
    who = as_ or (args[args.index("--custodian") + 1] if "--custodian" in args else None)
    return CLI[-1].run(*args, as_=who, data=data)


def ledger_rows(data: Path) -> list[tuple]:
    return action_rows(data)  # a refused issue leaves everything but the custodian's sign-in as it was


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "station"
    cli = StationCli(data, tmp_path)
    CLI.append(cli)
    result = cli.init()
    assert result.returncode == 0, result.stderr
    # The custodian handing out tokens is an enrolled operator with her own (test) token.
    cli.add_operator("carol", "custodian")
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
