"""Pilot tests for the kiosk against real parts: an initialised station in tmp_path, the real pcscd
and virtual YubiKeys served by the emulator (fixtures `pcscd` and `virtual_key` in tests/conftest.py),
and the real ykman CLI to read codes off a key. The custodian carol signs in with her test token
(tests/operator_tokens.py); the in-process kiosk tests are in test_kiosk_operators.py.

Every wait is a condition polled with a deadline (`wait_until`), never a fixed sleep.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from pathlib import Path

import operator_tokens as ot
import pytest
from desk_fixtures import desk_at
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, TabbedContent

from station.clock import system_clock
from station.core import open_readonly, open_station
from tui.app import KioskApp
from tui.screens.confirm_exit import ConfirmExitScreen
from tui.screens.main import MainScreen
from tui.screens.sign_in import SignInScreen
from tui.screens.unlock import UnlockScreen
from tui.widgets.result_panel import ResultPanel

PASSPHRASE = "correct horse battery"
SIZE = (150, 50)
SERIAL_A = 31000001
SERIAL_B = 31000002
SECOND_PORT = 35964  # "Virtual PCD 00 01"


async def wait_until(pilot: Pilot, condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; {describe(pilot.app)}")
        await pilot.pause(0.05)


def describe(app: KioskApp) -> str:
    """What the kiosk shows, for failure messages."""
    screen = app.screen
    if not isinstance(screen, MainScreen):
        shown = {p.id: p.plain for p in screen.query(ResultPanel)}
        fields = {i.id: i.value for i in screen.query(Input) if not i.password}
        return f"screen is {type(screen).__name__}, results {shown}, fields {fields}"
    status = screen.query_one("#key-status").render()
    results = {p.id: p.plain for p in screen.query(ResultPanel)}
    return f"keys shown {shown_serials(app)}, key status {str(status)!r}, results {results}"


@pytest.fixture
def station_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "station"
    desk = desk_at(data_dir, system_clock, {"carol": "custodian"})  # the custodian who signs in
    desk.station.close()
    return data_dir


def next_code(data_dir: Path, who: str = "carol") -> str:
    """carol's next HOTP code: the one after the last the station accepted."""
    station = open_readonly(data_dir)
    try:
        row = station.ledger.db.execute(
            "SELECT last_step FROM operator_tokens WHERE operator = ?", [who]).fetchone()
    finally:
        station.close()
    return ot.code_at(who, row[0] + 1)


def ledger_entries(data_dir: Path) -> list:
    station = open_readonly(data_dir)
    try:
        return list(station.ledger.entries())
    finally:
        station.close()


def action_entries(data_dir: Path) -> list:
    """The ledger without sign-ins and sign-outs (the operator's own, recorded by design)."""
    return [e for e in ledger_entries(data_dir) if not e.type.startswith("operator.sign")]


