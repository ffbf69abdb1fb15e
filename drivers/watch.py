"""Insert and remove notification: block on pcscd's status-change call instead of polling.

`ReaderWatcher.wait()` returns the readers whose card came or went, so a kiosk thread can re-probe
only those. pcscd wakes the call on any change; the timeout only bounds how long a caller waits
before it may check whether it should stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from smartcard import scard

from .errors import PcscUnavailableError

_PNP = "\\\\?PnP?\\Notification"  # pcscd's pseudo-reader that signals readers added or removed


@dataclass(frozen=True)
class ReaderState:
    reader: str
    card_present: bool


def _check(rv: int, what: str) -> None:
    if rv != scard.SCARD_S_SUCCESS:
        raise PcscUnavailableError(
            f"pcscd refused {what}: {scard.SCardGetErrorMessage(rv)}",
            "Check that pcscd is running ('pcscd' or 'systemctl start pcscd').",
        )


class ReaderWatcher:
    """Tracks which readers hold a card; one instance per watching thread."""

    def __init__(self) -> None:
        rv, self._context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _check(rv, "a context")
        self._states: dict[str, int] = {}
        self._present: dict[str, bool] = {}
        self._refresh_readers()

    def _refresh_readers(self) -> None:
        rv, names = scard.SCardListReaders(self._context, [])
        if rv == scard.SCARD_E_NO_READERS_AVAILABLE:
            names = []
        else:
            _check(rv, "the reader list")
        self._states = {n: self._states.get(n, scard.SCARD_STATE_UNAWARE) for n in names}

    def snapshot(self) -> list[ReaderState]:
        """Current readers and whether a card sits in each (non-blocking)."""
        self.wait(timeout_ms=0)
        return [ReaderState(r, self._present.get(r, False)) for r in self._states]

    def wait(self, timeout_ms: int = 1000) -> set[str]:
        """Block until a card or reader changes (or timeout); return the readers that changed."""
        query = [(name, state) for name, state in self._states.items()]
        query.append((_PNP, scard.SCARD_STATE_UNAWARE if not self._states else 0))
        rv, result = scard.SCardGetStatusChange(self._context, timeout_ms, query)
        if rv == scard.SCARD_E_TIMEOUT:
            return set()
        if rv in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_NO_READERS_AVAILABLE):
            before = set(self._states)
            self._refresh_readers()
            return before ^ set(self._states)
        _check(rv, "status changes")
        changed: set[str] = set()
        readers_changed = False
        for name, event_state, _atr in result:
            if name == _PNP:
                readers_changed = bool(event_state & scard.SCARD_STATE_CHANGED)
                continue
            present = bool(event_state & scard.SCARD_STATE_PRESENT)
            if self._present.get(name) != present:
                changed.add(name)
            self._present[name] = present
            self._states[name] = event_state & ~scard.SCARD_STATE_CHANGED
        if readers_changed:
            before = set(self._states)
            self._refresh_readers()
            changed |= before ^ set(self._states)
        return changed

    def close(self) -> None:
        scard.SCardReleaseContext(self._context)
