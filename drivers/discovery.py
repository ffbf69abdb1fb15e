"""Which YubiKeys are present: readers, cards, and recognising a YubiKey by talking to it.

A reader's name says nothing reliable (a YubiKey can sit behind any NFC reader, and a virtual key
behind "Virtual PCD"), so a card counts as a YubiKey only if it answers the Management applet.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

from yubikit.core import PID, TRANSPORT, ApplicationNotAvailableError, CommandError
from yubikit.core.smartcard import SmartCardConnection
from yubikit.management import CAPABILITY, ManagementSession
from yubikit.oath import OathSession
from yubikit.support import get_name, read_info

from .bus import PCSC, REMOVAL_ERRORS, KeyBus
from .errors import DriverError, KeyBusyError, KeyNotFoundError, KeyRemovedError

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


def reader_names(bus: KeyBus = PCSC) -> list[str]:
    """Names of all readers on the bus, or a typed error when pcscd cannot be reached."""
    return bus.reader_names()


def connect(reader_name: str, bus: KeyBus = PCSC) -> AbstractContextManager[tuple[PID | None,
                                                                                 SmartCardConnection]]:
    """An exclusive smart-card connection to the card in one reader, closed on exit."""
    return bus.connect(reader_name)


def _probe_connected(reader_name: str, pid: PID | None, connection: SmartCardConnection) -> KeyInfo | None:
    try:
        ManagementSession(connection)  # recognition: the Management applet answers
    except ApplicationNotAvailableError:
        return None
    info = read_info(connection, pid)
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
        model=get_name(info, pid.yubikey_type if pid else None),
        firmware=str(info.version),
        form_factor=str(info.form_factor),
        transport="USB" if transport == TRANSPORT.USB else "NFC",
        enabled=_app_names(enabled),
        supported=_app_names(supported),
        oath_credentials=oath_count,
    )


def probe(reader_name: str, bus: KeyBus = PCSC) -> KeyInfo | None:
    """Talk to the card in a reader: its KeyInfo if it is a YubiKey, None if not or if empty.

    Raises KeyBusyError when a card is there but another program holds it.
    """
    if bus.reader_empty(reader_name):
        return None
    try:
        with bus.connect(reader_name) as (pid, connection):
            return _probe_connected(reader_name, pid, connection)
    except KeyRemovedError:
        return None
    except REMOVAL_ERRORS:
        return None  # pulled while we talked: it is simply not present any more


def scan(bus: KeyBus = PCSC) -> tuple[list[KeyInfo], list[str]]:
    """Every YubiKey present, in reader order, and the readers whose card is busy elsewhere."""
    keys, busy = [], []
    for name in bus.reader_names():
        try:
            info = probe(name, bus)
        except KeyBusyError:
            busy.append(name)
            continue
        if info is not None:
            keys.append(info)
    return keys, busy


def list_keys(bus: KeyBus = PCSC) -> list[KeyInfo]:
    """Every YubiKey present on any reader that is not busy, in reader order."""
    return scan(bus)[0]


def find_key(serial: int, bus: KeyBus = PCSC) -> KeyInfo:
    """The present key with this serial, or an error naming what is present (and what is busy)."""
    keys, busy = scan(bus)
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


__all__ = [
    "PCSC", "DriverError", "KeyBus", "KeyInfo", "connect", "find_key", "list_keys", "probe", "reader_names",
]