def shown_serials(app: KioskApp) -> list[str]:
    table = app.screen.query_one("#key-table", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def panel(app: KioskApp, panel_id: str) -> ResultPanel:
    return app.screen.query_one(f"#{panel_id}", ResultPanel)


def desk_ready(app: KioskApp) -> bool:
    """The main screen is up with its tabs and forms mounted (not merely pushed)."""
    screen = app.screen
    if not isinstance(screen, MainScreen) or not screen.query("#issue-owner"):
        return False
    return screen.query_one("#desk-tabs", TabbedContent).active == "issue-tab"


async def at_desk(pilot: Pilot, who: str = "carol") -> None:
    """Sign `who` in (id, PIN, next code), then wait for the desk."""
    app = pilot.app

    def sign_in_shown() -> bool:
        # Laid out, not merely pushed: a click before that lands on nothing.
        screen = app.screen
        return isinstance(screen, SignInScreen) and bool(screen.query("#signin-button")) and (
            screen.query_one("#signin-button").region.area > 0)

    await wait_until(pilot, sign_in_shown, "the sign-in screen")
    for selector, text in (("#signin-id", who), ("#signin-pin", ot.pin(who)),
                           ("#signin-code", next_code(app.data_dir, who))):
        app.screen.query_one(selector, Input).value = text
    await pilot.click("#signin-button")
    await wait_until(pilot, lambda: desk_ready(pilot.app), "the main screen")


async def type_into(pilot: Pilot, selector: str, text: str) -> None:
    await pilot.click(selector)
    pilot.app.screen.query_one(selector, Input).value = ""
    await pilot.press(*text)


async def issue_via_form(pilot: Pilot, serial: int, owner: str) -> ResultPanel:
    app = pilot.app
    select = app.screen.query_one("#issue-serial", Select)
    await wait_until(pilot, lambda: select.value == serial, f"key {serial} chosen in the form")
    await type_into(pilot, "#issue-owner", owner)
    await pilot.click("#issue-button")
    result = panel(app, "issue-result")
    await wait_until(pilot, lambda: result.outcome in ("success", "error"), "the issue to finish", 60)
    return result


# -- unlock ----------------------------------------------------------------------------------------


async def test_unlock_screen_shows_wrong_passphrase_then_opens(pcscd, station_dir):
    app = KioskApp(station_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, UnlockScreen), "the unlock screen")
        field = app.screen.query_one("#unlock-passphrase", Input)
        assert field.password
        await type_into(pilot, "#unlock-passphrase", "wrong horse")
        await pilot.press("enter")
        result = panel(app, "unlock-result")
        await wait_until(pilot, lambda: result.outcome == "error", "the wrong-passphrase error")
        assert "does not open this station's vault" in result.plain
        assert "What to do:" in result.plain
        assert field.value == ""  # the wrong passphrase is not left on screen

        await type_into(pilot, "#unlock-passphrase", PASSPHRASE)
        await pilot.press("enter")
        await at_desk(pilot)
        assert "branch-07" in app.screen.sub_title


async def test_unlock_screen_says_station_not_initialised(pcscd, tmp_path):
    app = KioskApp(tmp_path / "nowhere")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, UnlockScreen), "the unlock screen")
        result = panel(app, "unlock-result")
        await wait_until(pilot, lambda: result.outcome == "error", "the not-initialised error")
        assert "does not exist" in result.plain
        assert "station init" in result.plain


# -- (a) key list follows keys ---------------------------------------------------------------------


