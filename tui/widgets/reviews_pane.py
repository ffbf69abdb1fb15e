"""Break-glass reviews (auditors): every break-glass sign-in and what was done in it, until closed."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label

from station.core import Station
from station.errors import StationError
from station.operators.breakglass import close_review, open_reviews
from station.operators.sessions import Session

from ..desk import DeskThread
from .result_panel import ResultPanel


class ReviewsPane(Horizontal):
    def __init__(
        self, station: Station, desk: DeskThread, session: Session, *, id: str | None = None
    ) -> None:  # noqa: A002
        super().__init__(id=id, classes="form-pane")
        self._station = station
        self._desk = desk
        self._session = session

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form"):
            table: DataTable = DataTable(id="reviews-table", cursor_type="row")
            table.add_columns("Review", "Signed in", "Until", "Actions")
            yield table
            yield Label("Review", classes="field-label")
            yield Input(id="review-id")
            yield Label("Note (what you checked)", classes="field-label")
            yield Input(id="review-note")
            yield Button("Close review", variant="primary", id="review-close")
        with Vertical(classes="result-column"):
            yield ResultPanel(
                "Open break-glass uses are listed until an auditor closes them.", id="review-result"
            )

    def on_mount(self) -> None:
        self.refresh_rows()

    @work(exclusive=True, group="review-rows")
    async def refresh_rows(self) -> None:
        rows = await self._desk.run(open_reviews, self._station)
        table = self.query_one("#reviews-table", DataTable)
        table.clear()
        for r in rows:
            actions = ", ".join(f"#{a['seq']} {a['type']}" for a in r["actions"]) or "none"
            table.add_row(r["id"], r["opened_at"], r["ended_at"] or "(open)", actions, key=r["id"])

    @on(DataTable.RowSelected, "#reviews-table")
    def _picked(self, event: DataTable.RowSelected) -> None:
        self.query_one("#review-id", Input).value = str(event.row_key.value)

    @on(Button.Pressed, "#review-close")
    @on(Input.Submitted, "#review-note")
    def submit(self) -> None:
        self._close(
            self.query_one("#review-id", Input).value.strip(), self.query_one("#review-note", Input).value
        )

    @work(exclusive=True, group="review-close")
    async def _close(self, review: str, note: str) -> None:
        panel = self.query_one("#review-result", ResultPanel)
        try:
            seq = await self._desk.run(close_review, self._station, review, operator=self._session, note=note)
        except StationError as exc:
            panel.error("Not closed", exc)
            return
        panel.success("Review closed", [("Review", review), ("Ledger entry", f"#{seq}")])
        self.refresh_rows()
