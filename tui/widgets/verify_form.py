"""Check any code an owner presents: TOTP, HOTP, Yubico OTP, recovery or temporary access code.

The kind is told by the code's form unless chosen; an HOTP token pressed many times away from the
desk is resynchronised with the next code in "Next code". Every check is recorded in the ledger by
`station.verify.verify_code` (the code itself never is).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select

from station.core import Station
from station.errors import InputError, StationError, VerificationFailed
from station.operators.sessions import Session
from station.verify import verify_code

from ..desk import DeskThread
from .result_panel import ResultPanel

IDLE_TEXT = "Type the owner and the code (from their key, envelope or supervisor), then press Enter."
KIND_OPTIONS = [
    ("Told by its form", "auto"),
    ("TOTP (time)", "totp"),
    ("HOTP (button)", "hotp"),
    ("Yubico OTP (touch)", "yubico-otp"),
    ("Recovery code", "recovery"),
    ("Temporary access code", "temporary"),
]


class VerifyForm(Horizontal):
    def __init__(
        self, station: Station, desk: DeskThread, session: Session, *, id: str | None = None
    ) -> None:  # noqa: A002
        super().__init__(id=id, classes="form-pane")
        self._station = station
        self._desk = desk
        self._session = session

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form"):
            yield Label("Owner (may be left out for a Yubico OTP)", classes="field-label")
            yield Input(placeholder="e.g. j.smith", id="verify-owner")
            yield Label("Code", classes="field-label")
            # Letters too: Yubico OTPs, recovery and temporary codes. Spaces and dashes are allowed.
            yield Input(
                placeholder="123 456, a key's touch, or XXXX-XXXX-XXXX",
                restrict=r"[0-9A-Za-z \-]*",
                max_length=80,
                id="verify-code",
            )
            yield Label("Kind", classes="field-label")
            yield Select(KIND_OPTIONS, value="auto", allow_blank=False, id="verify-kind")
            yield Label("Next code (HOTP resynchronisation only)", classes="field-label")
            yield Input(
                placeholder="the code right after the first",
                restrict=r"[0-9 \-]*",
                max_length=11,
                id="verify-next",
            )
            yield Button("Verify", variant="primary", id="verify-button")
        with Vertical(classes="result-column"):
            yield ResultPanel(IDLE_TEXT, id="verify-result")

    @on(Input.Submitted, "#verify-owner, #verify-code, #verify-next")
    @on(Button.Pressed, "#verify-button")
    def submit(self) -> None:
        owner = self.query_one("#verify-owner", Input).value
        code = self.query_one("#verify-code", Input).value
        kind = str(self.query_one("#verify-kind", Select).value)
        following = self.query_one("#verify-next", Input).value.strip() or None
        self._verify(owner, code, kind, following)

    @work(exclusive=True, group="verify")
    async def _verify(self, owner: str, code: str, kind: str, following: str | None) -> None:
        panel = self.query_one("#verify-result", ResultPanel)
        button = self.query_one("#verify-button", Button)
        button.disabled = True
        panel.busy("Checking the code…")
        try:
            result = await self._desk.run(
                verify_code,
                self._station,
                owner,
                code,
                operator=self._session,
                kind=kind,
                next_code=following,
            )
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
        rows = [("Owner", result.owner), ("Kind", result.kind)]
        if result.serial is not None:
            rows += [("Key serial", str(result.serial)), ("Credential", result.credential_id or "")]
        rows += [("Result", result.message), ("Ledger entry", f"#{result.ledger_seq}")]
        panel.success("ACCEPTED", rows)
        self._clear_code()

    def _clear_code(self) -> None:
        # A used code is worthless; clearing it readies the field for the next one.
        for name in ("#verify-next", "#verify-code"):
            field = self.query_one(name, Input)
            field.value = ""
        self.query_one("#verify-code", Input).focus()
