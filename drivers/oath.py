"""OATH on a YubiKey through yubikit's OathSession, with typed errors and no silent overwrite.

A real OATH applet replaces a credential whose name already exists without a word, so `put_totp`
lists first and refuses a duplicate. Every failure comes out as a DriverError subclass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from yubikit.core import ApplicationNotAvailableError, NotSupportedError
from yubikit.core.smartcard import SW, ApduError
from yubikit.oath import HASH_ALGORITHM, OATH_TYPE, CredentialData, OathSession

from .bus import PCSC, REMOVAL_ERRORS, KeyBus
from .discovery import KeyInfo, _probe_connected, find_key
from .errors import (
    AppletMissingError,
    CredentialExistsError,
    DriverError,
    KeyRemovedError,
    NameTooLongError,
    NoSpaceError,
    UnsupportedError,
)

OATH_NAME_MAX = 64  # YKOATH: a credential name (its id) is at most 64 bytes


@dataclass(frozen=True)
class TotpSpec:
    """A TOTP credential to write; the secret is raw bytes and never logged."""

    issuer: str | None
    name: str
    secret: bytes
    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"
    touch: bool = False

    def credential_id(self) -> bytes:
        return self._data().get_id()

    def _data(self) -> CredentialData:
        return CredentialData(
            name=self.name,
            oath_type=OATH_TYPE.TOTP,
            hash_algorithm=HASH_ALGORITHM[self.algorithm],
            secret=self.secret,
            digits=self.digits,
            period=self.period,
            issuer=self.issuer,
        )


def _removed(exc: BaseException) -> KeyRemovedError:
    return KeyRemovedError(
        "The key was removed during the operation; nothing was written.",
        "Insert the key again and repeat the action.",
    )


class OathKey:
    """An open OATH session on one present key."""

    def __init__(self, info: KeyInfo, session: OathSession) -> None:
        self.info = info
        self._session = session

    def credential_ids(self) -> list[bytes]:
        return [c.id for c in self._session.list_credentials()]

    def check_can_put(self, spec: TotpSpec, capacity: int | None = None) -> None:
        """Refuse an over-long name, a duplicate and a full applet before anything is written."""
        cred_id = spec.credential_id()
        if len(cred_id) > OATH_NAME_MAX:
            raise NameTooLongError(
                f"The credential name {cred_id.decode(errors='replace')!r} is {len(cred_id)} bytes;"
                f" the key allows {OATH_NAME_MAX}.",
                "Use a shorter issuer or owner name.",
            )
        existing = self.credential_ids()
        if cred_id in existing:
            raise CredentialExistsError(
                f"The key already holds a credential named {cred_id.decode(errors='replace')!r}.",
                "This owner already has it: nothing to do. For a second one, choose another issuer name.",
            )
        if capacity is not None and len(existing) >= capacity:
            raise NoSpaceError(
                f"The key's OATH applet is full ({len(existing)} of {capacity} credentials).",
                "Use another key from stock; an admin can clear unused credentials from this one.",
            )

    def put_totp(self, spec: TotpSpec) -> bytes:
        """Write a TOTP credential (call check_can_put first: the applet overwrites silently)."""
        cred_id = spec.credential_id()
        try:
            self._session.put_credential(spec._data(), touch_required=spec.touch)
        except REMOVAL_ERRORS as exc:
            # The key left mid-command: whether it applied the PUT is unknown until it is back.
            raise KeyRemovedError(
                "The key was removed while the credential was being written.",
                "Insert the same key again: the station will check what was written.",
            ) from exc
        except ApduError as exc:
            if exc.sw == SW.NO_SPACE:
                raise NoSpaceError(
                    "The key's OATH applet is full.",
                    "Use another key from stock; an admin can clear unused credentials from this one.",
                ) from exc
            if exc.sw in (SW.INCORRECT_PARAMETERS, SW.WRONG_LENGTH, SW.DATA_INVALID):
                raise UnsupportedError(
                    f"The key refused the credential (status {exc.sw:04X}).",
                    "Check the algorithm and digits are supported by this firmware.",
                ) from exc
            raise DriverError(f"The key refused the write: {exc}", "Try again.") from exc
        return cred_id

    def calculate(self, cred_id: bytes, timestamp: int) -> str:
        """The code the key shows for a credential at a time."""
        for cred in self._session.list_credentials():
            if cred.id == cred_id:
                return self._session.calculate_code(cred, timestamp).value
        raise DriverError(f"No credential {cred_id!r} on the key.", "Check the credential name.")

    def delete(self, cred_id: bytes) -> None:
        self._session.delete_credential(cred_id)


@contextmanager
def open_oath(serial: int, bus: KeyBus = PCSC) -> Iterator[OathKey]:
    """Find the key with this serial and open its OATH applet; errors are DriverError subclasses."""
    info = find_key(serial, bus)
    try:
        with bus.connect(info.reader) as (pid, connection):
            fresh = _probe_connected(info.reader, pid, connection)
            if fresh is None or fresh.serial != serial:
                raise KeyRemovedError(
                    f"The key with serial {serial} was swapped or removed.",
                    "Insert the right key and try again.",
                )
            try:
                session = OathSession(connection)
            except ApplicationNotAvailableError as exc:
                raise AppletMissingError(
                    f"Key {serial} has no OATH application enabled.",
                    "Enable OATH on the key (ykman config) or use another key.",
                ) from exc
            if session.locked:
                raise UnsupportedError(
                    f"Key {serial} has an OATH access password set.",
                    "Reset the OATH application or remove its password before issuing.",
                )
            yield OathKey(fresh, session)
    except REMOVAL_ERRORS as exc:
        raise _removed(exc) from exc
    except NotSupportedError as exc:
        raise UnsupportedError(str(exc), "This firmware cannot do that.") from exc
