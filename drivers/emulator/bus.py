"""An in-process bus of virtual YubiKeys: readers you insert keys into and pull them from.

It stands in for the USB bus and pcscd in fast tests: everything above `drivers.bus.KeyBus` (key
recognition, OATH, the station's workflows) runs unchanged over it, talking APDUs to the virtual key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from yubikit.core import PID
from yubikit.core.smartcard import SmartCardConnection

from ..errors import KeyBusyError, KeyRemovedError
from .card import VirtualYubiKey
from .connection import VirtualConnection


class VirtualBus:
    """Named readers, each empty or holding one virtual key. Inserting or removing a key wakes watchers,
    as pcscd's status-change call does for a real reader."""

    def __init__(self, readers: int = 2, prefix: str = "Virtual Reader") -> None:
        self._slots: dict[str, VirtualYubiKey | None] = {f"{prefix} {i:02d}": None for i in range(readers)}
        self._busy: set[str] = set()
        self._changes = threading.Condition()
        self._generation = 0

    def _changed(self) -> None:
        with self._changes:
            self._generation += 1
            self._changes.notify_all()

    def watcher(self) -> _VirtualWatcher:
        return _VirtualWatcher(self)

    def reader_names(self) -> list[str]:
        return list(self._slots)

    def insert(self, key: VirtualYubiKey, reader: str | None = None) -> str:
        """Put a key into a reader (the first empty one by default); returns the reader's name."""
        if reader is None:
            reader = next((name for name, k in self._slots.items() if k is None), None)
            if reader is None:
                raise ValueError("every reader holds a key")
        if self._slots.get(reader, "missing") is not None:
            raise ValueError(f"reader {reader!r} is not an empty reader of this bus")
        key.reinsert()
        self._slots[reader] = key
        self._changed()
        return reader

    def reader_empty(self, reader_name: str) -> bool:
        return self.key_in(reader_name) is None

    def key_in(self, reader: str) -> VirtualYubiKey | None:
        return self._slots[reader]

    def remove(self, key: VirtualYubiKey) -> None:
        for name, held in self._slots.items():
            if held is key:
                self._slots[name] = None
                self._changed()
                return
        raise ValueError("that key is not in any reader")

    def hold(self, reader: str, busy: bool = True) -> None:
        """Simulate another program holding the card in a reader exclusively."""
        (self._busy.add if busy else self._busy.discard)(reader)

    @contextmanager
    def connect(self, reader_name: str) -> Iterator[tuple[PID | None, SmartCardConnection]]:
        if reader_name not in self._slots:
            raise KeyRemovedError(f"Reader {reader_name!r} is gone.", "Re-insert the key and try again.")
        if reader_name in self._busy:
            raise KeyBusyError(
                f"The key in reader {reader_name!r} is busy: another program is using it.",
                "Wait a moment and try again; close other key tools (ykman, another kiosk).",
            )
        key = self._slots[reader_name]
        if key is None or key.removed:
            raise KeyRemovedError(
                f"No key answers in reader {reader_name!r}.", "Insert the key and try again."
            )
        connection = VirtualConnection(key)
        try:
            yield None, connection
        finally:
            connection.close()


class _VirtualWatcher:
    """Waits for the bus's next insert or remove after the one it last saw."""

    def __init__(self, bus: VirtualBus) -> None:
        self._bus = bus
        self._seen = bus._generation

    def wait(self, timeout_ms: int = 1000) -> bool:
        with self._bus._changes:
            changed = self._bus._changes.wait_for(
                lambda: self._bus._generation != self._seen, timeout_ms / 1000
            )
            self._seen = self._bus._generation
            return changed

    def close(self) -> None:
        pass
