"""The inventory verbs of the `station` command, run in-process on a real data directory.

Keys are issued through the station API over the in-process bus (the CLI's issue talks to pcscd, which
tests/integration covers); every other verb here is the CLI itself, with --json and exit codes.
"""

import json
from datetime import UTC, datetime, timedelta

import operator_tokens as ot
import pytest
from desk_fixtures import PASS, T0, MovableClock

from drivers.emulator import VirtualYubiKey
from drivers.emulator.bus import VirtualBus
from station.cli import main
from station.core import open_station
from station.issue import IssueRequest, issue_totp
from station.operators.signin import sign_in

DIRECTORY = (
    "id,name,department,site,group,contractor,access_end\nalice,Alice,Finance,branch-07,staff,no,\n"
    "bob,Bob,Ops,branch-07,staff,yes,2027-01-31\n"
)


READ_ONLY = {
    ("report",),
    ("token", "show"),
    ("audit", "show"),
    ("spares", "show"),
    ("operator", "list"),
    ("ledger", "show"),
    ("site", "list"),
    ("location", "list"),
}


def reads_only(args) -> bool:
    words = [a for a in args if not a.startswith("-")]
    if words[:2] == ["inventory", "rebuild"]:
        return "--check" in args
    return tuple(words[:1]) in READ_ONLY or tuple(words[:2]) in READ_ONLY


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    data = tmp_path / "station"
    codes = ot.Codes()
    for name in ("STATION_DATA", "STATION_OPERATOR", "STATION_SESSION", "STATION_APPROVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STATION_PASSPHRASE", PASS)

    def token_file(who):
        path = tmp_path / f"{who}.otpauth"
        path.write_text(ot.otpauth(who))
        return str(path)

    def run(*args, operator="root", approver=None, ok=0):
        """The CLI in-process; `operator` signs in (id, PIN, next HOTP code) as a script would.

        Read-only verbs sign nobody in, so they get no code (an unused code would put the test's
        counter ahead of the token's)."""
        if operator and not reads_only(args):
            monkeypatch.setenv("STATION_OPERATOR", operator)
            monkeypatch.setenv("STATION_OPERATOR_PIN", ot.pin(operator))
            monkeypatch.setenv("STATION_OPERATOR_OTP", codes.next(operator))
        if approver:
            monkeypatch.setenv("STATION_APPROVER_PIN", ot.pin(approver))
            monkeypatch.setenv("STATION_APPROVER_OTP", codes.next(approver))
        code = main(["--data", str(data), "--json", *args])
        out = capsys.readouterr().out
        assert code == ok, out
        return json.loads(out) if out.strip().startswith(("{", "[")) else out

    monkeypatch.setenv("STATION_ADMIN_PIN", ot.pin("root"))
    run(
        "init",
        "--site",
        "branch-07",
        "--admin",
        "root",
        "--admin-token-uri",
        token_file("root"),
        operator=None,
    )
    for who, role in (("carol", "custodian"), ("sam", "supervisor"), ("audrey", "auditor")):
        monkeypatch.setenv("STATION_NEW_PIN", ot.pin(who))
        run("operator", "add", who, "--role", role, "--token-uri", token_file(who))
    run("location", "add", "safe", "--site", "branch-07", "--kind", "safe", "--audit-every", "30")
    run.data = data
    run.codes = codes
    return run


def issue(cli, serial, owner):
    bus = VirtualBus()
    bus.insert(VirtualYubiKey.open(serial))
    station = open_station(cli.data, PASS, clock=MovableClock(T0), bus=bus)
    try:
        carol = sign_in(station, "carol", ot.pin("carol"), cli.codes.next("carol"))
        issue_totp(station, IssueRequest(serial, owner, carol))
    finally:
        station.close()


def test_directory_import_shows_the_diff_then_applies_the_one_confirmed(cli, tmp_path):
    path = tmp_path / "hr.csv"
    path.write_text(DIRECTORY)
    shown = cli("directory", "import", str(path), "--dry-run")
    assert shown["applied"] is False and [e["id"] for e in shown["added"]] == ["alice", "bob"]
    refused = cli("directory", "import", str(path), "--yes", "--expect", "000000000000", ok=2)
    assert "not 000000000000" in refused["error"]
    applied = cli("directory", "import", str(path), "--yes", "--expect", shown["diff"])
    assert applied["applied"] is True
    assert cli("directory", "import", str(path), "--dry-run")["added"] == []
    path.write_text(DIRECTORY.replace("Ops", "Security"))
    denied = cli("directory", "import", str(path), "--yes", operator="carol", ok=1)
    assert "needs the admin or supervisor role" in denied["error"]


