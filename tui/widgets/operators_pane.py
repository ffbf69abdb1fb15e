"""Operators (admins and supervisors): who may act, who is locked. Lock takes one operator; unlock
takes an admin and a second operator approving it (four-eyes)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label

from station.core import Station
from station.errors import StationError
from station.operators.lockout import lock_operator, operators_overview, unlock_operator
from station.operators.sessions import Session

from ..desk import DeskThread
from ..screens.approve import ApproveScreen
from .result_panel import ResultPanel


class OperatorsPane(Horizontal):
    def __init__(
        self, station: Station, desk: DeskThread, session: Session, *, id: str | None = None
    ) -> None:  # noqa: A002
        super().__init__(id=id, classes="form-pane")
        self._station = station
        self._desk = desk
        self._session = session

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form"):
            table: DataTable = DataTable(id="ops-table", cursor_type="row")
            table.add_columns("Operator", "Roles", "Status", "Failed sign-ins", "Locked until", "Token")
            yield table
            yield Label("Operator id", classes="field-label")
            yield Input(id="ops-id")
            yield Label("Reason", classes="field-label")
            yield Input(id="ops-reason")
            with Horizontal(classes="buttons"):
                yield Button("Lock", variant="warning", id="ops-lock")
                yield Button("Unlock (needs a second operator)", variant="primary", id="ops-unlock")
        with Vertical(classes="result-column"):
            yield ResultPanel("Pick an operator, give a reason, then Lock or Unlock.", id="ops-result")

    def on_mount(self) -> None:
        self.refresh_rows()

    @work(exclusive=True, group="ops-rows")
    async def refresh_rows(self) -> None:
        rows = await self._desk.run(operators_overview, self._station)
        table = self.query_one("#ops-table", DataTable)
        table.clear()
        for r in rows:
            table.add_row(
                r["id"],
                r["roles"],
                r["status"],
                str(r["failures"]),
                r["locked_until"] or "",
                r["token"] or "none",
                key=r["id"],
            )

    @on(DataTable.RowSelected, "#ops-table")
    def _picked(self, event: DataTable.RowSelected) -> None:
        self.query_one("#ops-id", Input).value = str(event.row_key.value)

    @on(Button.Pressed, "#ops-lock")
    def lock(self) -> None:
        self._act(unlock=False)

    @on(Button.Pressed, "#ops-unlock")
    def unlock(self) -> None:
        self._act(unlock=True)

    @work(exclusive=True, group="ops-act")
    async def _act(self, unlock: bool) -> None:
        panel = self.query_one("#ops-result", ResultPanel)
        target = self.query_one("#ops-id", Input).value.strip()
        reason = self.query_one("#ops-reason", Input).value
        try:
            if unlock:
                approver = await self.app.push_screen_wait(
                    ApproveScreen(self._station, self._desk, f"unlocking operator {target}")
                )
                if approver is None:
                    panel.failure(
                        "Not unlocked", "No second operator approved it.", "A second operator must approve."
                    )
                    return
                seq = await self._desk.run(
                    unlock_operator,
                    self._station,
                    target,
                    operator=self._session,
                    approver=approver,
                    reason=reason,
                )
                panel.success(
                    "Operator unlocked",
                    [("Operator", target), ("Approved by", approver.operator), ("Ledger entry", f"#{seq}")],
                )
            else:
                seq = await self._desk.run(
                    lock_operator, self._station, target, operator=self._session, reason=reason
                )
                panel.success("Operator locked", [("Operator", target), ("Ledger entry", f"#{seq}")])
        except StationError as exc:
            panel.error("Not done", exc)
            return
        self.refresh_rows()
