"""The one deliberate way out of the kiosk: Ctrl+X, then "Leave kiosk" in this dialog.

"Stay" has the focus, so a reflexive Enter keeps the kiosk open; Escape also stays.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmExitScreen(ModalScreen[bool]):
    """Dismissed with True to leave, False to stay."""

    BINDINGS = [
        Binding("escape", "stay", "Stay", show=False),
        # Arrow keys move between the two buttons, as people expect in a dialog.
        Binding("left,up", "app.focus_previous", "Previous", show=False),
        Binding("right,down", "app.focus_next", "Next", show=False),
    ]

    def __init__(self, busy: bool = False) -> None:
        super().__init__(id="confirm-exit")
        self._busy = busy

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static("Leave the kiosk?", classes="screen-title")
            yield Static("The desk stays closed until someone starts the kiosk again.")
            if self._busy:
                yield Static("A key is being programmed. The kiosk closes when it has finished.",
                             classes="warning")
            with Horizontal(id="confirm-buttons"):
                yield Button("Stay", variant="primary", id="stay")
                yield Button("Leave kiosk", variant="error", id="leave")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    @on(Button.Pressed, "#stay")
    def action_stay(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#leave")
    def leave(self) -> None:
        self.dismiss(True)
