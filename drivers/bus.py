"""Where keys are found: the PC/SC stack (pcscd), or, for in-process tests, a bus of virtual keys.

Everything above this seam (recognising a YubiKey, OATH, the station) talks to a key through a yubikit
`SmartCardConnection`, so the same code runs over pcscd and over the in-process virtual bus
(`drivers.emulator.bus.VirtualBus`). A bus only lists readers and opens a connection to one of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from smartcard import scard
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.pcsc.PCSCExceptions import EstablishContextException, ListReadersException
from smartcard.System import readers as pcsc_readers
from ykman.pcsc import ScardYubiKeyDevice
from yubikit.core import PID
from yubikit.core.smartcard import SmartCardConnection

from .errors import KeyBusyError, KeyRemovedError, PcscUnavailableError

log = logging.getLogger(__name__)

# What a key leaving mid-command looks like: pyscard's errors over pcscd, a ConnectionError in-process.
REMOVAL_ERRORS: tuple[type[BaseException], ...] = (CardConnectionException, NoCardException, ConnectionError)


class Watcher(Protocol):
    """Wakes a waiting thread when a key comes or goes (one per watching thread)."""

    def wait(self, timeout_ms: int = 1000) -> object:
        """Block up to timeout_ms; truthy when some reader's card came or went."""
        ...

    def close(self) -> None: ...


class KeyBus(Protocol):
    """Readers and connections to the cards in them."""

    def reader_names(self) -> list[str]: ...

    def reader_empty(self, reader_name: str) -> bool:
        """True only when the reader positively has no card (any doubt: False, so the caller looks)."""
        ...

    def connect(self, reader_name: str) -> AbstractContextManager[tuple[PID | None, SmartCardConnection]]:
        """An exclusive connection to the card in one reader (and its USB PID if known), closed on exit."""
        ...

    def watcher(self) -> Watcher:
        """Insert and remove notifications for this bus's readers."""
        ...


class PcscBus:
    """Keys on the machine's PC/SC readers, through pcscd."""

    def watcher(self) -> Watcher:
        from .watch import ReaderWatcher

        return ReaderWatcher()

    def reader_names(self) -> list[str]:
        try:
            return [str(r) for r in pcsc_readers()]
        except (EstablishContextException, ListReadersException) as exc:
            raise PcscUnavailableError(
                "The smart-card service (pcscd) is not reachable.",
                "Start it with 'systemctl start pcscd' (or 'pcscd') and try again.",
            ) from exc

    def reader_empty(self, reader_name: str) -> bool:
        """Asked before connecting because ykman's connect, on a reader named like a USB YubiKey, retries
        an absent card for 3 s (its "reclaim timeout" for a key that is switching modes): a scan would
        otherwise spend 3 s on every empty Yubico-named reader.
        """
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            return False
        try:
            query = [(reader_name, scard.SCARD_STATE_UNAWARE)]
            hresult, states = scard.SCardGetStatusChange(context, 0, query)
            return hresult == scard.SCARD_S_SUCCESS and bool(states[0][1] & scard.SCARD_STATE_EMPTY)
        finally:
            scard.SCardReleaseContext(context)

    @contextmanager
    def connect(self, reader_name: str) -> Iterator[tuple[PID | None, SmartCardConnection]]:
        device = ScardYubiKeyDevice(_reader(reader_name))
        try:
            connection = device.open_connection(SmartCardConnection)
        except CardConnectionException as exc:
            if _sharing_violation(exc):
                raise KeyBusyError(
                    f"The key in reader {reader_name!r} is busy: another program is using it.",
                    "Wait a moment and try again; close other key tools (ykman, another kiosk).",
                ) from exc
            raise KeyRemovedError(
                f"No key answers in reader {reader_name!r}.", "Insert the key and try again."
            ) from exc
        except (NoCardException, ValueError) as exc:
            raise KeyRemovedError(
                f"No key answers in reader {reader_name!r}.", "Insert the key and try again."
            ) from exc
        try:
            yield device.pid, connection
        finally:
            _close(reader_name, connection)


def _reader(name: str) -> object:
    for reader in pcsc_readers():
        if str(reader) == name:
            return reader
    raise KeyRemovedError(f"Reader {name!r} is gone.", "Re-insert the key and try again.")


def _close(reader_name: str, connection: SmartCardConnection) -> None:
    """Close a connection even when its card was pulled.

    ykman's close() disconnects first and releases the PC/SC context only if that worked; on a
    pulled card the disconnect fails, and the context stays open in pcscd for as long as this
    process lives. A kiosk runs for weeks and sees many pulled keys, so release it here.
    """
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - closing a pulled card must not hide the real error
        log.debug("disconnect from %s failed; releasing the context", reader_name, exc_info=True)
        pcsc = getattr(connection, "connection", None)
        try:
            if pcsc is not None and hasattr(pcsc, "release"):
                pcsc.release()
        except Exception:  # noqa: BLE001
            log.debug("releasing the context for %s failed", reader_name, exc_info=True)


def _sharing_violation(exc: CardConnectionException) -> bool:
    return getattr(exc, "hresult", None) == scard.SCARD_E_SHARING_VIOLATION or "sharing" in str(exc).lower()


PCSC = PcscBus()
