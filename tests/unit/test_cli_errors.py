"""The `station` command never shows a traceback: bad input gets a message, a hint and an exit code."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STATION = Path(sys.executable).parent / "station"


def run(*args: str, passphrase: str = "correct horse battery") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    env["STATION_PASSPHRASE"] = passphrase
    return subprocess.run([str(STATION), *args], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def data(tmp_path):
    assert run("--data", str(tmp_path / "s"), "init", "--site", "branch-07").returncode == 0
    return tmp_path / "s"


def test_data_dir_that_is_a_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x")
    result = run("--data", str(target), "init", "--site", "b")
    assert result.returncode == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr


def test_bad_limit_and_serial_are_usage_errors(data):
    assert run("--data", str(data), "ledger", "show", "--limit", "-1").returncode == 2
    huge = run("--data", str(data), "issue", "--serial", "9" * 30, "--owner", "a", "--custodian", "b")
    assert huge.returncode == 2 and "not a YubiKey serial" in huge.stderr


def test_json_flag_before_or_after_the_verb_and_json_errors(data):
    for args in (["--json", "--data", str(data), "ledger", "verify"],
                 ["ledger", "verify", "--data", str(data), "--json"]):
        result = run(*args)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["ok"] is True
    rejected = run("--data", str(data), "verify", "--json", "--owner", "nobody", "--code", "123456")
    assert rejected.returncode == 3
    assert json.loads(rejected.stdout) == {
        "ok": False, "exit_code": 3, "error": "nobody has no active TOTP token at this station.",
        "hint": "Check the owner id, or issue a token first."}


def test_wrong_passphrase_changes_nothing(data):
    before = (data / "station.db").read_bytes()
    result = run("--data", str(data), "verify", "--owner", "a", "--code", "123456", passphrase="nope nope")
    assert result.returncode == 1 and "does not open" in result.stderr and "hint:" in result.stderr
    assert (data / "station.db").read_bytes() == before