async def test_key_list_follows_keys_coming_and_going(virtual_key, station_dir):
    first = virtual_key(serial=SERIAL_A)
    app = KioskApp(station_dir, PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(pilot)
        await wait_until(pilot, lambda: shown_serials(app) == [str(SERIAL_A)], "the first key listed")
        row = app.screen.query_one("#key-table", DataTable).get_row_at(0)
        assert row[1:5] == ["not issued", "YubiKey 5 NFC", "5.4.3", first.reader]

        second = virtual_key(serial=SERIAL_B, port=SECOND_PORT)
        await wait_until(pilot, lambda: sorted(shown_serials(app)) == sorted([str(SERIAL_A), str(SERIAL_B)]),
                         "the second key listed")

        first.stop()
        await wait_until(pilot, lambda: shown_serials(app) == [str(SERIAL_B)], "the first key gone")
        # The issue form offers only what is present, and picks the single key by itself.
        select = app.screen.query_one("#issue-serial", Select)
        await wait_until(pilot, lambda: select.value == SERIAL_B, "the remaining key chosen")

        second.stop()
        await wait_until(pilot, lambda: shown_serials(app) == [], "no key listed")
        assert "No key inserted" in str(app.screen.query_one("#key-status").render())


# -- (b) issue -------------------------------------------------------------------------------------


async def test_issue_form_programs_key_and_records_without_seed(virtual_key, station_dir):
    key = virtual_key(serial=SERIAL_A)
    app = KioskApp(station_dir, PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(pilot)
        result = await issue_via_form(pilot, SERIAL_A, "alice")
        assert result.outcome == "success", result.plain
        assert "Token issued" in result.plain
        assert "Token Station:alice" in result.plain
        assert str(SERIAL_A) in result.plain
        # The key list re-reads the key and shows its new credential.
        table = app.screen.query_one("#key-table", DataTable)
        # ... and who holds it now.
        await wait_until(pilot, lambda: table.row_count == 1 and str(table.get_row_at(0)[5]) == "1"
                         and str(table.get_row_at(0)[1]) == "alice", "the credential count and holder")

    issued = [e for e in ledger_entries(station_dir) if e.type == "token.issued"]
    assert len(issued) == 1
    body = issued[0].body
    assert body["owner"] == "alice" and body["serial"] == SERIAL_A and body["custodian"] == "carol"
    assert f"#{issued[0].seq}" in result.plain
    assert not any("seed" in name and name != "seed_fingerprint" for name in body)

    # The seed itself (from the vault) appears in no ledger entry, in any spelling.
    station = open_station(station_dir, PASSPHRASE)
    try:
        blob = station.ledger.db["vault_records"].get(body["vault_record"])["blob"]
        seed = station.vault.open(body["vault_record"], blob)
    finally:
        station.close()
    everything = b"".join(e.raw for e in ledger_entries(station_dir))
    for spelling in (seed, seed.hex().encode(), base64.b32encode(seed), base64.b64encode(seed),
                     base64.b32encode(seed).rstrip(b"=")):
        assert spelling not in everything
    # And the credential really is on the key, as ykman sees it.
    from pcsc_harness import run_ykman

    accounts = run_ykman(key.reader, "oath", "accounts", "list")
    assert "Token Station:alice" in accounts.stdout, accounts.stderr


# -- (c) validation --------------------------------------------------------------------------------


async def test_empty_owner_is_refused_and_nothing_is_recorded(virtual_key, station_dir):
    virtual_key(serial=SERIAL_A)
    before = action_entries(station_dir)
    app = KioskApp(station_dir, PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(pilot)
        result = await issue_via_form(pilot, SERIAL_A, "")
        assert result.outcome == "error"
        assert "The owner is empty." in result.plain
        assert "What to do:" in result.plain
        assert result.has_class("-error")
        assert app.focused is app.screen.query_one("#issue-owner", Input)  # cursor sent to the field
    assert action_entries(station_dir) == before


# -- (d) no accidental exit ------------------------------------------------------------------------


async def test_quit_keys_do_not_exit_and_leaving_asks_first(pcscd, station_dir):
    app = KioskApp(station_dir, PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(pilot)
        await pilot.click("#issue-owner")  # with an input focused too: ctrl+c must not be "copy" + exit
        for key in ("ctrl+q", "ctrl+c", "ctrl+p"):
            await pilot.press(key)
            await pilot.pause()
            assert app.is_running and app.return_code is None, key
            assert isinstance(app.screen, MainScreen), key
        assert not any(isinstance(s, CommandPalette) for s in app.screen_stack)
        assert any("Ctrl+X" in str(n.message) for n in app._notifications)

        await pilot.press("ctrl+x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmExitScreen), "the exit dialog")
        await pilot.press("enter")  # the reflexive Enter lands on "Stay"
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "back at the desk")
        assert app.is_running

        await pilot.press("ctrl+x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmExitScreen), "the exit dialog")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "back at the desk")

        await pilot.press("ctrl+x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmExitScreen), "the exit dialog")
        await pilot.click("#leave")
        await wait_until(pilot, lambda: app.return_code == 0, "the kiosk to exit")

    # Clean exit: the watcher thread ended and the desk thread (which closed the station) is gone.
    assert app.watch.done.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("kiosk-desk")]


# -- (e) verify ------------------------------------------------------------------------------------


async def test_verify_accepts_code_once_and_rejects_wrong(virtual_key, ykman, station_dir):
    key = virtual_key(serial=SERIAL_A)
    app = KioskApp(station_dir, PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(pilot)
        issued = await issue_via_form(pilot, SERIAL_A, "dave")
        assert issued.outcome == "success", issued.plain
        # The kiosk re-reads the key after an issue; let it finish before ykman asks for the card.
        table = app.screen.query_one("#key-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1 and str(table.get_row_at(0)[5]) == "1",
                         "the key list to re-read the key")
        await wait_until(pilot, lambda: not [w for w in app.screen.query_one("#keys").workers
                                             if w.group == "key-refresh" and w.is_running],
                         "key refreshes to settle")

        out = ykman(key.reader, "oath", "accounts", "code", "-s", "Token Station:dave")
        code = out.stdout.strip()
        assert out.returncode == 0 and code.isdigit() and len(code) == 6, (out.stdout, out.stderr)

        await pilot.press("f3")
        tabs = app.screen.query_one("#desk-tabs", TabbedContent)
        owner_field = app.screen.query_one("#verify-owner", Input)
        await wait_until(pilot, lambda: tabs.active == "verify-tab" and app.focused is owner_field,
                         "the Verify tab, cursor in Owner")
        result = panel(app, "verify-result")

        async def check(owner: str, typed: str) -> None:
            before = result.plain
            await type_into(pilot, "#verify-owner", owner)
            await type_into(pilot, "#verify-code", typed)
            await pilot.press("enter")
            await wait_until(pilot, lambda: result.outcome in ("success", "error") and result.plain != before,
                             "the verification result")

        await check("dave", code)
        assert result.outcome == "success", result.plain
        assert result.plain.startswith("ACCEPTED")
        assert app.screen.query_one("#verify-code", Input).value == ""

        await check("dave", code)
        assert result.outcome == "error"
        assert result.plain.startswith("REJECTED")
        assert "already used" in result.plain

        wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"
        await check("dave", wrong)
        assert result.outcome == "error"
        assert "does not match" in result.plain

    outcomes = [(e.type, e.body.get("reason"), e.actor) for e in ledger_entries(station_dir)
                if e.type.startswith("otp.")]
    assert outcomes == [("otp.accepted", None, "carol"), ("otp.rejected", "replay", "carol"),
                        ("otp.rejected", "wrong code", "carol")]
    # The code itself is never recorded (compare whole values: a 6-digit string can occur inside hex).
    assert not [e for e in ledger_entries(station_dir) if code in (str(v) for v in e.body.values())]


async def test_key_pulled_mid_write_is_settled_when_it_comes_back(station_dir, virtual_key, ykman):
    key = virtual_key(SERIAL_A, extra_args=["--pull-on-ins", "01"])  # pulled when the PUT arrives
    app = KioskApp(station_dir, passphrase=PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(pilot)
        result = await issue_via_form(pilot, SERIAL_A, "frank")
        assert result.outcome == "error" and "removed while the credential was being written" in result.plain
        key.wait_removed()
        assert ledger_entries(station_dir)[-1].type == "token.issue.started"

        virtual_key(SERIAL_A, state=key.state_path)  # the same key, back in the reader
        await wait_until(
            pilot, lambda: ledger_entries(station_dir)[-1].type == "token.issue.failed", "reconcile"
        )
        settled = ledger_entries(station_dir)[-1]
        assert settled.body["reason"] == "interrupted" and settled.actor == "carol"


async def test_a_key_held_by_another_program_is_shown_busy(station_dir, virtual_key):
    from smartcard.CardConnection import CardConnection
    from smartcard.scard import SCARD_SHARE_EXCLUSIVE
    from smartcard.System import readers

    key = virtual_key(SERIAL_A)
    app = KioskApp(station_dir, passphrase=PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(pilot)
        await wait_until(pilot, lambda: shown_serials(app) == [str(SERIAL_A)], "the key listed")
        held = next(r for r in readers() if str(r) == key.reader).createConnection()
        held.connect(CardConnection.T1_protocol, mode=SCARD_SHARE_EXCLUSIVE)
        try:
            await pilot.press("f5")
            status = app.screen.query_one("#key-status")
            await wait_until(pilot, lambda: "Busy: the key in Virtual PCD 00 00" in str(status.render()),
                             "the busy line")
        finally:
            held.disconnect()
            held.release()
        await pilot.press("f5")
        await wait_until(pilot, lambda: "Busy" not in str(status.render())
                         and shown_serials(app) == [str(SERIAL_A)], "the key back, not busy")


# -- IdP hand-off (F6) --------------------------------------------------------------------------------


async def test_f6_opens_the_idp_hand_off_and_escape_returns_to_the_desk(pcscd, station_dir):
    from tui.screens.handoff import HandOffScreen

    app = KioskApp(station_dir, passphrase=PASSPHRASE)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(pilot)
        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, HandOffScreen), "the hand-off screen")
        outstanding = app.screen.query_one("#handoff-outstanding")
        await wait_until(pilot, lambda: "Not exported yet" in str(outstanding.render()), "the counts")
        await pilot.press("escape")
        await wait_until(pilot, lambda: desk_ready(app), "back at the desk")