def test_receive_return_transfer_lost_retire_and_rebuild_check(cli):
    received = cli("receive", "50000001", "50000002", "50000003", "--location", "safe", operator="carol")
    assert received["received"] == ["50000001", "50000002", "50000003"]
    bad = cli("receive", "50000004", "oops", operator="carol", ok=2)
    assert bad["rejected"] == [
        {"entry": "entry 2", "serial": "oops", "reason": "'oops' is not a YubiKey serial number."}
    ]
    issue(cli, 50000001, "alice")
    returned = cli("return", "--serial", "50000001", "--location", "safe", operator="carol")
    assert returned["token"]["status"] == "returned" and returned["event"] == "token.returned"
    illegal = cli("return", "--serial", "50000002", operator="carol", ok=1)
    assert "cannot be returned: it is in stock" in illegal["error"]
    moved = cli(
        "transfer",
        "50000002",
        "50000003",
        "--to",
        "sam",
        "--reason",
        "night shift",
        operator="carol",
        approver="sam",
    )
    assert moved["to_custodian"] == "sam" and moved["serials"] == ["50000002", "50000003"]
    cli("report-lost", "--serial", "50000002", "--reason", "not in the safe", operator="sam")
    cli(
        "retire",
        "--serial",
        "50000002",
        "--how",
        "written_off",
        "--reason",
        "gone",
        "--witness",
        "carol",
        operator="sam",
        approver="carol",
    )
    shown = cli("token", "show", "50000002")
    assert [h["type"] for h in shown["history"]] == [
        "token.received",
        "token.transferred",
        "token.reported_lost",
        "token.retired",
    ]
    assert shown["history"][-1]["second_operator"] == "carol"
    assert cli("inventory", "rebuild", "--check")["ok"] is True
    assert cli("inventory", "rebuild")["ok"] is True


def test_rebuild_check_fails_on_a_tampered_table(cli):
    import sqlite3

    cli("receive", "50000001", operator="carol")
    with sqlite3.connect(cli.data / "station.db") as db:
        db.execute("UPDATE tokens SET custodian = 'mallory'")
    result = cli("inventory", "rebuild", "--check", ok=3)
    assert result["ok"] is False and any("mallory" in d for d in result["differences"])


def test_audit_and_reports_from_the_cli(cli, capsys):
    cli("receive", "50000001", "50000002", "--location", "safe", operator="carol")
    audit = cli("audit", "start", "--location", "safe", operator="audrey")["audit"]
    cli("audit", "count", audit, "50000001", "50000009", operator="audrey")
    preview = cli("audit", "show", audit)
    assert preview["closed"] is False and [m["serial"] for m in preview["missing"]] == ["50000002"]
    closed = cli("audit", "close", audit, "--second", "carol", operator="audrey", approver="carol")
    assert closed["closed"] and [u["serial"] for u in closed["unexpected"]] == ["50000009"]
    names = [r["report"] for r in cli("report", "list")]
    assert "rollout-summary" in names and "audits-due" in names
    for name in names:
        assert cli("report", name, "--on", "2026-12-03")["report"] == name
    soon = (datetime.now(UTC).date() + timedelta(days=29)).isoformat()  # the CLI's clock is the system's
    late = (datetime.now(UTC).date() + timedelta(days=31)).isoformat()
    due = cli("report", "audits-due", "--on", soon)["rows"]
    assert due[0]["location"] == "safe" and due[0]["overdue"] is False
    assert cli("report", "audits-due", "--on", late)["rows"][0]["overdue"] is True
    code = main(["--data", str(cli.data), "report", "holdings-by-location", "--csv"])
    text = capsys.readouterr().out
    assert code == 0 and text.splitlines()[0].startswith("site,location,in_stock")
    assert "branch-07,safe,2,0" in text
    cli("spares", "set", "--location", "safe", "--minimum", "5")
    spares = cli("spares", "show")
    assert spares["warnings"][0].startswith("branch-07/safe has 2 spares, under its minimum of 5")


def test_issue_needs_an_operator_and_a_yubikey_serial(cli, monkeypatch):
    monkeypatch.delenv("STATION_OPERATOR")
    code = main(["--data", str(cli.data), "issue", "--serial", "1234", "--owner", "alice"])
    assert code == 2
    result = cli("issue", "--serial", "FT-1", "--owner", "alice", "--custodian", "carol", ok=2)
    assert "not a YubiKey serial" in result["error"] and "--code" in result["hint"]


def test_a_move_that_empties_a_shelf_warns_with_the_nearest_spares(cli, capsys, monkeypatch):
    cli("location", "add", "drawer", "--site", "branch-07", "--kind", "drawer")
    cli("receive", "50000001", "50000002", "--location", "safe", operator="carol")
    cli("receive", "50000003", "--location", "drawer", operator="carol")
    cli("spares", "set", "--location", "safe", "--minimum", "2", operator="sam")
    monkeypatch.setenv("STATION_OPERATOR", "carol")
    monkeypatch.setenv("STATION_OPERATOR_PIN", ot.pin("carol"))
    monkeypatch.setenv("STATION_OPERATOR_OTP", cli.codes.next("carol"))
    code = main(["--data", str(cli.data), "report-lost", "--serial", "50000001", "--reason", "gone"])
    captured = capsys.readouterr()
    assert code == 0 and "Token 50000001: lost" in captured.out
    assert captured.err == (
        "warning: branch-07/safe has 1 spares, under its minimum of 2; nearest: branch-07/drawer (1)\n"
    )
