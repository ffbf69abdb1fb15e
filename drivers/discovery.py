"""Which YubiKeys are present: readers, cards, and recognising a YubiKey by talking to it.

A reader's name says nothing reliable (a YubiKey can sit behind any NFC reader, and a virtual key
behind "Virtual PCD"), so a card counts as a YubiKey only if it answers the Management applet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from smartcard import scard
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.pcsc.PCSCExceptions import EstablishContextException, ListReadersException
from smartcard.System import readers as pcsc_readers
from ykman.pcsc import ScardYubiKeyDevice
from yubikit.core import TRANSPORT, ApplicationNotAvailableError, CommandError
from yubikit.core.smartcard import SmartCardConnection
from yubikit.management import CAPABILITY, ManagementSession
from yubikit.oath import OathSession
from yubikit.support import get_name, read_info

from .errors import DriverError, KeyBusyError, KeyNotFoundError, KeyRemovedError, PcscUnavailableError

log = logging.getLogger(__name__)

_APP_ORDER = ("OTP", "U2F", "FIDO2", "OATH", "PIV", "OPENPGP", "HSMAUTH")


@dataclass(frozen=True)
class KeyInfo:
    """What the station knows of a present key after talking to it."""

    reader: str
    serial: int | None
    model: str
    firmware: str
    form_factor: str
    transport: str
    enabled: tuple[str, ...]
    supported: tuple[str, ...]
    oath_credentials: int | None  # None when the OATH applet is missing, disabled or locked


def _app_names(caps: CAPABILITY) -> tuple[str, ...]:
    return tuple(name for name in _APP_ORDER if CAPABILITY[name] in caps)


def reader_names() -> list[str]:
    """Names of all PC/SC readers, or a typed error when pcscd cannot be reached."""
    try:
        return [str(r) for r in pcsc_readers()]
    except (EstablishContextException, ListReadersException) as exc:
        raise PcscUnavailableError(
            "The smart-card service (pcscd) is not reachable.",
            "Start it with 'systemctl start pcscd' (or 'pcscd') and try again.",
        ) from exc


def _reader(name: str) -> object:
    for reader in pcsc_readers():
        if str(reader) == name:
            return reader
    raise KeyRemovedError(f"Reader {name!r} is gone.", "Re-insert the key and try again.")


@contextmanager
def connect(reader_name: str) -> Iterator[tuple[ScardYubiKeyDevice, SmartCardConnection]]:
    """An exclusive smart-card connection to the card in one reader, closed on exit."""
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
        yield device, connection
    finally:
        _close(reader_name, connection)


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


def _probe_connected(
    reader_name: str, device: ScardYubiKeyDevice, connection: SmartCardConnection
) -> KeyInfo | None:
    try:
        ManagementSession(connection)  # recognition: the Management applet answers
    except ApplicationNotAvailableError:
        return None
    info = read_info(connection, device.pid)
    transport = connection.transport
    enabled = info.config.enabled_capabilities.get(transport, CAPABILITY(0))
    supported = info.supported_capabilities.get(transport, CAPABILITY(0))
    oath_count: int | None = None
    if CAPABILITY.OATH in enabled:
        try:
            session = OathSession(connection)
            if not session.locked:
                oath_count = len(session.list_credentials())
        except (ApplicationNotAvailableError, CommandError):
            oath_count = None
    return KeyInfo(
        reader=reader_name,
        serial=info.serial,
        model=get_name(info, device.pid.yubikey_type if device.pid else None),
        firmware=str(info.version),
        form_factor=str(info.form_factor),
        transport="USB" if transport == TRANSPORT.USB else "NFC",
        enabled=_app_names(enabled),
        supported=_app_names(supported),
        oath_credentials=oath_count,
    )


def reader_empty(reader_name: str) -> bool:
    """True only when pcscd positively reports no card in the reader (any doubt: False).

    Asked before connecting because ykman's connect, on a reader named like a USB YubiKey, retries
    an absent card for 3 s (its "reclaim timeout" for a key that is switching modes): a scan would
    otherwise spend 3 s on every empty Yubico-named reader.
    """
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    try:
        hresult, states = scard.SCardGetStatusChange(context, 0, [(reader_name, scard.SCARD_STATE_UNAWARE)])
        return hresult == scard.SCARD_S_SUCCESS and bool(states[0][1] & scard.SCARD_STATE_EMPTY)
    finally:
        scard.SCardReleaseContext(context)


def probe(reader_name: str) -> KeyInfo | None:
    """Talk to the card in a reader: its KeyInfo if it is a YubiKey, None if not or if empty.

    Raises KeyBusyError when a card is there but another program holds it.
    """
    if reader_empty(reader_name):
        return None
    try:
        with connect(reader_name) as (device, connection):
            return _probe_connected(reader_name, device, connection)
    except KeyRemovedError:
        return None
    except (CardConnectionException, NoCardException):
        return None  # pulled while we talked: it is simply not present any more


def scan() -> tuple[list[KeyInfo], list[str]]:
    """Every YubiKey present, in reader order, and the readers whose card is busy elsewhere."""
    keys, busy = [], []
    for name in reader_names():
        try:
            info = probe(name)
        except KeyBusyError:
            busy.append(name)
            continue
        if info is not None:
            keys.append(info)
    return keys, busy


def list_keys() -> list[KeyInfo]:
    """Every YubiKey present on any reader that is not busy, in reader order."""
    return scan()[0]


def find_key(serial: int) -> KeyInfo:
    """The present key with this serial, or an error naming what is present (and what is busy)."""
    keys, busy = scan()
    for key in keys:
        if key.serial == serial:
            return key
    present = ", ".join(str(k.serial) for k in keys) or "none"
    if busy:
        raise KeyBusyError(
            f"Key {serial} was not found; the key in {', '.join(busy)} is busy: another program is"
            f" using it (present and free: {present}).",
            "Wait for the other program to finish (or close it), then try again.",
        )
    raise KeyNotFoundError(
        f"No YubiKey with serial {serial} is inserted (present: {present}).",
        "Check the serial printed on the key, insert it, and try again.",
    )


__all__ = ["DriverError", "KeyInfo", "connect", "find_key", "list_keys", "probe", "reader_names"]
