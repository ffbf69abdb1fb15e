"""The kiosk's IdP hand-off screen, driven with Textual's Pilot in-process: no pcscd is needed, because
the screen runs in a small host app on a station opened on the desk thread (the kiosk's own rule: the
station is used from the thread that opened it). Export, see it pending, confirm it, and the ledger
and reports follow.
"""

from __future__ import annotations

import os
import time

import pytest
from desk_fixtures import PASS
from idp_helpers import PASSWORD, populated
from textual.app import App
from textual.widgets import Button, DataTable, Input

from station.core import open_station
from tui.desk import DeskThread
from tui.screens.handoff import HandOffScreen
from tui.widgets.result_panel import ResultPanel


class Host(App[None]):
    CSS_PATH = "../../../tui/kiosk.tcss"

    def __init__(self, station, desk) -> None:
        super().__init__()
        self.station, self.desk = station, desk

    def on_mount(self) -> None:
        self.push_screen(HandOffScreen(self.station, self.desk, "sam"))


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
        app = Host(station, worker)
        async with app.run_test(size=(160, 60)) as pilot:
            screen = app.screen
            panel = screen.query_one("#handoff-result", ResultPanel)
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
