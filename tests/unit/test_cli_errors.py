"""The `station` command never shows a traceback: bad input gets a message, a hint and an exit code."""

import json

import pytest
from station_cli import StationCli

CLI: list[StationCli] = []


def run(*args: str, passphrase: str = "correct horse battery", as_: str | None = None):
    return CLI[-1].run(*args, passphrase=passphrase, as_=as_, data=None)


@pytest.fixture
def data(tmp_path):
    cli = StationCli(tmp_path / "s", tmp_path)
    CLI.append(cli)
    assert cli.init().returncode == 0
    cli.add_operator("carol", "custodian")
    yield tmp_path / "s"
    CLI.remove(cli)


def test_data_dir_that_is_a_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x")
    result = StationCli(target, tmp_path).init(site="b")
    assert result.returncode == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr


def test_bad_limit_and_serial_are_usage_errors(data):
    assert run("ledger", "show", "--limit", "-1").returncode == 2
    huge = run("issue", "--serial", "9" * 30, "--owner", "a", "--custodian", "b")
    assert huge.returncode == 2 and "not a YubiKey serial" in huge.stderr


def test_json_flag_before_or_after_the_verb_and_json_errors(data):
    for args in (["--json", "ledger", "verify"], ["ledger", "verify", "--data", str(data), "--json"]):
        result = run(*args)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["ok"] is True
    rejected = run("verify", "--json", "--owner", "nobody", "--code", "123456", as_="carol")
    assert rejected.returncode == 3
    assert json.loads(rejected.stdout) == {
        "ok": False,
        "exit_code": 3,
        "error": "nobody has no active OATH token at this station.",
        "hint": "Check the owner id, or issue a token first.",
    }


def test_wrong_passphrase_changes_nothing(data):
    before = (data / "station.db").read_bytes()
    result = run("verify", "--owner", "a", "--code", "123456", passphrase="nope nope", as_="carol")
    assert result.returncode == 1 and "does not open" in result.stderr and "hint:" in result.stderr
    assert (data / "station.db").read_bytes() == before
