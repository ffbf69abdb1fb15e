"""Check a one-time code: owner, code, Verify. Says Accepted, or Rejected with the reason.

Every check is recorded in the ledger by `station.verify.verify_totp` (the code itself never is).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label

from station.core import Station
from station.errors import InputError, StationError, VerificationFailed
from station.verify import verify_totp

from ..desk import DeskThread
from .result_panel import ResultPanel

IDLE_TEXT = "Type the owner and the code shown on their key, then press Enter (or Verify)."


class VerifyForm(Horizontal):
    def __init__(self, station: Station, desk: DeskThread, operator: str,
                 *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes="form-pane")
        self._station = station
        self._desk = desk
        self._operator = operator

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form"):
            yield Label("Owner", classes="field-label")
            yield Input(placeholder="e.g. j.smith", id="verify-owner")
            yield Label("One-time code (6 or 8 digits)", classes="field-label")
            # Spaces and dashes are allowed because people type codes the way keys show them.
            yield Input(placeholder="123 456", restrict=r"[0-9 \-]*", max_length=11, id="verify-code")
            yield Button("Verify", variant="primary", id="verify-button")
        with Vertical(classes="result-column"):
            yield ResultPanel(IDLE_TEXT, id="verify-result")

    @on(Input.Submitted, "#verify-owner, #verify-code")
    @on(Button.Pressed, "#verify-button")
    def submit(self) -> None:
        owner = self.query_one("#verify-owner", Input).value
        code = self.query_one("#verify-code", Input).value
        self._verify(owner, code)

    @work(exclusive=True, group="verify")
    async def _verify(self, owner: str, code: str) -> None:
        panel = self.query_one("#verify-result", ResultPanel)
        button = self.query_one("#verify-button", Button)
        button.disabled = True
        panel.busy("Checking the code…")
        try:
            result = await self._desk.run(verify_totp, self._station, owner, code,
                                          operator=self._operator)
        except VerificationFailed as exc:
            panel.error("REJECTED", exc)
            self._clear_code()
            return
        except InputError as exc:
            panel.error("Not checked: fix the form", exc)
            return
        except StationError as exc:
            panel.error("Not checked", exc)
            return
        finally:
            button.disabled = False
        panel.success(
            "ACCEPTED",
            [
                ("Owner", result.owner),
                ("Key serial", str(result.serial)),
                ("Credential", result.credential_id),
                ("Ledger entry", f"#{result.ledger_seq}"),
            ],
        )
        self._clear_code()

    def _clear_code(self) -> None:
        # A used code is worthless; clearing it readies the field for the next one.
        code = self.query_one("#verify-code", Input)
        code.value = ""
        code.focus()
