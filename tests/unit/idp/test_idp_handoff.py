"""The hand-off over time: pending until confirmed, active only then, deactivations for lost and blocked
tokens in each IdP's words, withdrawals, the ways to choose tokens, and the tables equal a rebuild."""

from __future__ import annotations

from datetime import date

import pytest
from desk_fixtures import approval, op
from idp_helpers import OTP_SERIAL, PASSWORD, YK_SERIAL, drive, populated

from station.errors import InputError
from station.idp.exports import ExportRequest, confirm_export, export_tokens, outstanding, withdraw_export
from station.idp.selection import Selection, choose
from station.inventory import lifecycle as lc
from station.inventory.rebuild import check_rebuild
from station.inventory.reports import Options, run_report
from station.issue import IssueRequest, issue_totp
from station.seedfiles import ExportRefused

YK, FT, OTP = str(YK_SERIAL), "FT0001", str(OTP_SERIAL)


def export(desk, tmp_path, fmt="pskc", operator="sam", **selection):
    deactivations = selection.pop("deactivations", False)
    leave_out = selection.pop("leave_out_refused", False)
    req = ExportRequest(
        fmt, drive(tmp_path), Selection(**selection), deactivations, PASSWORD, leave_out_refused=leave_out
    )
    return export_tokens(desk.station, req, operator=desk.op(operator))


def report(desk, name):
    return run_report(desk.station.ledger.db, name, Options(on=date(2026, 12, 3))).rows


def site_row(desk):
    return report(desk, "holdings-by-site")[0]


def test_tokens_are_active_only_once_the_idp_confirms_the_export(desk, tmp_path):
    populated(desk)
    assert (site_row(desk)["issued"], site_row(desk)["active"], site_row(desk)["awaiting_idp"]) == (2, 0, 2)
    first = export(desk, tmp_path, since_last=True)
    assert sorted(first.serials) == [YK, FT] and first.outstanding == {"register": 0, "deactivate": 0}
    pending = {r["serial"]: r["idp"] for r in report(desk, "idp-hand-off")}
    assert pending == {
        YK: f"to register: export {first.export_id} awaits confirmation",
        FT: f"to register: export {first.export_id} awaits confirmation",
    }
    with pytest.raises(InputError, match="holds no register"):
        export(desk, tmp_path, since_last=True)  # nothing new since
    assert site_row(desk)["active"] == 0  # written is not imported
    confirm_export(desk.station, first.export_id, operator=op("carol"), note="imported by idp-admin")
    assert (site_row(desk)["active"], site_row(desk)["awaiting_idp"]) == (2, 0)
    summary = {r["metric"]: r["value"] for r in report(desk, "rollout-summary")}
    assert summary["active_holders"] == 2 and summary["issued_awaiting_idp"] == 0
    assert summary["idp_exports_pending"] == 0
    owners = {r["owner"]: r["active"] for r in report(desk, "holdings-by-owner")}
    assert owners == {"alice": 1, "bob": 1}
    with pytest.raises(InputError, match="already confirmed"):
        confirm_export(desk.station, first.export_id, operator=op("carol"))
    assert check_rebuild(desk.station) == []


def test_lost_and_blocked_tokens_go_out_as_each_idps_deactivation_list(desk, tmp_path):
    populated(desk)
    confirm_export(desk.station, export(desk, tmp_path, since_last=True).export_id, operator=op("carol"))
    lc.report_lost(desk.station, YK, operator=op("carol"), reason="train")
    lc.block(desk.station, FT, operator=op("carol"), reason="suspected copy")
    assert outstanding(desk.station.ledger.db) == {"register": 0, "deactivate": 2}
    assert site_row(desk)["active"] == 0
    lists = {}
    with pytest.raises(ExportRefused) as caught:  # Okta holds YubiKey OTP keys only: neither token
        export(desk, tmp_path, "okta-yubikey", operator="carol", serials=(YK, FT), deactivations=True)
    assert {s for s, _r in caught.value.refusals} == {YK, FT}
    for fmt in ("entra-csv", "duo", "privacyidea-csv", "pskc"):
        result = export(
            desk,
            tmp_path,
            fmt,
            operator="carol",
            serials=(YK, FT),
            deactivations=True,
            leave_out_refused=fmt == "entra-csv",
        )
        assert result.purpose == "deactivate" and result.protection.startswith("none")
        lists[fmt] = open(result.path, encoding="utf-8").read()
        withdraw_export(desk.station, result.export_id, operator=op("carol"), reason="example only")
    assert lists["entra-csv"] == (
        f"upn,serial number,action,reason\nalice,{YK},unassign and delete,lost\n"
    )  # the HOTP token FT0001 was never Entra's: left out, by name
    assert lists["privacyidea-csv"] == (
        f"serial,user,action,reason\n{YK},alice,revoke,lost\n{FT},bob,disable,blocked\n"
    )
    assert lists["duo"] == f"type,serial,action,reason\nt6,{YK},delete,lost\nh6,{FT},delete,blocked\n"
    assert lists["pskc"] == f"serial,owner,action,reason\n{YK},alice,remove,lost\n{FT},bob,remove,blocked\n"
    # since-last still finds both: every export above was withdrawn
    done = export(desk, tmp_path, "privacyidea-csv", operator="carol", since_last=True, deactivations=True)
    assert sorted(done.serials) == [YK, FT]
    confirm_export(desk.station, done.export_id, operator=op("carol"))
    assert outstanding(desk.station.ledger.db) == {"register": 0, "deactivate": 0}
    rows = {r["serial"]: r["idp"] for r in report(desk, "lost-damaged-blocked")}
    assert rows == {
        YK: f"deactivated (export {done.export_id})",
        FT: f"deactivated (export {done.export_id})",
    }
    # Unblocked after the IdP disabled it: it must be registered again before it is active.
    lc.unblock(desk.station, FT, operator=op("sam"), reason="false alarm")
    assert outstanding(desk.station.ledger.db) == {"register": 1, "deactivate": 0}
    assert check_rebuild(desk.station) == []


