"""Four-eyes: resetting or replacing a token, granting temporary access and unlocking an operator need a
second operator who signs in for that one action. The station refuses one person in both roles, the
person the action is about in either, a lent session instead of a fresh approval, an approval used
twice, and an approver without the role; from the station functions and from the CLI alike. Both
operators endorse the event with their own keys, which `ledger verify` checks."""

import json

import pytest
from desk_fixtures import approval, op
from station_cli import StationCli

from ledger.signers import norm_key
from station.access.temporary import grant_temporary_access
from station.errors import NotPermitted
from station.inventory import lifecycle as lc
from station.issue import IssueRequest, issue_totp
from station.operators.lockout import lock_operator, unlock_operator
from station.operators.sessions import NotSignedIn

SERIAL = 34000001


def test_unlocking_an_operator_refuses_every_shortcut(desk):
    lock_operator(desk.station, "dave", operator=op("sam"), reason="lost badge")
    op("hank"), op("carol")
    before = desk.station.ledger.size()

    def unlock(approver):
        return unlock_operator(
            desk.station, "dave", operator=op("hank"), approver=approver, reason="badge found"
        )

    cases = [
        (approval("hank"), "cannot be both operators"),
        (op("sam"), "sign in for this approval, not lend an open session"),
        (approval("carol"), "needs the admin or supervisor role"),  # a custodian may not approve it
        (None, "needs a second operator"),
    ]
    for approver, says in cases:
        with pytest.raises(NotPermitted, match=says):
            unlock(approver)
    with pytest.raises(NotPermitted, match="custodian\\) may not unlock operator"):
        unlock_operator(desk.station, "dave", operator=op("carol"), approver=approval("sam"), reason="x")
    assert desk.station.ledger.size() == before + 3  # only the three approvals' sign-ins were recorded
    sam = approval("sam")
    seq = unlock(sam)
    with pytest.raises(NotSignedIn, match="approval used"):
        lock_operator(desk.station, "dave", operator=op("sam"), reason="again")
        unlock(sam)  # the same approval a second time
    entry = list(desk.station.ledger.entries(start=seq))[0]
    signers = {
        e.body["key"]: e.body["operator"]
        for e in desk.station.ledger.entries()
        if e.type == "ledger.signer_enrolled"
    }
    assert sorted(signers[norm_key(s["key"])] for s in entry.sigs) == ["hank", "sam"]
    assert desk.station.ledger.verify(desk.station.public_keys()).ok


def test_a_replacement_needs_an_approver_who_is_not_the_owner(desk):
    desk.insert(SERIAL)
    issue_totp(desk.station, IssueRequest(SERIAL, "hank", op("carol")))
    lc.report_lost(desk.station, SERIAL, operator=op("carol"), reason="left on the train")
    desk.only(SERIAL + 1)
    for approver, says in (
        (None, "replaces hank's lost token"),
        (approval("hank"), "the person this action"),
        (approval("carol"), "cannot be both operators"),
    ):
        with pytest.raises(NotPermitted, match=says):
            issue_totp(desk.station, IssueRequest(SERIAL + 1, "hank", op("carol")), approver=approver)
    issue_totp(desk.station, IssueRequest(SERIAL + 1, "hank", op("carol")), approver=approval("sam"))
    started = [e for e in desk.station.ledger.entries() if e.type == "token.issue.started"][-1]
    assert started.body["replaces"] == str(SERIAL) and started.body["second_operator"] == "sam"
    assert len(started.sigs) == 2


def test_a_reset_needs_a_supervisor_and_not_the_owner(desk):
    desk.insert(SERIAL)
    issue_totp(desk.station, IssueRequest(SERIAL, "sam", op("carol")))
    with pytest.raises(NotPermitted, match="the person this action is about"):
        lc.reset_token(desk.station, SERIAL, operator=op("carol"), approver=approval("sam"), reason="forgot")
    with pytest.raises(NotPermitted, match="needs the admin or supervisor role"):
        lc.reset_token(desk.station, SERIAL, operator=op("carol"), approver=approval("dave"), reason="forgot")
    t = lc.reset_token(
        desk.station, SERIAL, operator=op("carol"), approver=approval("hank"), reason="doubted"
    )
    assert (t.event, t.token.status, t.token.owner) == ("token.reset", "returned", None)
    creds = desk.station.ledger.db.execute("SELECT status FROM credentials").fetchall()
    assert creds == [("revoked",)]


