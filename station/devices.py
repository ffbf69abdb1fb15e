"""The keys present at the desk, as the station reports them."""

from __future__ import annotations

from dataclasses import asdict

from drivers.bus import PCSC, KeyBus
from drivers.discovery import KeyInfo, list_keys, scan
from drivers.errors import DriverError

from .core import Station
from .errors import DeviceError
from .profiles import profile_for

__all__ = ["PCSC", "KeyBus", "KeyInfo", "KeyWatch", "holders", "key_as_json", "present_keys", "scan_desk"]


def present_keys(bus: KeyBus = PCSC) -> list[KeyInfo]:
    """Every YubiKey on any reader, or a DeviceError when pcscd is unreachable."""
    try:
        return list_keys(bus)
    except DriverError as exc:
        raise DeviceError(exc.message, exc.hint) from exc


def scan_desk(bus: KeyBus = PCSC) -> tuple[list[KeyInfo], list[str]]:
    """The keys present, and the readers whose key another program holds right now."""
    try:
        return scan(bus)
    except DriverError as exc:
        raise DeviceError(exc.message, exc.hint) from exc


def holders(station: Station) -> dict[int, str]:
    """Who holds each issued key, by serial, from the inventory."""
    rows = station.ledger.db.execute(
        "SELECT serial, owner FROM tokens WHERE kind = 'yubikey' AND owner IS NOT NULL")
    return {int(serial): owner for serial, owner in rows.fetchall()}


def key_as_json(key: KeyInfo) -> dict:
    """What the key reports, and what its firmware profile says it can hold (None: no OATH/no profile)."""
    profile = profile_for(key)
    capacity = None if profile is None or not profile.has_oath else profile.oath_capacity
    model_id = None if profile is None else profile.model_id
    return {**asdict(key), "profile": model_id, "oath_capacity": capacity}


class KeyWatch:
    """Wakes a kiosk thread when a key is inserted or removed (pcscd status changes, or the in-process
    bus's own notifications; no polling)."""

    def __init__(self, bus: KeyBus = PCSC) -> None:
        try:
            self._watcher = bus.watcher()
        except DriverError as exc:
            raise DeviceError(exc.message, exc.hint) from exc

    def wait_for_change(self, timeout_ms: int = 1000) -> bool:
        """Block up to timeout_ms; True when some reader's card came or went."""
        try:
            return bool(self._watcher.wait(timeout_ms))
        except DriverError as exc:
            raise DeviceError(exc.message, exc.hint) from exc

    def close(self) -> None:
        self._watcher.close()
