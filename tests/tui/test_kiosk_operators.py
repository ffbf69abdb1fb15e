"""Pilot tests of the kiosk's operator sign-in, roles, inactivity lock, four-eyes dialogs and every
code kind, in-process: the kiosk is given the station's in-process bus of virtual YubiKeys and a clock
the test moves, so no pcscd is involved and the real APDU code runs against the emulated keys.

Every wait is a condition polled with a deadline (`wait_until`), never a fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import operator_tokens as ot
import pytest
from desk_fixtures import PASS, T0, MovableClock, desk_at
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, TabbedContent
from yubikit.oath import OathSession

from drivers.emulator import VirtualYubiKey
from drivers.emulator.bus import VirtualBus
from drivers.emulator.connection import VirtualConnection
from station.core import open_readonly
from tui.app import KioskApp
from tui.screens.approve import ApproveScreen
from tui.screens.main import MainScreen
from tui.screens.sign_in import SignInScreen
from tui.widgets.result_panel import ResultPanel

SIZE = (150, 60)
SERIAL = 32000001


async def wait_until(pilot: Pilot, condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {timeout:.0f}s waiting for {what}; screen {type(pilot.app.screen).__name__}"
                f" {[p.plain for p in pilot.app.screen.query(ResultPanel)]}"
            )
        await pilot.pause(0.05)


@pytest.fixture
def station(tmp_path):
    """A station directory with the usual operators, closed; the kiosk opens it."""
    clock = MovableClock(T0)
    bus = VirtualBus(readers=2)
    desk = desk_at(tmp_path / "station", clock, bus=bus)
    desk.envelope = desk.station.init_envelope
    desk.station.close()
    return desk


def kiosk(desk) -> KioskApp:
    return KioskApp(desk.station.data_dir, PASS, bus=desk.bus, clock=desk.clock)


def entries(desk) -> list:
    station = open_readonly(desk.station.data_dir)
    try:
        return list(station.ledger.entries())
    finally:
        station.close()


def panel(app: KioskApp, panel_id: str) -> ResultPanel:
    return app.screen.query_one(f"#{panel_id}", ResultPanel)


async def type_into(pilot: Pilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.value = ""
    field.focus()
    await pilot.press(*text)


async def sign_in(pilot: Pilot, desk, who: str, pin: str | None = None, code: str | None = None) -> None:
    await wait_until(
        pilot,
        lambda: isinstance(pilot.app.screen, SignInScreen) and pilot.app.screen.query("#signin-id"),
        "the sign-in screen",
    )
    await type_into(pilot, "#signin-id", who)
    await type_into(pilot, "#signin-pin", pin if pin is not None else ot.pin(who))
    await type_into(pilot, "#signin-code", code if code is not None else desk.codes.next(who))
    await pilot.press("enter")


async def signed_in(pilot: Pilot, desk, who: str) -> MainScreen:
    await sign_in(pilot, desk, who)
    await wait_until(
        pilot,
        lambda: isinstance(pilot.app.screen, MainScreen) and pilot.app.screen.query(TabbedContent),
        f"{who} at the desk",
    )
    return pilot.app.screen


async def approve_as(pilot: Pilot, desk, who: str) -> None:
    await wait_until(
        pilot,
        lambda: isinstance(pilot.app.screen, ApproveScreen) and pilot.app.screen.query("#approve-id"),
        "the approval dialog",
    )
    await type_into(pilot, "#approve-id", who)
    await type_into(pilot, "#approve-pin", ot.pin(who))
    await type_into(pilot, "#approve-code", desk.codes.next(who))
    await pilot.press("enter")


# -- sign-in, roles, lockout -----------------------------------------------------------------------


async def test_the_idp_hand_off_is_offered_to_roles_that_may_export_and_acts_as_the_signed_in_operator(
    station,
):
    from textual.widgets import Checkbox

    from tui.screens.handoff import HandOffScreen

    app = kiosk(station)
    async with app.run_test(size=SIZE) as pilot:
        main = await signed_in(pilot, station, "audrey")  # an auditor exports nothing
        assert main.check_action("handoff", ()) is False
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("f10")
        await signed_in(pilot, station, "carol")  # a custodian: deactivation lists and confirmations
        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, HandOffScreen), "carol's hand-off screen")
        box = app.screen.query_one("#handoff-deactivations", Checkbox)
        assert box.value and box.disabled and not app.screen.query("#handoff-password")
        assert "carol" in app.screen.sub_title
        await pilot.press("f10")  # signing out from the hand-off leaves it too
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen), "signed out")
        await signed_in(pilot, station, "sam")  # a supervisor also exports secrets
        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, HandOffScreen), "sam's hand-off screen")
        assert not app.screen.query_one("#handoff-deactivations", Checkbox).disabled
        assert app.screen.query("#handoff-password")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "back at the desk")


async def test_sign_in_refuses_a_wrong_pin_then_shows_only_what_the_role_may_do(station):
    app = kiosk(station)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, station, "carol", pin="not-her-pin")
        result = panel(app, "signin-result")
        await wait_until(pilot, lambda: result.outcome == "error", "the refusal")
        assert "PIN or the code is wrong" in result.plain and "What to do:" in result.plain
        assert app.screen.query_one("#signin-pin", Input).value == ""  # never left on screen
        main = await signed_in(pilot, station, "carol")
        assert main.tabs == ["issue", "verify"]
        assert not main.query("#temporary-form") and not main.query("#operators-pane")
        assert "carol (custodian)" in main.sub_title
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen), "signed out")
        main = await signed_in(pilot, station, "hank")
        assert main.tabs == ["issue", "verify", "temporary", "operators"]
    kinds = [(e.type, e.body.get("reason")) for e in entries(station) if e.type.startswith("operator.sign")]
    assert kinds[-5:] == [
        ("operator.sign_in_failed", "wrong pin"),
        ("operator.signed_in", None),
        ("operator.signed_out", "signed out"),
        ("operator.signed_in", None),
        ("operator.signed_out", "kiosk closed"),
    ]


async def test_failures_lock_the_operator_out_and_a_locked_operator_cannot_sign_in(station):
    from station.core import open_station
    from station.operators.lockout import lock_operator

    st = open_station(station.station.data_dir, PASS, clock=station.clock, bus=station.bus)
    station.station = st
    lock_operator(st, "dave", operator=station.op("hank"), reason="token reported stolen")
    st.close()
    app = kiosk(station)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, station, "dave")
        result = panel(app, "signin-result")
        await wait_until(pilot, lambda: result.outcome == "error", "the refusal")
        assert "dave is locked: they cannot sign in" in result.plain
        for _ in range(3):
            before = result.plain
            await sign_in(pilot, station, "carol", pin="wrong-pin-123")
            await wait_until(
                pilot, lambda b=before: result.plain != b and result.outcome == "error", "a refusal"
            )
        assert "must wait 30 s" in result.plain
        await sign_in(pilot, station, "carol")  # the right PIN and code, but too soon
        await wait_until(pilot, lambda: "locked out" in result.plain, "the lockout")
        station.clock.advance(seconds=31)
        await signed_in(pilot, station, "carol")
    failed = [
        e.body
        for e in entries(station)
        if e.type == "operator.sign_in_failed" and e.body["operator"] == "carol"
    ]
    assert [b.get("failures") for b in failed] == [1, 2, 3, None]
    assert failed[2]["locked_until"] == "2026-12-03T09:00:30Z" and failed[3]["reason"] == "locked out"


async def test_inactivity_signs_the_operator_out(station):
    app = kiosk(station)
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot, station, "carol")
        station.clock.advance(minutes=9)
        await app.check_inactivity()
        assert isinstance(app.screen, MainScreen)
        station.clock.advance(minutes=1)
        # The new screen mounts its widgets after it becomes the current screen: wait for both.
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen)
                         and len(app.screen.query("#signin-result")) > 0, "the inactivity lock")
        await wait_until(pilot, lambda: "without activity" in panel(app, "signin-result").plain,
                         "the reason shown on the sign-in screen")
    assert [e.body["reason"] for e in entries(station) if e.type == "operator.signed_out"] == ["inactivity"]


# -- devices and codes -----------------------------------------------------------------------------


async def test_issue_on_a_virtual_key_and_verify_its_code_in_the_kiosk(station):
    key = VirtualYubiKey.open(SERIAL)
    station.bus.insert(key)
    app = kiosk(station)
    async with app.run_test(size=SIZE) as pilot:
        main = await signed_in(pilot, station, "carol")
        select = main.query_one("#issue-serial", Select)
        await wait_until(pilot, lambda: select.value == SERIAL, "the virtual key listed and chosen")
        await type_into(pilot, "#issue-owner", "alice")
        await pilot.press("enter")
        result = panel(app, "issue-result")
        await wait_until(pilot, lambda: result.outcome in ("success", "error"), "the issue")
        assert result.outcome == "success", result.plain
        table = main.query_one("#key-table", DataTable)
        await wait_until(pilot, lambda: str(table.get_row_at(0)[1]) == "alice", "the holder shown")
        await wait_until(
            pilot,
            lambda: (
                not [w for w in main.query_one("#keys").workers if w.is_running and w.group == "key-refresh"]
            ),
            "key refreshes to settle",
        )
        oath = OathSession(VirtualConnection(key))
        cred = next(c for c in oath.list_credentials() if c.id == b"Token Station:alice")
        code = oath.calculate_code(cred, int(station.clock().timestamp())).value
        await pilot.press("f3")
        verified = panel(app, "verify-result")
        for typed, outcome in ((code, "ACCEPTED"), (code, "REJECTED")):
            before = verified.plain
            await type_into(pilot, "#verify-owner", "alice")
            await type_into(pilot, "#verify-code", typed)
            await pilot.press("enter")
            await wait_until(
                pilot, lambda b=before: verified.plain != b and verified.outcome != "busy", "the check"
            )
            assert verified.plain.startswith(outcome), verified.plain
        assert "already used" in verified.plain
        before = verified.plain
        await type_into(pilot, "#verify-owner", "alice")
        await type_into(pilot, "#verify-code", "12ab")
        await pilot.press("enter")
        await wait_until(pilot, lambda: verified.plain != before and verified.outcome == "error", "malformed")
        assert verified.plain.startswith("Not checked: fix the form") and "malformed" in verified.plain
    types = [e.type for e in entries(station)]
    assert types.count("otp.accepted") == 1 and types.count("otp.rejected") == 1  # malformed: not recorded


# -- four-eyes -------------------------------------------------------------------------------------


async def test_temporary_access_in_the_kiosk_needs_another_person_than_granter_and_owner(station):
    app = kiosk(station)
    async with app.run_test(size=SIZE) as pilot:
        main = await signed_in(pilot, station, "hank")  # admin and supervisor
        await pilot.press("f4")
        await type_into(pilot, "#temp-owner", "sam")
        await type_into(pilot, "#temp-reason", "left his key at home")
        await pilot.click("#temp-button")
        for who, says in (
            ("hank", "cannot be both operators"),
            ("sam", "is the person this action is about"),
        ):
            await approve_as(pilot, station, who)  # they sign in; the station refuses them as approver
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "back at the desk")
            result = panel(app, "temp-result")
            await wait_until(
                pilot,
                lambda s=says, r=result: r.outcome == "error" and s in r.plain,
                f"{who} refused as approver",
            )
            await pilot.click("#temp-button")
        await approve_as(pilot, station, "carol")
        result = panel(app, "temp-result")
        await wait_until(pilot, lambda: result.outcome == "success", "the code shown")
        code = next(line.split()[-1] for line in result.plain.splitlines() if line.startswith("Code"))
        assert main.query_one("#temp-owner", Input).value == ""
    granted = [e for e in entries(station) if e.type == "temporary.granted"]
    assert len(granted) == 1 and granted[0].body["second_operator"] == "carol" and len(granted[0].sigs) == 2
    assert all(
        code not in e.raw.decode() and code.replace("-", "") not in e.raw.decode() for e in entries(station)
    )


async def test_unlocking_an_operator_in_the_kiosk_takes_a_second_operator(station):
    app = kiosk(station)
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot, station, "hank")
        await pilot.press("f8")
        result = panel(app, "ops-result")
        await type_into(pilot, "#ops-id", "dave")
        await type_into(pilot, "#ops-reason", "badge lost")
        await pilot.click("#ops-lock")
        await wait_until(pilot, lambda: result.outcome == "success", "dave locked")
        await pilot.click("#ops-unlock")
        await approve_as(pilot, station, "dave")  # a locked operator cannot even sign in to approve
        refusal = app.screen.query_one("#approve-result", ResultPanel)
        await wait_until(pilot, lambda: refusal.outcome == "error", "dave refused")
        assert "dave is locked" in refusal.plain
        await approve_as(pilot, station, "hank")  # nor the admin doing the unlock
        await wait_until(pilot, lambda: result.outcome == "error", "hank refused as his own approver")
        assert "cannot be both operators" in result.plain
        await pilot.click("#ops-unlock")
        await approve_as(pilot, station, "sam")
        await wait_until(pilot, lambda: "Operator unlocked" in result.plain, "dave unlocked")
    unlocked = [e for e in entries(station) if e.type == "operator.unlocked"]
    assert [(e.actor, e.body["second_operator"], len(e.sigs)) for e in unlocked] == [("hank", "sam", 2)]


async def test_break_glass_use_is_listed_until_an_auditor_closes_it(station):
    envelope = station.envelope
    app = kiosk(station)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, station, "break-glass", pin=envelope.pin, code=envelope.codes[0])
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "break-glass at the desk")
        assert "break-glass admin (every action is reviewed)" in app.screen.sub_title
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen), "signed out")
        banner = app.screen.query_one("#signin-reviews")
        await wait_until(pilot, lambda: "1 break-glass use(s) await" in str(banner.render()), "the banner")
        await sign_in(pilot, station, "break-glass", pin=envelope.pin, code=envelope.codes[0])  # used once
        result = panel(app, "signin-result")
        await wait_until(pilot, lambda: result.outcome == "error", "a used code refused")
        main = await signed_in(pilot, station, "audrey")
        assert main.tabs == ["reviews"]
        table = main.query_one("#reviews-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "the open review")
        review = str(table.get_row_at(0)[0])
        await type_into(pilot, "#review-id", review)
        await type_into(pilot, "#review-note", "night shift emergency, checked with the supervisor")
        await pilot.press("enter")
        await wait_until(pilot, lambda: panel(app, "review-result").outcome == "success", "the review closed")
        await wait_until(pilot, lambda: table.row_count == 0, "no review open")
