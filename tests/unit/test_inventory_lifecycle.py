"""Every token transition: the event it records, who it names, and the illegal moves it refuses."""

import pytest
from desk_fixtures import approval, op

from station.errors import InputError
from station.inventory import lifecycle as lc
from station.inventory.admin import add_location, add_site
from station.inventory.common import NotFound, find_token
from station.inventory.custody import transfer
from station.inventory.intake import EntriesRejected, receive_serials
from station.inventory.roles import NotPermitted
from station.inventory.states import IllegalTransition
from station.issue import IssueRequest, issue_totp

SERIAL = 20000001


@pytest.fixture
def stocked(desk):
    add_site(desk.station, "branch-09", operator=op("root"), region="north")
    add_location(desk.station, "b07-safe", site="branch-07", kind="safe", operator=op("root"))
    add_location(desk.station, "b07-drawer", site="branch-07", kind="drawer", operator=op("root"))
    add_location(desk.station, "b09-safe", site="branch-09", kind="safe", operator=op("root"))
    receive_serials(
        desk.station,
        [SERIAL + i for i in range(1, 6)],
        operator=op("carol"),
        model="YubiKey 5 NFC",
        location="b07-safe",
    )
    return desk


def state(desk, serial):
    return find_token(desk.station.ledger.db, str(serial))


def last(desk):
    return list(desk.station.ledger.entries())[-1]


def test_issue_return_reissue_with_history(stocked):
    desk = stocked
    desk.insert(SERIAL + 1)
    issue_totp(desk.station, IssueRequest(SERIAL + 1, "alice", op("carol")))
    t = lc.return_token(
        desk.station, SERIAL + 1, operator=op("dave"), location="b07-drawer", reason="leaving"
    )
    assert (t.token.status, t.token.owner, t.token.custodian, t.token.location) == (
        "returned",
        None,
        "dave",
        "b07-drawer",
    )
    entry = last(desk)
    assert entry.type == "token.returned" and entry.actor == "dave" and entry.body["owner"] == "alice"
    assert entry.body["reason"] == "leaving"
    creds = desk.station.ledger.db.execute("SELECT status FROM credentials").fetchall()
    assert creds == [("revoked",)]  # alice's codes stop verifying when the key comes back
    issue_totp(desk.station, IssueRequest(SERIAL + 1, "bob", op("carol")))
    assert state(desk, SERIAL + 1)["owner"] == "bob"
    history = desk.station.ledger.db.execute(
        "SELECT type, actor FROM token_history WHERE serial = ? ORDER BY seq", [str(SERIAL + 1)]
    ).fetchall()
    assert [h[0] for h in history] == [
        "token.received",
        "token.issue.started",
        "token.issued",
        "token.returned",
        "token.issue.started",
        "token.issued",
    ]


def test_illegal_transitions_are_refused_with_the_reason(stocked):
    desk = stocked
    s = SERIAL + 2
    with pytest.raises(
        IllegalTransition, match=f"Token {s} cannot be returned: it is in stock at branch-07/b07-safe"
    ):
        lc.return_token(desk.station, s, operator=op("carol"))
    lc.report_lost(desk.station, s, operator=op("carol"), reason="not in the safe at shift change")
    desk.insert(s)
    with pytest.raises(IllegalTransition, match="cannot be issued: it is reported lost") as err:
        issue_totp(desk.station, IssueRequest(s, "alice", op("carol")))
    assert "station found" in err.value.hint
    with pytest.raises(IllegalTransition, match="cannot be moved"):
        transfer(desk.station, [s], operator=op("carol"), location="b07-drawer")
    with pytest.raises(IllegalTransition, match="cannot be unblocked"):
        lc.unblock(desk.station, s, operator=op("sam"), reason="x")
    lc.retire(
        desk.station,
        s,
        operator=op("sam"),
        how="written_off",
        reason="never found",
        witness=approval("audrey"),
    )
    with pytest.raises(IllegalTransition, match="retired") as err:
        lc.found(desk.station, s, operator=op("carol"), reason="turned up")
    with pytest.raises(NotFound, match="not in this station's inventory"):
        lc.report_lost(desk.station, "99999", operator=op("carol"), reason="x")


def test_two_owners_and_self_service_are_refused(stocked):
    desk = stocked
    desk.insert(SERIAL + 3)
    issue_totp(desk.station, IssueRequest(SERIAL + 3, "dave", op("carol")))
    with pytest.raises(InputError, match="already issued to dave"):
        issue_totp(desk.station, IssueRequest(SERIAL + 3, "erin", op("carol")))
    with pytest.raises(NotPermitted, match="their own token"):
        lc.return_token(desk.station, SERIAL + 3, operator=op("dave"))


