"""Issue a TOTP token: pick the key, type the owner, press Issue. The custodian is the signed-in operator.

The form is checked with `station.issue.validate` before anything touches a key, the vault or the
ledger; the device work then runs on the desk thread with a spinner, and the result panel says
what was written (or what went wrong and what to do). An issue that replaces the owner's lost or
damaged token first asks a second operator to approve it (ApproveScreen); the owner's new recovery
codes, if they had a set, are shown once in the result.
"""

from __future__ import annotations

import re

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Collapsible, Input, Label, Select

from station.core import Station
from station.devices import KeyInfo
from station.errors import InputError, StationError
from station.inventory.owners import replaces
from station.issue import DEFAULT_ISSUER, IssueRequest, IssueResult, issue_totp, validate
from station.operators.sessions import Session

from ..desk import DeskThread
from ..screens.approve import ApproveScreen
from .result_panel import ResultPanel

IDLE_TEXT = "Choose the key, type the owner, then press Enter (or Issue token)."


def readable_time(rfc3339: str) -> str:
    """'2025-01-31T09:15:00.123456Z' -> '2025-01-31 09:15:00 UTC' (seconds are enough at a desk)."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z", rfc3339)
    return f"{match.group(1)} {match.group(2)} UTC" if match else rfc3339


class IssueForm(Horizontal):
    """Form on the left, result on the right."""

    class Issued(Message):
        """A token was issued (the key list should re-read the key's credential count)."""

        def __init__(self, result: IssueResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, station: Station, desk: DeskThread, session: Session,
                 *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes="form-pane")
        self._station = station
        self._desk = desk
        self._session = session
        self.busy = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form"):
            yield Label("Key (serial number)", classes="field-label")
            yield Select([], prompt="Insert a key", id="issue-serial")
            yield Label("Owner: who receives the token", classes="field-label")
            yield Input(placeholder="e.g. j.smith", id="issue-owner")
            yield Label("Issuer shown on the key", classes="field-label")
            yield Input(DEFAULT_ISSUER, id="issue-issuer")
            with Collapsible(title="More options (digits, period, algorithm)", collapsed=True):
                yield Label("Digits", classes="field-label")
                yield Select([("6", 6), ("8", 8)], value=6, allow_blank=False, id="issue-digits")
                yield Label("Period (seconds)", classes="field-label")
                yield Select([("30", 30), ("60", 60)], value=30, allow_blank=False, id="issue-period")
                yield Label("Algorithm", classes="field-label")
                yield Select([(a, a) for a in ("SHA1", "SHA256", "SHA512")], value="SHA1",
                             allow_blank=False, id="issue-algorithm")
            yield Button("Issue token", variant="primary", id="issue-button")
        with Vertical(classes="result-column"):
            yield ResultPanel(IDLE_TEXT, id="issue-result")

    def set_keys(self, keys: list[KeyInfo]) -> None:
        """Offer the present keys; keep the choice if that key is still there."""
        select = self.query_one("#issue-serial", Select)
        current = select.value
        serials = [k.serial for k in keys if k.serial is not None]
        select.set_options([(f"{k.serial}  ({k.model}, {k.reader})", k.serial)
                            for k in keys if k.serial is not None])
        if current in serials:
            select.value = current
        elif len(serials) == 1:
            # One key on the desk is the common case: choose it so nobody has to.
            select.value = serials[0]

    def choose_serial(self, serial: int) -> None:
        self.query_one("#issue-serial", Select).value = serial

    def _request(self) -> IssueRequest:
        serial = self.query_one("#issue-serial", Select).value
        if not isinstance(serial, int):
            raise InputError("No key is chosen.", "Insert a key, then pick its serial in 'Key'.")
        return IssueRequest(
            serial=serial,
            owner=self.query_one("#issue-owner", Input).value,
            custodian=self._session,
            issuer=self.query_one("#issue-issuer", Input).value,
            digits=int(self.query_one("#issue-digits", Select).value),
            period=int(self.query_one("#issue-period", Select).value),
            algorithm=str(self.query_one("#issue-algorithm", Select).value),
        )

    def _focus_field_named_in(self, message: str) -> None:
        # validate() names the field in its sentence; sending the cursor there saves a tired
        # operator from hunting for it.
        for field in ("owner", "issuer"):
            if field in message:
                self.query_one(f"#issue-{field}", Input).focus()
                return

    @on(Input.Submitted, "#issue-owner, #issue-issuer")
    @on(Button.Pressed, "#issue-button")
    def submit(self) -> None:
        if self.busy:
            return
        panel = self.query_one("#issue-result", ResultPanel)
        try:
            request = validate(self._request())
        except InputError as exc:
            panel.error("Not issued: check the form", exc)
            self._focus_field_named_in(exc.message)
            return
        self._issue(request)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.query_one("#issue-button", Button).disabled = busy

    @work(exclusive=True, group="issue")
    async def _issue(self, request: IssueRequest) -> None:
        panel = self.query_one("#issue-result", ResultPanel)
        self._set_busy(True)
        try:
            old = await self._desk.run(replaces, self._station.ledger.db, request.owner)
            approver = None
            if old is not None:
                panel.busy(f"This replaces {request.owner}'s {old['kind']} token {old['serial']}: a second"
                           " operator approves it.")
                approver = await self.app.push_screen_wait(ApproveScreen(
                    self._station, self._desk, f"replacing {request.owner}'s token {old['serial']}"))
                if approver is None:
                    panel.failure("Not issued", "The replacement was not approved.",
                                  "A supervisor or admin (not the owner) approves replacements.")
                    return
            panel.busy(f"Programming key {request.serial} for {request.owner}… keep the key inserted.")
            result = await self._desk.run(issue_totp, self._station, request, approver=approver)
        except StationError as exc:
            panel.error("Not issued", exc)
            return
        finally:
            self._set_busy(False)
        self._show_success(panel, result)
        self.query_one("#issue-owner", Input).value = ""
        self.post_message(self.Issued(result))

    def _show_success(self, panel: ResultPanel, result: IssueResult) -> None:
        panel.success(
            "Token issued",
            [
                ("Owner", result.owner),
                ("Credential", result.credential_id),
                ("Key serial", f"{result.serial} ({result.model}, firmware {result.firmware})"),
                ("Ledger entry", f"#{result.ledger_seq}"),
                ("Time", readable_time(result.issued_at)),
                *([("Yubico OTP id", result.yubico_otp_public_id)] if result.yubico_otp_public_id else []),
                *([("Recovery codes", "new set, shown once: " + "  ".join(result.recovery_codes))]
                  if result.recovery_codes else []),
            ],
        )