def test_temporary_access_needs_a_second_operator_other_than_the_owner(desk):
    for approver, says in (
        (approval("sam"), "both operators"),
        (approval("carol"), "the person this action"),
    ):
        with pytest.raises(NotPermitted, match=says):
            grant_temporary_access(desk.station, "carol", operator=op("sam"), approver=approver, reason="x")
    with pytest.raises(NotPermitted, match="may not temporary"):
        grant_temporary_access(
            desk.station, "zoe", operator=op("carol"), approver=approval("sam"), reason="x"
        )
    grant = grant_temporary_access(
        desk.station, "zoe", operator=op("sam"), approver=approval("dave"), reason="x"
    )
    assert grant.code and grant.single_use is False


@pytest.fixture
def cli(tmp_path):
    cli = StationCli(tmp_path / "s", tmp_path)
    assert cli.init().returncode == 0
    for who, roles in (("carol", "custodian"), ("sam", "supervisor"), ("hank", "admin,supervisor")):
        cli.add_operator(who, roles)
    return cli


def test_four_eyes_cannot_be_bypassed_from_the_cli(cli):
    grant = ("temporary", "grant", "--owner", "zoe", "--reason", "token at home", "--json")
    nobody = cli.run(*grant, as_="sam")  # no approver and no terminal to ask one on
    assert nobody.returncode == 2 and "needs a second operator" in nobody.stderr
    same = cli.run(*grant, "--approver", "sam", as_="sam", approver="sam")
    assert same.returncode == 1 and "cannot be both operators" in same.stderr
    owner = cli.run(
        "temporary",
        "grant",
        "--owner",
        "carol",
        "--reason",
        "x",
        "--approver",
        "carol",
        as_="sam",
        approver="carol",
    )
    assert owner.returncode == 1 and "the person this action is about" in owner.stderr
    # A session from `station login` passed as the approver's is not an approval: there is no such input.
    login = cli.run("login", "--json", as_="carol")
    session = json.loads(login.stdout)["session"]
    lent = cli.run(*grant, "--approver", "carol", as_="sam", extra={"STATION_APPROVER_SESSION": session})
    assert lent.returncode == 2 and "No PIN for the second operator carol" in lent.stderr
    ok = cli.run(*grant, "--approver", "carol", as_="sam", approver="carol")
    assert ok.returncode == 0, ok.stderr
    code = json.loads(ok.stdout)["code"]
    # Unlocking an operator from the CLI: the locked operator cannot approve their own unlock.
    assert cli.run("operator", "lock", "carol", "--reason", "badge lost", as_="hank").returncode == 0
    refused = cli.run(
        "operator",
        "unlock",
        "carol",
        "--reason",
        "found",
        "--approver",
        "carol",
        as_="hank",
        approver="carol",
    )
    assert refused.returncode == 1 and "carol is locked" in refused.stderr
    done = cli.run(
        "operator",
        "unlock",
        "carol",
        "--reason",
        "found",
        "--approver",
        "sam",
        "--json",
        as_="hank",
        approver="sam",
    )
    assert done.returncode == 0 and json.loads(done.stdout)["approved_by"] == "sam"
    shown = json.loads(cli.run("ledger", "show", "--json").stdout)
    assert code not in json.dumps(shown) and code.replace("-", "") not in json.dumps(shown)
    assert cli.run("ledger", "verify").returncode == 0


def test_a_locked_operator_cannot_act_from_the_cli(cli):
    login = cli.run("login", "--json", as_="carol")
    session = json.loads(login.stdout)["session"]
    receive = cli.run("receive", "50000001", "--json", extra={"STATION_SESSION": session})
    assert receive.returncode == 0, receive.stderr
    assert cli.run("operator", "lock", "carol", "--reason", "doubt", as_="sam").returncode == 0
    again = cli.run("receive", "50000002", extra={"STATION_SESSION": session})
    assert again.returncode == 1 and "session ended (locked)" in again.stderr
    fresh = cli.run("receive", "50000002", as_="carol")
    assert fresh.returncode == 1 and "carol is locked" in fresh.stderr
    listed = json.loads(cli.run("operator", "list", "--json").stdout)
    assert {r["id"]: r["status"] for r in listed}["carol"] == "locked"
