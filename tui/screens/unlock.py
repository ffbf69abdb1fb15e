"""First screen when no passphrase was given: unlock the vault and open the station.

The vault opens with its passphrase, or with an enrolled admin's YubiKey (HMAC-SHA1 challenge-response
in OTP slot 2: insert it and press "Unlock with admin key"). Opening derives the vault key with scrypt
(slow on purpose), so it runs on the desk thread behind a spinner. Errors (wrong passphrase, station
not set up, no enrolled key present) stay on screen with what to do next.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from station.clock import Clock, system_clock
from station.core import KeyUnlock, Station, open_station
from station.datadir import load_config
from station.devices import PCSC, KeyBus
from station.errors import NotInitialisedError, StationError

from ..desk import DeskThread
from ..widgets.result_panel import ResultPanel


class UnlockScreen(Screen[Station]):
    """Dismissed with the opened Station."""

    def __init__(self, data_dir: Path, desk: DeskThread, passphrase: str | None = None, *,
                 bus: KeyBus = PCSC, clock: Clock = system_clock) -> None:
        super().__init__(id="unlock")
        self._data_dir = data_dir
        self._desk = desk
        self._initial = passphrase
        self._bus = bus
        self._clock = clock

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock-box"):
            yield Static("TOKEN STATION", classes="screen-title")
            yield Static(f"Station data: {self._data_dir}", id="unlock-data-dir")
            yield Label("Vault passphrase", classes="field-label")
            yield Input(password=True, placeholder="type the passphrase, then Enter", id="unlock-passphrase")
            yield Button("Unlock", variant="primary", id="unlock-button")
            yield Button("Unlock with admin key", id="unlock-key-button")
            yield ResultPanel("The station is locked. Type the vault passphrase to open it.",
                              id="unlock-result")
        yield Footer()

    def on_mount(self) -> None:
        panel = self.query_one("#unlock-result", ResultPanel)
        # Reading the config needs no secret: say "not set up" before anyone types a passphrase.
        try:
            load_config(self._data_dir)
        except StationError as exc:
            panel.error("This station is not ready", exc)
        if self._initial is not None:
            passphrase, self._initial = self._initial, None
            self._unlock(passphrase)
        else:
            self.query_one("#unlock-passphrase", Input).focus()

    @on(Input.Submitted, "#unlock-passphrase")
    @on(Button.Pressed, "#unlock-button")
    def submit(self) -> None:
        field = self.query_one("#unlock-passphrase", Input)
        passphrase, field.value = field.value, ""
        self._unlock(passphrase)

    @on(Button.Pressed, "#unlock-key-button")
    def submit_key(self) -> None:
        self._unlock(KeyUnlock())

    @work(exclusive=True, group="unlock")
    async def _unlock(self, passphrase: str | KeyUnlock) -> None:
        panel = self.query_one("#unlock-result", ResultPanel)
        button = self.query_one("#unlock-button", Button)
        button.disabled = True
        panel.busy("Opening the vault…")
        try:
            station = await self._desk.run(open_station, self._data_dir, passphrase, clock=self._clock,
                                           bus=self._bus)
        except NotInitialisedError as exc:
            panel.error("This station is not ready", exc)
            return
        except StationError as exc:
            panel.error("Not unlocked", exc)
            self.query_one("#unlock-passphrase", Input).focus()
            return
        finally:
            button.disabled = False
        self.dismiss(station)