def test_a_block_lifted_before_any_export_asks_nothing_of_the_idp(desk, tmp_path):
    populated(desk)
    confirm_export(desk.station, export(desk, tmp_path, since_last=True).export_id, operator=op("carol"))
    lc.block(desk.station, FT, operator=op("carol"), reason="checking")
    lc.unblock(desk.station, FT, operator=op("sam"), reason="it was in the drawer")
    assert outstanding(desk.station.ledger.db) == {"register": 0, "deactivate": 0}
    assert site_row(desk)["active"] == 2


def test_a_token_never_exported_needs_no_deactivation_and_a_confirmed_export_outlives_newer_changes(
    desk, tmp_path
):
    populated(desk)
    first = export(desk, tmp_path, serials=(YK,))
    lc.report_lost(desk.station, FT, operator=op("carol"), reason="never exported")
    assert outstanding(desk.station.ledger.db) == {"register": 0, "deactivate": 0}
    lc.report_lost(desk.station, YK, operator=op("carol"), reason="lost before the import was confirmed")
    confirm_export(desk.station, first.export_id, operator=op("carol"))
    # The IdP has it now, and it is lost: the deactivation is still outstanding.
    assert outstanding(desk.station.ledger.db) == {"register": 0, "deactivate": 1}
    assert [(c.serial, c.action) for c in choose(desk.station.ledger.db, Selection(since_last=True))] == [
        (YK, "deactivate")
    ]


def test_choosing_by_replacement_site_batch_and_wave(desk, tmp_path):
    populated(desk)
    db = desk.station.ledger.db
    lc.report_lost(desk.station, YK, operator=op("carol"), reason="bus")
    desk.clock.advance(minutes=20)
    desk.only(20261203)
    # A replacement of a lost token: a supervisor approves it (four-eyes).
    issue_totp(desk.station, IssueRequest(20261203, "alice", op("dave")), approver=approval("sam"))
    pairs = {(c.serial, c.action) for c in choose(db, Selection(replacement=YK))}
    assert pairs == {(YK, "deactivate"), ("20261203", "register")}
    assert pairs == {(c.serial, c.action) for c in choose(db, Selection(replacement="20261203"))}
    with pytest.raises(InputError, match="no replacement token yet"):
        lc.report_lost(desk.station, FT, operator=op("carol"), reason="x")
        choose(db, Selection(replacement=FT))
    batch = db.execute("SELECT batch FROM seeds WHERE serial = ?", [OTP]).fetchone()[0]
    assert [c.serial for c in choose(db, Selection(serials=(OTP,)))] == [OTP]  # in stock: pre-register
    assert [c.serial for c in choose(db, Selection(batch=batch))] == []  # a batch takes tokens in use
    wave = choose(db, Selection(issued_since="2026-12-03T09:10:00Z"))
    assert [(c.serial, c.action) for c in wave] == [("20261203", "register")]
    # A site takes its tokens in use and what the IdP must stop trusting; the two lost tokens were never
    # exported, so the IdP has nothing to stop (an explicit --serial or --replacement still takes them).
    assert [c.serial for c in choose(db, Selection(site="branch-07"))] == ["20261203"]
    with pytest.raises(InputError, match="No tokens chosen"):
        choose(db, Selection())


def test_a_reset_token_goes_on_the_deactivation_list_and_its_new_credential_is_registered(desk, tmp_path):
    populated(desk)
    confirm_export(desk.station, export(desk, tmp_path, since_last=True).export_id, operator=op("carol"))
    # Four-eyes (issue 6): the owner's codes stop; the IdP must stop trusting the old credential too.
    lc.reset_token(desk.station, YK, operator=op("carol"), approver=approval("sam"), reason="owner doubts it")
    assert outstanding(desk.station.ledger.db) == {"register": 0, "deactivate": 1}
    gone = export(desk, tmp_path, "privacyidea-csv", operator="carol", since_last=True, deactivations=True)
    assert gone.serials == (YK,)
    listed = open(gone.path, encoding="utf-8").read()
    assert listed == f"serial,user,action,reason\n{YK},alice,revoke,returned\n"
    confirm_export(desk.station, gone.export_id, operator=op("carol"))
    desk.only(YK_SERIAL)
    issue_totp(desk.station, IssueRequest(YK_SERIAL, "alice", op("carol")))
    assert outstanding(desk.station.ledger.db) == {"register": 1, "deactivate": 0}
    assert check_rebuild(desk.station) == []
