"""The identity-provider hand-off at the kiosk: export to an IdP, see what awaits confirmation, confirm.

Same station functions as `station export ...`: the file goes to the place the operator types (a
removable drive), encrypted with the password typed twice here (never shown, cleared after use); a
deactivation list holds serials only. The list shows every export still pending; pick one and press
Confirm when the IdP admin reports the import done. Escape goes back to the desk.

Every call carries the signed-in operator's session, so the station checks the sign-in and the role
as it does for the CLI. A custodian may write deactivation lists and confirm imports but not export
secrets (that is for supervisors and admins), so for a custodian the form offers deactivation lists
only and shows no password fields.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DataTable, Footer, Header, Input, Label, Select, Static

from station.core import Station
from station.errors import InputError, StationError
from station.idp.exports import ExportRequest, confirm_export, export_tokens, list_exports, outstanding
from station.idp.formats import FORMATS
from station.idp.selection import Selection
from station.idp.token_seeds import Owner
from station.inventory.roles import NEEDS
from station.operators.sessions import Session

from ..desk import DeskThread
from ..widgets.result_panel import ResultPanel

IDLE_TEXT = "Choose the IdP's format, the drive to write to and the tokens, then Export."
CHOICES = (("Everything not exported yet", "since-last"), ("These serials", "serials"), ("One site", "site"))


class HandOffScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back to the desk"),
        Binding("f10", "app.sign_out", "Sign out"),
    ]

    def __init__(self, station: Station, desk: DeskThread, session: Session, roles: frozenset[str]) -> None:
        super().__init__(id="handoff")
        self._station = station
        self._desk = desk
        self._session = session
        self._secrets = bool(NEEDS["export_secrets"] & roles)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="form-pane"):
            with VerticalScroll(classes="form"):
                yield Label("Format (identity provider)", classes="field-label")
                yield Select(
                    [(f.label, f.name) for f in FORMATS.values()],
                    value="entra-csv",
                    allow_blank=False,
                    id="handoff-format",
                )
                yield Label(
                    "Write to (a removable drive or a folder only you can open)", classes="field-label"
                )
                yield Input(placeholder="/media/desk/USBSTICK", id="handoff-to")
                yield Label("Which tokens", classes="field-label")
                yield Select(CHOICES, value="since-last", allow_blank=False, id="handoff-choice")
                yield Input(placeholder="serials separated by spaces, or the site", id="handoff-which")
                yield Checkbox(
                    "Deactivation list (lost, blocked, returned) instead of registrations"
                    if self._secrets
                    else "Deactivation list (lost, blocked, returned): registrations hold secrets, which"
                    " a supervisor or admin exports",
                    value=not self._secrets,
                    disabled=not self._secrets,
                    id="handoff-deactivations",
                )
                yield Input(placeholder="owner domain for Entra, e.g. example.org", id="handoff-upn")
                if self._secrets:
                    yield Label("File password (12 characters or more), twice", classes="field-label")
                    yield Input(password=True, id="handoff-password")
                    yield Input(password=True, id="handoff-password2")
                yield Button("Export", variant="primary", id="handoff-export")
            with Vertical(classes="result-column"):
                yield ResultPanel(IDLE_TEXT, id="handoff-result")
                yield Static("Exports awaiting the IdP's confirmation", classes="section-title")
                table: DataTable = DataTable(id="handoff-pending", cursor_type="row")
                table.add_columns("Export", "Format", "Purpose", "Tokens", "At", "By")
                yield table
                yield Static("", id="handoff-outstanding")
                yield Button("Confirm: the IdP imported it", id="handoff-confirm")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"IdP hand-off · operator {self._session.operator}"
        self.refresh_pending()

    @work(exclusive=True, group="handoff-list")
    async def refresh_pending(self) -> None:
        rows = await self._desk.run(list_exports, self._station.ledger.db, status="pending")
        waiting = await self._desk.run(outstanding, self._station.ledger.db)
        table = self.query_one("#handoff-pending", DataTable)
        table.clear()
        for r in rows:
            table.add_row(
                r["id"], r["format"], r["purpose"], str(r["tokens"]), r["at"][:16], r["actor"], key=r["id"]
            )
        self.query_one("#handoff-outstanding", Static).update(
            f"Not exported yet: {waiting['register']} to register, {waiting['deactivate']} to deactivate."
        )

    def _passwords(self) -> tuple[str, str]:
        if not self._secrets:
            return "", ""
        return (
            self.query_one("#handoff-password", Input).value,
            self.query_one("#handoff-password2", Input).value,
        )

    def _request(self) -> ExportRequest:
        password, again = self._passwords()
        deactivations = self.query_one("#handoff-deactivations", Checkbox).value
        if not deactivations and password != again:
            raise InputError("The two passwords differ.", "Type the file password twice, the same.")
        to = self.query_one("#handoff-to", Input).value.strip()
        if not to:
            raise InputError(
                "No place to write the export to.", "Type the drive's path, e.g. /media/desk/USB."
            )
        choice = self.query_one("#handoff-choice", Select).value
        which = self.query_one("#handoff-which", Input).value.split()
        selection = {
            "since-last": Selection(since_last=True),
            "serials": Selection(serials=tuple(which)),
            "site": Selection(site=which[0] if which else None),
        }[choice]
        return ExportRequest(
            self.query_one("#handoff-format", Select).value,
            Path(to),
            selection,
            deactivations,
            None if deactivations else password,
            owner=Owner(self.query_one("#handoff-upn", Input).value.strip()),
        )

    @on(Button.Pressed, "#handoff-export")
    def submit(self) -> None:
        panel = self.query_one("#handoff-result", ResultPanel)
        try:
            request = self._request()
        except StationError as exc:
            panel.error("Not exported: fix the form", exc)
            return
        finally:
            for field in self.query("#handoff-password, #handoff-password2").results(Input):
                field.value = ""  # hold the secret no longer than needed
        self._export(request)

    @work(exclusive=True, group="handoff")
    async def _export(self, request: ExportRequest) -> None:
        panel = self.query_one("#handoff-result", ResultPanel)
        button = self.query_one("#handoff-export", Button)
        button.disabled = True
        panel.busy("Writing the export… keep the drive in until this says done.")
        try:
            result = await self._desk.run(export_tokens, self._station, request, operator=self._session)
        except StationError as exc:
            panel.error("Not exported", exc)
            return
        finally:
            button.disabled = False
        rows = [
            ("Export", result.export_id),
            ("File", result.path),
            ("Tokens", " ".join(result.serials)),
            ("Protection", result.protection),
            ("SHA-256", result.sha256),
        ]
        rows += [("Left out", f"{s}: {r}") for s, r in result.left_out]
        panel.success(f"EXPORTED for {result.idp}: pending until the IdP admin confirms the import", rows)
        self.refresh_pending()

    @on(Button.Pressed, "#handoff-confirm")
    def confirm(self) -> None:
        table = self.query_one("#handoff-pending", DataTable)
        if table.row_count == 0:
            self.query_one("#handoff-result", ResultPanel).failure(
                "Nothing to confirm", "No export is awaiting confirmation.", ""
            )
            return
        export_id = str(table.get_row_at(table.cursor_row)[0])
        self._confirm(export_id)

    @work(exclusive=True, group="handoff")
    async def _confirm(self, export_id: str) -> None:
        panel = self.query_one("#handoff-result", ResultPanel)
        try:
            seq = await self._desk.run(
                confirm_export,
                self._station,
                export_id,
                operator=self._session,
                note="confirmed at the kiosk",
            )
        except StationError as exc:
            panel.error("Not confirmed", exc)
            return
        panel.success(
            f"CONFIRMED: export {export_id} is imported; its tokens count as active",
            [("Ledger entry", f"#{seq}")],
        )
        self.refresh_pending()
