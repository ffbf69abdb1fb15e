"""Grant a temporary access code (supervisors): owner, reason, once or for its period; a second
operator approves it on the spot. The code is shown once, to hand over."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label

from station.access.temporary import grant_temporary_access
from station.core import Station
from station.errors import InputError, StationError
from station.operators.sessions import Session

from ..desk import DeskThread
from ..screens.approve import ApproveScreen
from .result_panel import ResultPanel

IDLE_TEXT = "Type the owner and why; the code lasts until the end of the shift. A second operator approves."


class TemporaryForm(Horizontal):
    def __init__(
        self, station: Station, desk: DeskThread, session: Session, *, id: str | None = None
    ) -> None:  # noqa: A002
        super().__init__(id=id, classes="form-pane")
        self._station = station
        self._desk = desk
        self._session = session

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form"):
            yield Label("Owner", classes="field-label")
            yield Input(placeholder="e.g. j.smith", id="temp-owner")
            yield Label("Reason", classes="field-label")
            yield Input(placeholder="e.g. token left at home, replacement ordered", id="temp-reason")
            yield Checkbox("Usable once only", id="temp-once")
            yield Button("Grant (needs a second operator)", variant="primary", id="temp-button")
        with Vertical(classes="result-column"):
            yield ResultPanel(IDLE_TEXT, id="temp-result")

    @on(Input.Submitted, "#temp-owner, #temp-reason")
    @on(Button.Pressed, "#temp-button")
    def submit(self) -> None:
        owner = self.query_one("#temp-owner", Input).value.strip()
        reason = self.query_one("#temp-reason", Input).value
        self._grant(owner, reason, self.query_one("#temp-once", Checkbox).value)

    @work(exclusive=True, group="temporary")
    async def _grant(self, owner: str, reason: str, once: bool) -> None:
        panel = self.query_one("#temp-result", ResultPanel)
        if not owner or not reason.strip():
            panel.error(
                "Not granted: fix the form",
                InputError("Owner and reason are both needed.", "Type whose code it is and why."),
            )
            return
        approver = await self.app.push_screen_wait(
            ApproveScreen(self._station, self._desk, f"a temporary access code for {owner}")
        )
        if approver is None:
            panel.failure("Not granted", "No second operator approved it.", "A second operator must approve.")
            return
        panel.busy("Granting…")
        try:
            grant = await self._desk.run(
                grant_temporary_access,
                self._station,
                owner,
                operator=self._session,
                approver=approver,
                reason=reason,
                single_use=once,
            )
        except StationError as exc:
            panel.error("Not granted", exc)
            return
        panel.success(
            "TEMPORARY ACCESS CODE (shown once)",
            [
                ("Owner", grant.owner),
                ("Code", grant.code),
                ("Expires", grant.expires_at),
                ("Use", "once" if grant.single_use else "until it expires"),
                ("Approved by", approver.operator),
                ("Ledger entry", f"#{grant.ledger_seq}"),
            ],
        )
        self.query_one("#temp-owner", Input).value = ""
        self.query_one("#temp-reason", Input).value = ""
