"""Operator sign-in: operator id, PIN and a code from the operator's own token, checked offline.

Shown after the vault is unlocked and again whenever the desk locks (Sign out, or the policy's idle
time). Open break-glass reviews are announced here, so nobody misses them. The PIN field never shows
what is typed, and both secret fields are cleared after each attempt.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from station.core import Station
from station.errors import StationError
from station.operators.signin import open_review_count, roles_of, sign_in

from ..desk import DeskThread
from ..widgets.result_panel import ResultPanel

IDLE_TEXT = "Sign in with your operator id, your PIN and a code from your own token."


class SignInScreen(Screen[tuple]):
    """Dismissed with (Session, roles)."""

    AUTO_FOCUS = "#signin-id"

    def __init__(self, station: Station, desk: DeskThread, note: str = "") -> None:
        super().__init__(id="sign-in")
        self._station = station
        self._desk = desk
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="signin-box"):
            yield Static("TOKEN STATION", classes="screen-title")
            yield Static(f"Site {self._station.config.site}", id="signin-site")
            yield Static("", id="signin-reviews", classes="warning")
            yield Label("Operator id", classes="field-label")
            yield Input(placeholder="e.g. carol", id="signin-id")
            yield Label("PIN", classes="field-label")
            yield Input(password=True, placeholder="your PIN", id="signin-pin")
            yield Label("Code from your token", classes="field-label")
            yield Input(placeholder="touch your key, or type the code it shows", id="signin-code")
            yield Button("Sign in", variant="primary", id="signin-button")
            yield ResultPanel(self._note or IDLE_TEXT, id="signin-result")
        yield Footer()

    def on_mount(self) -> None:
        self._show_reviews()

    @work(exclusive=True, group="reviews")
    async def _show_reviews(self) -> None:
        try:
            count = await self._desk.run(open_review_count, self._station)
        except (StationError, RuntimeError):
            return
        if count:
            self.query_one("#signin-reviews", Static).update(
                f"{count} break-glass use(s) await an auditor's review (station review list)."
            )

    @on(Input.Submitted, "#signin-id, #signin-pin, #signin-code")
    @on(Button.Pressed, "#signin-button")
    def submit(self) -> None:
        who = self.query_one("#signin-id", Input).value
        pin_field, code_field = self.query_one("#signin-pin", Input), self.query_one("#signin-code", Input)
        pin, code = pin_field.value, code_field.value
        pin_field.value = code_field.value = ""  # never left on screen
        self._sign_in(who, pin, code)

    @work(exclusive=True, group="sign-in")
    async def _sign_in(self, who: str, pin: str, code: str) -> None:
        panel = self.query_one("#signin-result", ResultPanel)
        button = self.query_one("#signin-button", Button)
        button.disabled = True
        panel.busy("Checking…")
        try:
            session = await self._desk.run(sign_in, self._station, who, pin, code)
            roles = await self._desk.run(roles_of, self._station, session.operator)
        except StationError as exc:
            panel.error("Not signed in", exc)
            self.query_one("#signin-pin", Input).focus()
            return
        finally:
            button.disabled = False
        self.dismiss((session, roles))
