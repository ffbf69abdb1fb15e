"""The employee directory: CSV import, the diff shown before anything changes, and re-import."""

import pytest
from desk_fixtures import op

from station.errors import InputError, StationError
from station.inventory.directory import apply_directory, parse_directory, plan_directory
from station.inventory.intake import EntriesRejected
from station.inventory.owners import check_owner
from station.inventory.roles import NotPermitted
from station.issue import IssueRequest, issue_totp

CSV = (
    "id,name,department,site,group,contractor,access_end\n"
    "alice,Alice A,Finance,branch-07,staff,no,\n"
    "bob,Bob B,Ops,branch-07,shift-lead,no,\n"
    "carl,Carl C,Ops,branch-09,staff,yes,2027-03-31\n"
)


def imported(desk, text=CSV):
    plan = plan_directory(desk.station, text.encode(), "hr.csv")
    apply_directory(desk.station, plan, operator=op("hank"))
    return plan


def test_first_import_adds_everyone_and_records_one_event_each(desk):
    plan = imported(desk)
    assert [e.id for e in plan.added] == ["alice", "bob", "carl"] and not plan.changed and not plan.removed
    assert desk.types()[-4:] == ["employee.added"] * 3 + ["directory.imported"]
    row = desk.station.ledger.db.execute(
        "SELECT contractor, access_end FROM employees WHERE id='carl'"
    ).fetchone()
    assert row == (1, "2027-03-31")


def test_reimport_shows_the_diff_and_changes_nothing_until_applied(desk):
    imported(desk)
    changed = CSV.replace("Bob B,Ops", "Bob B,Security").replace(
        "carl,Carl C,Ops,branch-09,staff,yes,2027-03-31\n", ""
    )
    changed += "dina,Dina D,HR,branch-07,staff,no,\n"
    before = desk.types()
    plan = plan_directory(desk.station, changed.encode(), "hr-2.csv")
    assert [e.id for e in plan.added] == ["dina"]
    assert [(c.after.id, c.fields) for c in plan.changed] == [("bob", ("department",))]
    assert [e.id for e in plan.removed] == ["carl"] and plan.unchanged == 1
    assert desk.types() == before  # a plan is only a diff
    apply_directory(desk.station, plan, operator=op("hank"))
    db = desk.station.ledger.db
    assert db.execute("SELECT status FROM employees WHERE id='carl'").fetchone() == ("left",)
    assert db.execute("SELECT department FROM employees WHERE id='bob'").fetchone() == ("Security",)
    assert plan_directory(desk.station, changed.encode(), "hr-2.csv").empty


def test_a_plan_made_against_an_older_directory_is_refused(desk):
    imported(desk)
    stale = plan_directory(desk.station, (CSV + "eve,Eve,IT,branch-07,staff,no,\n").encode(), "a.csv")
    apply_directory(
        desk.station,
        plan_directory(desk.station, (CSV + "fay,Fay,IT,x,staff,no,\n").encode(), "b.csv"),
        operator=op("hank"),
    )
    with pytest.raises(StationError, match="changed since this diff"):
        apply_directory(desk.station, stale, operator=op("hank"))


def test_bad_lines_are_all_named_and_nothing_is_imported(desk):
    bad = CSV + (
        "alice,Again,X,Y,Z,no,\n,No Id,X,Y,Z,no,\nzed,Zed,X,Y,Z,maybe,\n"
        "yan,Yan,X,Y,Z,no,31/12/2026\nshort,row\n"
    )
    with pytest.raises(EntriesRejected) as err:
        plan_directory(desk.station, bad.encode(), "hr.csv")
    reasons = [(r.entry, r.reason) for r in err.value.rejected]
    assert reasons == [
        ("line 5", "id listed twice"),
        ("line 6", "has an empty id"),
        ("line 7", "contractor 'maybe' is not yes or no"),
        ("line 8", "access end '31/12/2026' is not a date YYYY-MM-DD"),
        ("line 9", "has 2 fields, the header has 7"),
    ]
    with pytest.raises(InputError, match="no id column"):
        parse_directory(b"name,dept\nx,y\n", "x.csv")
    with pytest.raises(InputError, match="not UTF-8"):
        parse_directory(b"id,name\n\xff\xfe,x\n", "x.csv")
    assert "employee.added" not in desk.types()


def test_mass_removal_needs_confirmation_and_leavers_holding_tokens_are_listed(desk):
    rows = "".join(f"e{i},E {i},Ops,branch-07,staff,no,\n" for i in range(40))
    imported(desk, "id,name,department,site,group,contractor,access_end\n" + rows)
    desk.insert(20000001)
    issue_totp(desk.station, IssueRequest(20000001, "e1", op("carol")))
    plan = plan_directory(desk.station, b"id,name\ne0,E 0\n", "truncated.csv")
    assert plan.mass_removal and ("e1", ("20000001",)) in plan.leavers_holding
    with pytest.raises(InputError, match="remove 39 employees at once"):
        apply_directory(desk.station, plan, operator=op("hank"))
    with pytest.raises(NotPermitted, match="needs the admin or supervisor role"):
        apply_directory(desk.station, plan, operator=op("carol"), allow_mass_removal=True)


def test_owners_must_be_current_employees_once_a_directory_exists(desk):
    desk.insert(20000001)
    assert check_owner(desk.station.ledger.db, "anyone", desk.clock()) is None  # no directory yet
    imported(desk)
    with pytest.raises(StationError, match="not in the employee directory"):
        issue_totp(desk.station, IssueRequest(20000001, "nobody", op("carol")))
    desk.clock.advance(days=365 * 2)  # carl's access ended 2027-03-31
    with pytest.raises(NotPermitted, match="access ended on 2027-03-31"):
        issue_totp(desk.station, IssueRequest(20000001, "carl", op("carol")))
