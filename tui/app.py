"""The Token Station kiosk: a Textual app for the token desk.

    station kiosk                  # asks for the vault passphrase unless STATION_PASSPHRASE is set

Leaving the kiosk is deliberate: press Ctrl+X, then choose "Leave kiosk" in the dialog (Stay has
the focus, Escape stays). Ctrl+Q and Ctrl+C do not exit; they only say how to leave. There is no
command palette. The operator id recorded for code checks comes from STATION_OPERATOR (default
"desk").

On exit the key-watcher thread is stopped and the station is closed on the desk thread (the one
that opened it), after any key programming in progress has finished.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from station.core import Station

from .desk import DeskThread
from .screens.confirm_exit import ConfirmExitScreen
from .screens.main import MainScreen
from .screens.unlock import UnlockScreen
from .widgets.key_list import WatchControl

PASSPHRASE_ENV = "STATION_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
OPERATOR_ENV = "STATION_OPERATOR"
EXIT_KEY = "ctrl+x"
LEAVE_HINT = "The kiosk stays open. To leave it, press Ctrl+X and choose Leave kiosk."
WATCHER_STOP_SECONDS = 3.0


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

    def __init__(self, data_dir: Path, passphrase: str | None = None, operator: str = "desk") -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.operator = operator
        self.station: Station | None = None
        self.desk = DeskThread()
        self.watch = WatchControl()
        self._passphrase = passphrase

    def on_mount(self) -> None:
        passphrase, self._passphrase = self._passphrase, None  # hold the secret no longer than needed
        self.push_screen(UnlockScreen(self.data_dir, self.desk, passphrase), callback=self._unlocked)

    def _unlocked(self, station: Station | None) -> None:
        if station is None:
            return
        self.station = station
        self.push_screen(MainScreen(station, self.desk, self.watch, self.operator))

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
                await self.desk.run(self.station.close)
            except RuntimeError:
                pass  # desk already shut down
        await asyncio.to_thread(self.desk.shutdown)


def run_kiosk(data_dir: Path) -> int:
    """Run the kiosk until the operator leaves it deliberately; the process exit code."""
    app = KioskApp(
        data_dir,
        passphrase=os.environ.get(PASSPHRASE_ENV),
        operator=os.environ.get(OPERATOR_ENV) or "desk",
    )
    result = app.run()
    return app.return_code if app.return_code is not None else (result or 0)
