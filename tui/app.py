"""The Token Station kiosk: a Textual app for the token desk.

    station kiosk                  # asks for the vault passphrase unless STATION_PASSPHRASE is set

The vault is unlocked first (passphrase or an admin's YubiKey), then an operator signs in with their
id, PIN and a code from their own token; the desk shows what their roles allow. F10 signs out. After
the policy's idle time without a key press or click the kiosk signs the operator out by itself
(recorded as ``operator.signed_out``, reason inactivity) and returns to the sign-in screen.

Leaving the kiosk is deliberate: press Ctrl+X, then choose "Leave kiosk" in the dialog (Stay has
the focus, Escape stays). Ctrl+Q and Ctrl+C do not exit; they only say how to leave. There is no
command palette.

The app takes the station's key bus (pcscd by default; an in-process bus of virtual keys in tests)
and its clock, so everything the kiosk does runs the same in Pilot tests without pcscd.

On exit the key-watcher thread is stopped and the station is closed on the desk thread (the one
that opened it), after any key programming in progress has finished.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from textual import events, work
from textual.app import App
from textual.binding import Binding

from station.clock import Clock, system_clock
from station.core import Station
from station.devices import PCSC, KeyBus
from station.errors import StationError
from station.operators.sessions import Session
from station.operators.signin import sign_out, touch

from .desk import DeskThread
from .screens.confirm_exit import ConfirmExitScreen
from .screens.main import MainScreen
from .screens.sign_in import SignInScreen
from .screens.unlock import UnlockScreen
from .widgets.key_list import WatchControl

PASSPHRASE_ENV = "STATION_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
EXIT_KEY = "ctrl+x"
LEAVE_HINT = "The kiosk stays open. To leave it, press Ctrl+X and choose Leave kiosk."
WATCHER_STOP_SECONDS = 3.0
IDLE_CHECK_SECONDS = 1.0
TOUCH_EVERY = timedelta(seconds=30)  # how often typing keeps the station-side session alive


class KioskApp(App[int]):
    TITLE = "Token Station"
    CSS_PATH = "kiosk.tcss"
    ENABLE_COMMAND_PALETTE = False  # the palette offers "Quit" and other things a kiosk must not
    # priority=True: these win over every widget, so no focused input can swallow or repurpose them.
    BINDINGS = [
        Binding(EXIT_KEY, "leave", "Leave kiosk", priority=True),
        Binding("ctrl+q", "refuse_quit", show=False, priority=True),
        Binding("ctrl+c", "refuse_quit", show=False, priority=True),
    ]

    def __init__(
        self,
        data_dir: Path,
        passphrase: str | None = None,
        *,
        bus: KeyBus = PCSC,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.bus = bus
        self.clock = clock
        self.station: Station | None = None
        self.session: Session | None = None
        self.desk = DeskThread()
        self.watch = WatchControl()
        self._passphrase = passphrase
        self._last_activity = clock()
        self._last_touch = clock()

    def on_mount(self) -> None:
        passphrase, self._passphrase = self._passphrase, None  # hold the secret no longer than needed
        self.push_screen(
            UnlockScreen(self.data_dir, self.desk, passphrase, bus=self.bus, clock=self.clock),
            callback=self._unlocked,
        )
        self.set_interval(IDLE_CHECK_SECONDS, self.check_inactivity)

    def _unlocked(self, station: Station | None) -> None:
        if station is None:
            return
        self.station = station
        self._ask_sign_in()

    def _ask_sign_in(self, note: str = "") -> None:
        self.push_screen(SignInScreen(self.station, self.desk, note), callback=self._signed_in)

    def _signed_in(self, result: tuple | None) -> None:
        if result is None:
            return
        self.session, roles = result
        self._last_activity = self._last_touch = self.clock()
        self.push_screen(MainScreen(self.station, self.desk, self.watch, self.session, roles))

    # -- who is at the desk -----------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if (
            isinstance(event, events.InputEvent)
            and not event.is_forwarded
            and isinstance(event, events.Key | events.MouseDown)
        ):
            self._note_activity()
        await super().on_event(event)

    def _note_activity(self) -> None:
        now = self.clock()
        self._last_activity = now
        if self.session is not None and self.station is not None and now - self._last_touch >= TOUCH_EVERY:
            self._last_touch = now
            self._touch(self.session)

    @work(exclusive=True, group="touch")
    async def _touch(self, session: Session) -> None:
        try:
            await self.desk.run(touch, self.station, session)
        except (StationError, RuntimeError):
            pass  # an ended session is found by the idle check or the next action

    async def check_inactivity(self) -> None:
        """Sign the operator out after the policy's idle time (the station clock decides)."""
        if self.session is None or self.station is None:
            return
        minutes = self.station.config.policy.idle_minutes
        if self.clock() - self._last_activity >= timedelta(minutes=minutes):
            await self.end_session(
                "inactivity", f"Signed out after {minutes} minutes without activity. Sign in again."
            )

    async def action_sign_out(self) -> None:
        await self.end_session("signed out", "Signed out. The next operator signs in.")

    async def end_session(self, reason: str, note: str) -> None:
        """Record the sign-out (on the desk thread), then show the sign-in screen over an empty desk."""
        session, self.session = self.session, None
        if session is None:
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        try:
            await self.desk.run(sign_out, self.station, session, reason)
        except (StationError, RuntimeError):
            pass  # the session had ended already, or the kiosk is closing
        self._ask_sign_in(note)

    # -- leaving ----------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Anything that asks for the stock quit (a key map, a stray binding) only gets the hint."""
        self.action_refuse_quit()

    def action_help_quit(self) -> None:
        self.action_refuse_quit()

    def action_refuse_quit(self) -> None:
        self.notify(LEAVE_HINT, title="Still here", timeout=8)

    def action_leave(self) -> None:
        if isinstance(self.screen, ConfirmExitScreen):
            return  # already asking
        busy = isinstance(self.screen, MainScreen) and self.screen.busy
        self.push_screen(ConfirmExitScreen(busy=busy), callback=self._confirmed)

    def _confirmed(self, leave: bool | None) -> None:
        if leave:
            self.exit(0)

    async def on_unmount(self) -> None:
        # Stop the watcher first (it notices within half a second), then close the station on the
        # thread that opened it, then let the desk thread go.
        self.watch.stop.set()
        await asyncio.to_thread(self.watch.done.wait, WATCHER_STOP_SECONDS)
        if self.station is not None:
            try:
                if self.session is not None:
                    await self.desk.run(sign_out, self.station, self.session, "kiosk closed")
                await self.desk.run(self.station.close)
            except (RuntimeError, StationError):
                pass  # desk already shut down
        await asyncio.to_thread(self.desk.shutdown)


def run_kiosk(data_dir: Path) -> int:
    """Run the kiosk until the operator leaves it deliberately; the process exit code."""
    app = KioskApp(data_dir, passphrase=os.environ.get(PASSPHRASE_ENV))
    result = app.run()
    return app.return_code if app.return_code is not None else (result or 0)
