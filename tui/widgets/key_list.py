"""The keys at the desk: a table that follows keys as they are inserted and removed.

A thread worker blocks on the station's key bus (`KeyWatch.wait_for_change`: pcscd, or the in-process
bus of virtual keys in tests) and wakes this widget when a card comes or goes; the list itself is then
read on the desk thread, queued behind any issue in progress so the two never talk to a key at the
same time.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from station.core import Station
from station.devices import PCSC, KeyInfo, KeyWatch, scan_desk
from station.devices import holders as holders_of
from station.errors import DeviceError

from ..desk import DeskThread

WATCH_TIMEOUT_MS = 500  # how long a wait may block before the thread checks whether to stop
RETRY_SECONDS = 3.0  # pause before reconnecting when pcscd is down (interruptible by stop)
CHANGE_RETRIES = 2  # extra reads when pcscd reported a change but the list did not change
CHANGE_RETRY_SECONDS = 1.0


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


@dataclass
class WatchControl:
    """Shared with the app, which must stop the watcher thread and see it end after the widgets are gone."""

    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=_set_event)  # set while no watcher runs


class KeyList(Vertical):
    """Table of present keys plus one status line (count, or what is wrong with pcscd)."""

    class Changed(Message):
        """The present keys were read again."""

        def __init__(self, keys: list[KeyInfo]) -> None:
            super().__init__()
            self.keys = keys

    class Read(Message):
        """The present keys were read (changed or not): a returning key may have work pending."""

        def __init__(self, keys: list[KeyInfo]) -> None:
            super().__init__()
            self.keys = keys

    class SerialChosen(Message):
        """The operator picked a key in the table (Enter or click)."""

        def __init__(self, serial: int) -> None:
            super().__init__()
            self.serial = serial

    class _DeviceEvent(Message):
        """Posted from the watcher thread: a card came or went (or pcscd came back)."""

    class _WatchError(Message):
        def __init__(self, error: DeviceError) -> None:
            super().__init__()
            self.error = error

    def __init__(
        self, desk: DeskThread, watch: WatchControl, *, station: Station | None = None,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id)
        self._station = station
        self._bus = station.bus if station is not None else PCSC
        self.holders: dict[int, str] = {}
        self.busy: list[str] = []
        self._desk = desk
        self._control = watch
        self._stop = watch.stop
        self.keys: list[KeyInfo] = []
        self.error: DeviceError | None = None
        self._shown_once = False

    def compose(self) -> ComposeResult:
        yield Static("Keys at the desk", classes="section-title")
        table: DataTable = DataTable(id="key-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("Serial", "Issued to", "Model", "Firmware", "Reader", "OATH credentials")
        yield table
        yield Static("Looking for keys…", id="key-status")

    def on_mount(self) -> None:
        self.refresh_keys()
        self._control.done.clear()  # here, not in the thread: the app may wait before it starts
        self.run_worker(self._watch, thread=True, group="key-watch", name="key-watch",
                        exit_on_error=False)

    def _watch(self) -> None:
        """Thread worker: wait on pcscd, post a message on every change, until told to stop."""
        try:
            self._watch_until_stopped()
        finally:
            self._control.done.set()

    def _watch_until_stopped(self) -> None:
        worker = get_current_worker()
        while not (self._stop.is_set() or worker.is_cancelled):
            try:
                watch = KeyWatch(self._bus)
            except DeviceError as exc:
                self.post_message(self._WatchError(exc))
                self._stop.wait(RETRY_SECONDS)
                continue
            # Anything may have happened while we were not watching (pcscd restarted): re-read.
            self.post_message(self._DeviceEvent())
            try:
                while not (self._stop.is_set() or worker.is_cancelled):
                    if watch.wait_for_change(WATCH_TIMEOUT_MS):
                        # post_message is thread-safe and does not block, so a closing app
                        # can never deadlock waiting for this thread.
                        self.post_message(self._DeviceEvent())
            except DeviceError as exc:
                self.post_message(self._WatchError(exc))
                self._stop.wait(RETRY_SECONDS)
            finally:
                watch.close()

    @on(_DeviceEvent)
    def _on_device_event(self) -> None:
        self.refresh_keys(after_change=True)

    @on(_WatchError)
    def _on_watch_error(self, message: _WatchError) -> None:
        self._show_error(message.error)

    @work(exclusive=True, group="key-refresh")
    async def refresh_keys(self, after_change: bool = False) -> None:
        """Read the present keys on the desk thread; a newer refresh replaces an older one.

        A key that is busy (another program holds it) when we probe is silently left out by
        present_keys, and no further change event would bring it back; so when pcscd said
        something changed but the list looks the same, look again a few times.
        """
        attempts = 1 + (CHANGE_RETRIES if after_change else 0)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(CHANGE_RETRY_SECONDS)
            try:
                keys, busy = await self._desk.run(scan_desk, self._bus)
                holders = await self._desk.run(holders_of, self._station) if self._station else {}
            except DeviceError as exc:
                self._show_error(exc)
                return
            except RuntimeError:
                return  # the desk thread was shut down: the kiosk is closing
            self.post_message(self.Read(list(keys)))
            if busy != self.busy:
                self.busy = busy
                self._shown_once = False  # force a redraw: the busy line changed
            if holders != self.holders:
                self.holders = holders
                self._shown_once = False  # force a redraw: the same keys, new holders
            if keys != self.keys or self.error is not None or not self._shown_once:
                self.error = None
                self._show_keys(keys)  # only on a difference: a rebuild moves the cursor
                return

    def _show_error(self, exc: DeviceError) -> None:
        self.error = exc
        status = self.query_one("#key-status", Static)
        status.set_class(True, "-error")
        status.update(Text.assemble((exc.message, "bold"), "\n", ("What to do: ", "bold"), exc.hint))

    def _show_keys(self, keys: list[KeyInfo]) -> None:
        self.keys = keys
        self._shown_once = True
        table = self.query_one("#key-table", DataTable)
        table.clear()
        for key in keys:
            table.add_row(
                "—" if key.serial is None else str(key.serial),
                self.holders.get(key.serial, "not issued") if key.serial is not None else "—",
                key.model,
                key.firmware,
                key.reader,
                "OATH off or locked" if key.oath_credentials is None else str(key.oath_credentials),
                key=key.reader,
            )
        status = self.query_one("#key-status", Static)
        status.set_class(False, "-error")
        if not keys:
            text = "No key inserted. Insert a YubiKey; it appears here by itself (F5 looks again)."
        elif len(keys) == 1:
            text = "1 key present."
        else:
            text = f"{len(keys)} keys present."
        if self.busy:
            # A key another program holds cannot be read; say so rather than leave it out silently.
            text += f"\nBusy: the key in {', '.join(self.busy)} is used by another program (F5 looks again)."
        status.update(text)
        self.post_message(self.Changed(list(keys)))

    @on(DataTable.RowSelected, "#key-table")
    def _on_row_selected(self, event: DataTable.RowSelected) -> None:
        for key in self.keys:
            if key.reader == event.row_key.value and key.serial is not None:
                self.post_message(self.SerialChosen(key.serial))