def test_loss_damage_block_unblock_found_and_retire(stocked):
    desk = stocked
    s = SERIAL + 4
    desk.insert(s)
    issue_totp(desk.station, IssueRequest(s, "alice", op("carol")))
    db = desk.station.ledger.db
    lc.block(desk.station, s, operator=op("carol"), reason="phone call: maybe stolen")
    assert state(desk, s)["status"] == "blocked" and state(desk, s)["owner"] == "alice"
    assert db.execute("SELECT status FROM credentials").fetchone() == ("suspended",)
    with pytest.raises(NotPermitted, match="may not unblock"):
        lc.unblock(desk.station, s, operator=op("carol"), reason="found it at home")
    lc.unblock(desk.station, s, operator=op("sam"), reason="found it at home")
    assert state(desk, s)["status"] == "issued"
    assert db.execute("SELECT status FROM credentials").fetchone() == ("active",)
    lc.report_lost(desk.station, s, operator=op("carol"), reason="left on the train")
    assert db.execute("SELECT kind, owner FROM incidents").fetchall() == [("lost", "alice")]
    lc.found(desk.station, s, operator=op("carol"), reason="lost property office", location="b07-drawer")
    assert (state(desk, s)["status"], state(desk, s)["owner"]) == ("returned", None)
    lc.report_damaged(desk.station, s, operator=op("dave"), reason="cracked case")
    with pytest.raises(NotPermitted, match="both operators"):
        lc.retire(
            desk.station, s, operator=op("sam"), how="destroyed", reason="shredded", witness=approval("sam")
        )
    with pytest.raises(InputError, match="not a way to retire"):
        lc.retire(desk.station, s, operator=op("sam"), how="burnt", reason="x")
    lc.retire(
        desk.station, s, operator=op("sam"), how="destroyed", reason="shredded", witness=approval("carol")
    )
    entry = last(desk)
    assert entry.type == "token.retired" and entry.body["second_operator"] == "carol"


def test_custody_moves_record_both_sides(stocked):
    desk = stocked
    moved = transfer(
        desk.station,
        [SERIAL + 1, SERIAL + 2],
        operator=op("carol"),
        to_custodian=approval("dave"),
        location="b09-safe",
        reason="branch-09 opens",
    )
    assert (moved.site, moved.location, moved.to_custodian) == ("branch-09", "b09-safe", "dave")
    entry = last(desk)
    assert entry.actor == "carol" and entry.body["second_operator"] == "dave"
    assert entry.body["moves"][0] == {
        "serial": str(SERIAL + 1),
        "from_custodian": "carol",
        "from_site": "branch-07",
        "from_location": "b07-safe",
    }
    assert state(desk, SERIAL + 1)["site"] == "branch-09"
    with pytest.raises(NotPermitted, match="in dave's custody, not carol's"):
        transfer(desk.station, [SERIAL + 1], operator=op("carol"), location="b07-safe")
    with pytest.raises(NotPermitted, match="may not transfer"):
        transfer(desk.station, [SERIAL + 3], operator=op("carol"), to_custodian=approval("audrey"))
    transfer(desk.station, [SERIAL + 1], operator=op("sam"), location="b07-safe")  # a supervisor may move it
    assert state(desk, SERIAL + 1)["custodian"] == "sam"


def test_bulk_list_is_all_or_nothing(stocked):
    desk = stocked
    before = desk.types()
    with pytest.raises(EntriesRejected) as err:
        receive_serials(desk.station, ["30000001", "abc", "30000001", str(SERIAL + 1)], operator=op("carol"))
    assert [(r.entry, r.reason) for r in err.value.rejected] == [
        ("entry 2", "'abc' is not a YubiKey serial number."),
        ("entry 3", "listed twice"),
        ("entry 4", "already in the inventory (in_stock)"),
    ]
    assert desk.types() == before
    with pytest.raises(InputError, match="not a YubiKey model"):
        receive_serials(desk.station, ["30000001"], operator=op("carol"), model="YubiKey 9")
    report = receive_serials(desk.station, ["30000001", "abc"], operator=op("carol"), accept_partial=True)
    assert report.received == ("30000001",)
    with pytest.raises(NotPermitted, match="audrey .auditor. may not receive"):
        receive_serials(desk.station, ["30000002"], operator=op("audrey"))


def test_reissue_to_the_same_owner_replaces_the_revoked_credential_on_the_key(stocked):
    from yubikit.oath import OathSession

    from drivers.emulator import VirtualConnection

    desk = stocked
    key = desk.insert(SERIAL + 5)
    issue_totp(desk.station, IssueRequest(SERIAL + 5, "alice", op("carol")))
    lc.return_token(desk.station, SERIAL + 5, operator=op("carol"))
    issue_totp(desk.station, IssueRequest(SERIAL + 5, "alice", op("dave")))
    assert [c.id for c in OathSession(VirtualConnection(key)).list_credentials()] == [b"Token Station:alice"]
    started = [e for e in desk.station.ledger.entries() if e.type == "token.issue.started"]
    assert [e.body["wiped_revoked"] for e in started] == [False, True]
    statuses = desk.station.ledger.db.execute("SELECT status FROM credentials").fetchall()
    assert statuses == [("active",)]  # the same name: the new credential's row replaces the revoked one


def test_tables_of_an_older_layout_are_rebuilt_from_the_ledger_on_open(stocked):
    from desk_fixtures import PASS

    from station.core import open_station
    from station.projection import snapshot

    desk = stocked
    desk.insert(SERIAL + 1)
    issue_totp(desk.station, IssueRequest(SERIAL + 1, "alice", op("carol")))
    live = snapshot(desk.station.ledger.db)
    db = desk.station.ledger.db
    # What a station written by an older release looks like: no layout version, a different tokens table.
    db.execute("DROP TABLE projection_meta")
    db.execute("DROP TABLE tokens")
    db.execute("CREATE TABLE tokens (serial INTEGER PRIMARY KEY, status TEXT)")
    db.conn.commit()
    desk.station.close()
    reopened = open_station(desk.station.data_dir, PASS, clock=desk.clock, bus=desk.bus)
    try:
        assert snapshot(reopened.ledger.db) == live
    finally:
        reopened.close()
    desk.station = open_station(desk.station.data_dir, PASS, clock=desk.clock, bus=desk.bus)
