"""The desk after sign-in: keys present at the top, then the tabs the operator's roles allow.

What a role may not do is not shown (the station refuses it anyway): custodians and supervisors
issue and verify, supervisors also grant temporary access, admins and supervisors manage operators,
auditors close break-glass reviews. F6 opens the IdP hand-off for the roles that may export
(custodians: deactivation lists and confirmations; supervisors and admins: files with secrets too).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from station.core import Station
from station.errors import StationError
from station.inventory.roles import NEEDS
from station.operators.sessions import Session
from station.reconcile import open_intents, reconcile

from ..desk import DeskThread
from ..widgets.issue_form import IssueForm
from ..widgets.key_list import KeyList, WatchControl
from ..widgets.operators_pane import OperatorsPane
from ..widgets.reviews_pane import ReviewsPane
from ..widgets.temporary_form import TemporaryForm
from ..widgets.verify_form import VerifyForm

DESK = {"custodian", "supervisor"}
# tab id -> (title, roles that see it, the field where typing starts)
TABS = {
    "issue": ("Issue a token (F2)", DESK, "#issue-owner"),
    "verify": ("Verify a code (F3)", DESK, "#verify-owner"),
    "temporary": ("Temporary access (F4)", {"supervisor"}, "#temp-owner"),
    "operators": ("Operators (F8)", {"admin", "supervisor"}, "#ops-id"),
    "reviews": ("Break-glass reviews (F7)", {"auditor"}, "#review-id"),
}


def visible_tabs(roles: frozenset[str]) -> list[str]:
    return [tab for tab, (_title, who, _field) in TABS.items() if who & roles]


def may_hand_off(roles: frozenset[str]) -> bool:
    """Whether the IdP hand-off screen (F6) is offered: to roles that may export at all."""
    return bool(NEEDS["export"] & roles)


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("f2", "show_tab('issue')", "Issue"),
        Binding("f3", "show_tab('verify')", "Verify"),
        Binding("f4", "show_tab('temporary')", "Temporary", show=False),
        Binding("f8", "show_tab('operators')", "Operators", show=False),
        Binding("f7", "show_tab('reviews')", "Reviews", show=False),
        Binding("f5", "refresh_keys", "Refresh keys"),
        Binding("f6", "handoff", "IdP hand-off"),
        Binding("f10", "app.sign_out", "Sign out"),
    ]

    def __init__(
        self, station: Station, desk: DeskThread, watch: WatchControl, session: Session, roles: frozenset[str]
    ) -> None:
        super().__init__(id="main")
        self.station = station
        self.session = session
        self.roles = roles
        self.tabs = visible_tabs(roles)
        self._desk = desk
        self._watch = watch

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyList(self._desk, self._watch, station=self.station, id="keys")
        panes = {
            "issue": lambda: IssueForm(self.station, self._desk, self.session, id="issue-form"),
            "verify": lambda: VerifyForm(self.station, self._desk, self.session, id="verify-form"),
            "temporary": lambda: TemporaryForm(self.station, self._desk, self.session, id="temporary-form"),
            "operators": lambda: OperatorsPane(self.station, self._desk, self.session, id="operators-pane"),
            "reviews": lambda: ReviewsPane(self.station, self._desk, self.session, id="reviews-pane"),
        }
        with TabbedContent(initial=f"{self.tabs[0]}-tab" if self.tabs else "", id="desk-tabs"):
            for tab in self.tabs:
                with TabPane(TABS[tab][0], id=f"{tab}-tab"):
                    yield panes[tab]()
        yield Footer()

    def on_mount(self) -> None:
        who = (
            "break-glass admin (every action is reviewed)"
            if self.session.break_glass
            else self.session.operator
        )
        self.sub_title = f"site {self.station.config.site} · {who} ({', '.join(sorted(self.roles))})"
        if self.tabs:
            self.query_one(TABS[self.tabs[0]][2]).focus()

    def action_show_tab(self, tab: str) -> None:
        if tab in self.tabs:
            self.query_one("#desk-tabs", TabbedContent).active = f"{tab}-tab"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The hand-off is offered only to roles that may export (the station refuses the rest anyway).
        if action == "handoff":
            return may_hand_off(self.roles)
        return True

    def action_handoff(self) -> None:
        from .handoff import HandOffScreen

        if may_hand_off(self.roles):
            self.app.push_screen(HandOffScreen(self.station, self._desk, self.session, self.roles))

    def action_refresh_keys(self) -> None:
        self.query_one("#keys", KeyList).refresh_keys()

    @property
    def busy(self) -> bool:
        """True while a key is being programmed (the exit dialog warns about it)."""
        forms = self.query(IssueForm)
        return bool(forms) and forms.first().busy

    @on(TabbedContent.TabActivated, "#desk-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # Put the cursor where typing starts on the tab just opened.
        tab = (event.pane.id or "").removesuffix("-tab")
        if tab in TABS:
            self.query_one(TABS[tab][2]).focus()

    @on(KeyList.Changed)
    def _keys_changed(self, event: KeyList.Changed) -> None:
        for form in self.query(IssueForm):
            form.set_keys(event.keys)

    @on(KeyList.Read)
    def _keys_read(self, event: KeyList.Read) -> None:
        if "issue" in self.tabs:
            self._settle_interrupted_writes({k.serial for k in event.keys if k.serial is not None})

    @work(exclusive=True, group="reconcile")
    async def _settle_interrupted_writes(self, present: set[int]) -> None:
        """A key pulled mid-write is back: ask it what was written and record that (design.md)."""
        try:
            pending = await self._desk.run(open_intents, self.station)
            lines = []
            for serial in sorted({i["serial"] for i in pending} & present):
                lines += await self._desk.run(reconcile, self.station, operator=self.session, serial=serial)
        except StationError as exc:
            self.notify(f"{exc.message} {exc.hint}", severity="error", timeout=15)
            return
        except RuntimeError:
            return  # the desk thread was shut down: the kiosk is closing
        for line in lines:
            self.notify(f"Interrupted write settled — {line}.", timeout=15)

    @on(KeyList.SerialChosen)
    def _serial_chosen(self, event: KeyList.SerialChosen) -> None:
        for form in self.query(IssueForm):
            form.choose_serial(event.serial)
            self.action_show_tab("issue")

    @on(IssueForm.Issued)
    def _issued(self) -> None:
        # The key now holds one more credential; show the new count.
        self.query_one("#keys", KeyList).refresh_keys()
