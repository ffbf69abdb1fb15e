"""A second operator signs in, here and now, to approve one four-eyes action.

The station refuses the same person in both roles and the person the action is about; this dialog
only collects the sign-in. The approval is used up by the one action it was asked for.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from station.core import Station
from station.errors import StationError
from station.operators.signin import approve

from ..desk import DeskThread
from ..widgets.result_panel import ResultPanel


class ApproveScreen(ModalScreen[object]):
    """Dismissed with the approver's Session, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    AUTO_FOCUS = "#approve-id"

    def __init__(self, station: Station, desk: DeskThread, what: str) -> None:
        super().__init__(id="approve")
        self._station = station
        self._desk = desk
        self._what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="approve-box"):
            yield Static("SECOND OPERATOR", classes="screen-title")
            yield Static(f"Approve: {self._what}. A different operator signs in here.", id="approve-what")
            yield Label("Operator id", classes="field-label")
            yield Input(id="approve-id")
            yield Label("PIN", classes="field-label")
            yield Input(password=True, id="approve-pin")
            yield Label("Code from their token", classes="field-label")
            yield Input(id="approve-code")
            with Horizontal(id="approve-buttons"):
                yield Button("Approve", variant="primary", id="approve-button")
                yield Button("Cancel", id="approve-cancel")
            yield ResultPanel(
                "The second operator types their id, PIN and a fresh code.", id="approve-result"
            )

    @on(Input.Submitted, "#approve-id, #approve-pin, #approve-code")
    @on(Button.Pressed, "#approve-button")
    def submit(self) -> None:
        who = self.query_one("#approve-id", Input).value
        pin_field, code_field = self.query_one("#approve-pin", Input), self.query_one("#approve-code", Input)
        pin, code = pin_field.value, code_field.value
        pin_field.value = code_field.value = ""
        self._approve(who, pin, code)

    @work(exclusive=True, group="approve")
    async def _approve(self, who: str, pin: str, code: str) -> None:
        panel = self.query_one("#approve-result", ResultPanel)
        panel.busy("Checking…")
        try:
            session = await self._desk.run(approve, self._station, who, pin, code)
        except StationError as exc:
            panel.error("Not approved", exc)
            return
        self.dismiss(session)

    @on(Button.Pressed, "#approve-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
