"""The kiosk's IdP hand-off screen, driven with Textual's Pilot in-process: no pcscd is needed, because
the screen runs in a small host app on a station opened on the desk thread (the kiosk's own rule: the
station is used from the thread that opened it). The operator signs in on that thread as at the
kiosk (id, PIN, a code from their test token) and the screen acts with that session. Export, see it
pending, confirm it, and the ledger and reports follow; a custodian gets deactivation lists only.
"""

from __future__ import annotations

import os
import time

import operator_tokens as ot
import pytest
from desk_fixtures import PASS, op
from idp_helpers import PASSWORD, populated
from textual.app import App
from textual.widgets import Button, Checkbox, DataTable, Input

from station.core import open_station
from station.operators.signin import sign_in
from tui.desk import DeskThread
from tui.screens.handoff import HandOffScreen
from tui.widgets.result_panel import ResultPanel


class Host(App[None]):
    CSS_PATH = "../../../tui/kiosk.tcss"

    def __init__(self, station, desk, session, roles) -> None:
        super().__init__()
        self.station, self.desk, self.session, self.roles = station, desk, session, roles

    def on_mount(self) -> None:
        self.push_screen(HandOffScreen(self.station, self.desk, self.session, self.roles))


async def signed_in(worker, station, desk, who):
    """Sign `who` in on the desk thread, as the kiosk's sign-in screen does."""
    return await worker.run(sign_in, station, who, ot.pin(who), desk.codes.next(who))


async def until(pilot, condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def test_export_and_confirm_at_the_kiosk(desk, tmp_path):
    populated(desk)
    data_dir, clock, bus = desk.station.data_dir, desk.clock, desk.bus
    desk.station.close()
    usb = tmp_path / "usb"
    usb.mkdir(mode=0o700)
    worker = DeskThread()
    station = await worker.run(open_station, data_dir, PASS, clock=clock, bus=bus)
    desk.station = station  # the fixture closes it; closing from this thread is refused, so close here
    try:
        session = await signed_in(worker, station, desk, "sam")
        app = Host(station, worker, session, frozenset({"supervisor"}))
        async with app.run_test(size=(160, 60)) as pilot:
            screen = app.screen
            panel = screen.query_one("#handoff-result", ResultPanel)
            assert not screen.query_one("#handoff-deactivations", Checkbox).disabled
            screen.query_one("#handoff-to", Input).value = str(usb)
            screen.query_one("#handoff-upn", Input).value = "example.org"
            screen.query_one("#handoff-password", Input).value = PASSWORD
            screen.query_one("#handoff-password2", Input).value = PASSWORD + "x"
            screen.query_one("#handoff-export", Button).press()
            await until(pilot, lambda: panel.outcome == "error", "the password mismatch")
            assert "passwords differ" in panel.plain and os.listdir(usb) == []
            assert screen.query_one("#handoff-password", Input).value == ""  # cleared after use

            screen.query_one("#handoff-password", Input).value = PASSWORD
            screen.query_one("#handoff-password2", Input).value = PASSWORD
            before = panel.plain
            screen.query_one("#handoff-export", Button).press()
            await until(
                pilot,
                lambda: panel.plain != before and panel.outcome in ("success", "error"),
                "the export's outcome",
            )
            # entra-csv is the default: the HOTP token cannot go there, and the screen says why
            assert panel.outcome == "error" and "Entra ID takes TOTP hardware tokens only" in panel.plain

            screen.query_one("#handoff-format").value = "pskc"
            await pilot.pause()
            for field in ("#handoff-password", "#handoff-password2"):
                screen.query_one(field, Input).value = PASSWORD
            screen.query_one("#handoff-export", Button).press()
            await until(pilot, lambda: panel.outcome == "success", "the PSKC export")
            files = os.listdir(usb)
            assert len(files) == 1 and files[0].endswith(".pskc.xml")
            assert oct(os.stat(usb / files[0]).st_mode & 0o777) == "0o600"
            table = screen.query_one("#handoff-pending", DataTable)
            await until(pilot, lambda: table.row_count == 1, "the pending export listed")
            export_id = str(table.get_row_at(0)[0])
            assert export_id in panel.plain

            screen.query_one("#handoff-confirm", Button).press()
            await until(pilot, lambda: "CONFIRMED" in panel.plain, "the confirmation")
            await until(pilot, lambda: table.row_count == 0, "the pending list emptied")
        types = await worker.run(lambda: [e.type for e in station.ledger.entries()])
        assert types[-2:] == ["idp.exported", "idp.export_confirmed"]
        active = await worker.run(
            lambda: station.ledger.db.execute(
                "SELECT count(*) FROM idp_tokens WHERE idp_state = 'registered'"
            ).fetchone()[0]
        )
        assert active == 2
    finally:
        await worker.run(station.close)
        desk.station = open_station(data_dir, PASS, clock=clock, bus=bus)  # for the fixture's teardown
        worker.shutdown()


async def test_a_custodian_writes_deactivation_lists_and_confirms_but_exports_no_secrets(desk, tmp_path):
    from station.idp.exports import ExportRequest, export_tokens
    from station.idp.selection import Selection
    from station.inventory import lifecycle as lc

    populated(desk)
    # The IdP knows alice's YubiKey (a supervisor's export, confirmed); then it is lost.
    usb = tmp_path / "usb"
    usb.mkdir(mode=0o700)
    request = ExportRequest("privacyidea-csv", usb, Selection(since_last=True), password=PASSWORD)
    exported = export_tokens(desk.station, request, operator=op("sam"))
    from station.idp.exports import confirm_export

    confirm_export(desk.station, exported.export_id, operator=op("carol"))
    lc.report_lost(desk.station, str(exported.serials[0]), operator=op("carol"), reason="train")
    data_dir, clock, bus = desk.station.data_dir, desk.clock, desk.bus
    desk.station.close()
    worker = DeskThread()
    station = await worker.run(open_station, data_dir, PASS, clock=clock, bus=bus)
    desk.station = station
    try:
        session = await signed_in(worker, station, desk, "carol")
        app = Host(station, worker, session, frozenset({"custodian"}))
        async with app.run_test(size=(160, 60)) as pilot:
            screen = app.screen
            box = screen.query_one("#handoff-deactivations", Checkbox)
            assert box.value and box.disabled  # registrations carry secrets: not offered to a custodian
            assert not screen.query("#handoff-password") and not screen.query("#handoff-password2")
            panel = screen.query_one("#handoff-result", ResultPanel)
            screen.query_one("#handoff-format").value = "privacyidea-csv"
            screen.query_one("#handoff-to", Input).value = str(usb)
            await pilot.pause()
            screen.query_one("#handoff-export", Button).press()
            await until(pilot, lambda: panel.outcome in ("success", "error"), "the deactivation list")
            assert panel.outcome == "success", panel.plain
        event = await worker.run(lambda: list(station.ledger.entries())[-1])
        assert event.type == "idp.exported" and event.actor == "carol"
        assert event.body["purpose"] == "deactivate" and event.body["protection"].startswith("none")
    finally:
        await worker.run(station.close)
        desk.station = open_station(data_dir, PASS, clock=clock, bus=bus)
        worker.shutdown()
