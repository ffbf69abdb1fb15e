"""The desk: keys present at the top, then the Issue and Verify tabs."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from station.core import Station
from station.errors import StationError
from station.reconcile import open_intents, reconcile

from ..desk import DeskThread
from ..widgets.issue_form import IssueForm
from ..widgets.key_list import KeyList, WatchControl
from ..widgets.verify_form import VerifyForm


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#issue-owner"  # the field an operator types first; the key is usually pre-chosen
    BINDINGS = [
        Binding("f2", "show_tab('issue')", "Issue"),
        Binding("f3", "show_tab('verify')", "Verify"),
        Binding("f5", "refresh_keys", "Refresh keys"),
        Binding("f6", "handoff", "IdP hand-off"),
    ]

    def __init__(self, station: Station, desk: DeskThread, watch: WatchControl, operator: str) -> None:
        super().__init__(id="main")
        self.station = station
        self._desk = desk
        self._watch = watch
        self._operator = operator

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyList(self._desk, self._watch, station=self.station, id="keys")
        with TabbedContent(initial="issue-tab", id="desk-tabs"):
            with TabPane("Issue a token (F2)", id="issue-tab"):
                yield IssueForm(self.station, self._desk, id="issue-form")
            with TabPane("Verify a code (F3)", id="verify-tab"):
                yield VerifyForm(self.station, self._desk, self._operator, id="verify-form")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"site {self.station.config.site} · operator {self._operator}"

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#desk-tabs", TabbedContent).active = f"{tab}-tab"

    def action_handoff(self) -> None:
        from .handoff import HandOffScreen

        self.app.push_screen(HandOffScreen(self.station, self._desk, self._operator))

    def action_refresh_keys(self) -> None:
        self.query_one("#keys", KeyList).refresh_keys()

    @property
    def busy(self) -> bool:
        """True while a key is being programmed (the exit dialog warns about it)."""
        return self.query_one("#issue-form", IssueForm).busy

    @on(TabbedContent.TabActivated, "#desk-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # Put the cursor where typing starts on the tab just opened.
        first = "#issue-owner" if event.pane.id == "issue-tab" else "#verify-owner"
        self.query_one(first).focus()

    @on(KeyList.Changed)
    def _keys_changed(self, event: KeyList.Changed) -> None:
        self.query_one("#issue-form", IssueForm).set_keys(event.keys)

    @on(KeyList.Read)
    def _keys_read(self, event: KeyList.Read) -> None:
        self._settle_interrupted_writes({k.serial for k in event.keys if k.serial is not None})

    @work(exclusive=True, group="reconcile")
    async def _settle_interrupted_writes(self, present: set[int]) -> None:
        """A key pulled mid-write is back: ask it what was written and record that (design.md)."""
        try:
            pending = await self._desk.run(open_intents, self.station)
            lines = []
            for serial in sorted({i["serial"] for i in pending} & present):
                lines += await self._desk.run(reconcile, self.station, operator=self._operator,
                                              serial=serial)
        except StationError as exc:
            self.notify(f"{exc.message} {exc.hint}", severity="error", timeout=15)
            return
        except RuntimeError:
            return  # the desk thread was shut down: the kiosk is closing
        for line in lines:
            self.notify(f"Interrupted write settled — {line}.", timeout=15)

    @on(KeyList.SerialChosen)
    def _serial_chosen(self, event: KeyList.SerialChosen) -> None:
        self.query_one("#issue-form", IssueForm).choose_serial(event.serial)
        self.action_show_tab("issue")

    @on(IssueForm.Issued)
    def _issued(self) -> None:
        # The key now holds one more credential; show the new count.
        self.query_one("#keys", KeyList).refresh_keys()
