"""Physical counts reconciled against the inventory, audit schedules, and spare levels."""

from datetime import date

import pytest
from desk_fixtures import approval, op

from station.errors import InputError
from station.inventory import lifecycle as lc
from station.inventory.admin import add_location, add_site
from station.inventory.audits import audit_schedule, close_audit, count, reconcile_audit, start_audit
from station.inventory.intake import receive_serials
from station.inventory.roles import NotPermitted
from station.inventory.spares import set_spare_level, spare_levels, spare_warnings
from station.issue import IssueRequest, issue_totp


@pytest.fixture
def branch(desk):
    st = desk.station
    add_site(st, "branch-07", operator=op("root"), region="north", audit_every_days=90)
    add_site(st, "branch-09", operator=op("root"), region="north")
    add_site(st, "branch-20", operator=op("root"), region="south")
    add_location(st, "safe", site="branch-07", kind="safe", operator=op("root"), audit_every_days=30)
    add_location(st, "drawer", site="branch-07", kind="drawer", operator=op("root"))
    add_location(st, "b09-safe", site="branch-09", kind="safe", operator=op("root"))
    add_location(st, "b20-safe", site="branch-20", kind="safe", operator=op("root"))
    receive_serials(st, range(30000001, 30000006), operator=op("carol"), location="safe")  # 5 in the safe
    receive_serials(st, range(30000011, 30000013), operator=op("carol"), location="drawer")  # 2 in the drawer
    receive_serials(st, range(30000021, 30000024), operator=op("dave"), location="b09-safe")  # 3 at branch-09
    receive_serials(st, range(30000031, 30000039), operator=op("dave"), location="b20-safe")  # 8 at branch-20
    return desk


def test_count_reconciles_found_missing_wrong_place_and_unexpected(branch):
    st = branch.station
    branch.insert(30000005)
    issue_totp(st, IssueRequest(30000005, "alice", op("carol")))  # with its owner: not expected in the safe
    lc.report_lost(st, 30000004, operator=op("carol"), reason="not seen since Monday")
    with pytest.raises(NotPermitted, match="may not audit"):
        start_audit(st, operator=op("carol"), location="safe")
    audit = start_audit(st, operator=op("audrey"), location="safe")
    with pytest.raises(InputError, match="still open"):
        start_audit(st, operator=op("audrey"), site="branch-07")
    count(st, audit, ["30000001", "30000002", "30000001"], operator=op("audrey"))
    count(st, audit, ["30000011", "30000004", "30000005", "XY-UNKNOWN"], operator=op("audrey"))
    result = reconcile_audit(st.ledger.db, audit)
    assert result.found == ("30000001", "30000002")
    assert [m["serial"] for m in result.missing] == ["30000003"]
    assert [(w["serial"], w["expected"], w["counted"]) for w in result.wrong_place] == [
        ("30000011", "branch-07/drawer", "branch-07/safe")
    ]
    assert {u["serial"]: u["note"] for u in result.unexpected} == {
        "30000004": "on record as reported lost",
        "30000005": "on record as issued to alice",
        "XY-UNKNOWN": "not in the inventory",
    }
    with pytest.raises(NotPermitted, match="both operators"):
        close_audit(st, audit, operator=op("audrey"), second_operator=approval("audrey"))
    close_audit(st, audit, operator=op("audrey"), second_operator=approval("sam"), note="quarterly count")
    closed = list(st.ledger.entries())[-1]
    assert closed.type == "audit.closed" and closed.body["second_operator"] == "sam"
    assert (
        closed.body["found"],
        closed.body["missing"],
        closed.body["wrong_place"],
        closed.body["unexpected"],
    ) == (2, 1, 1, 3)
    with pytest.raises(InputError, match="was closed"):
        count(st, audit, ["30000003"], operator=op("audrey"))


def test_site_count_with_locations_per_scan(branch):
    st = branch.station
    audit = start_audit(st, operator=op("audrey"), site="branch-07")
    count(st, audit, [str(s) for s in range(30000001, 30000006)], operator=op("audrey"), location="safe")
    count(st, audit, ["30000011"], operator=op("audrey"), location="safe")  # belongs in the drawer
    with pytest.raises(InputError, match="not part of audit"):
        count(st, audit, ["30000021"], operator=op("audrey"), location="b09-safe")
    result = close_audit(st, audit, operator=op("audrey"))
    assert len(result.found) == 5 and [m["serial"] for m in result.missing] == ["30000012"]
    assert [w["serial"] for w in result.wrong_place] == ["30000011"]


def test_next_audit_dates_and_overdue(branch):
    st = branch.station
    schedule = {(d.site, d.location): d for d in audit_schedule(st.ledger.db, date(2027, 1, 10))}
    assert schedule[("branch-07", "safe")].next_due == date(2027, 1, 2)  # added 2026-12-03, every 30 days
    assert schedule[("branch-07", "safe")].overdue and not schedule[("branch-07", None)].overdue
    branch.clock.advance(days=10)
    close_audit(st, start_audit(st, operator=op("audrey"), location="safe"), operator=op("audrey"))
    after = {(d.site, d.location): d for d in audit_schedule(st.ledger.db, date(2027, 1, 10))}
    assert (
        after[("branch-07", "safe")].next_due == date(2027, 1, 12)
        and not after[("branch-07", "safe")].overdue
    )


def test_spare_levels_warn_and_name_the_nearest_spares(branch):
    st = branch.station
    set_spare_level(st, site="branch-07", minimum=5, operator=op("sam"))
    set_spare_level(st, location="drawer", minimum=3, operator=op("sam"))
    set_spare_level(st, site="branch-09", minimum=4, operator=op("hank"), kind="yubikey")
    with pytest.raises(NotPermitted):
        set_spare_level(st, site="branch-09", minimum=1, operator=op("carol"))
    levels = {(s.site, s.location): s for s in spare_levels(st.ledger.db)}
    assert levels[("branch-07", None)].available == 7 and levels[("branch-07", None)].shortfall == 0
    drawer = levels[("branch-07", "drawer")]
    assert (drawer.available, drawer.shortfall) == (2, 1)
    assert drawer.nearest[0] == ("branch-07", "safe", 5)  # same site first
    b09 = levels[("branch-09", None)]
    assert [n[0] for n in b09.nearest] == ["branch-07", "branch-07", "branch-20"]  # same region, then others
    warnings = spare_warnings(st.ledger.db)
    assert warnings[0].startswith(
        "branch-07/drawer has 2 spares, under its minimum of 3; nearest: branch-07/safe"
    )
    set_spare_level(st, location="drawer", minimum=0, operator=op("sam"))
    assert len(spare_levels(st.ledger.db)) == 2
