"""The YubiKey's OTP application (the two "keyboard" slots) through yubikit's YubiOtpSession.

Three things the station needs from it, over any key bus (pcscd or the in-process virtual bus):
- program a slot with Yubico OTP (public id, private id, AES-128 key), refusing a slot in use;
- program a slot for HMAC-SHA1 challenge-response (the vault's admin-key unwrap, slot 2 by custom);
- answer an HMAC-SHA1 challenge (yubikit's `calculate_hmac_sha1`).

Slot configurations are write-only on a real key: nothing here can read a secret back, and the
station never has to. Every failure comes out as a DriverError subclass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from yubikit.core import ApplicationNotAvailableError, CommandError, NotSupportedError
from yubikit.yubiotp import (
    SLOT,
    HmacSha1SlotConfiguration,
    YubiOtpSession,
    YubiOtpSlotConfiguration,
)

from .bus import PCSC, REMOVAL_ERRORS, KeyBus
from .discovery import KeyInfo, _probe_connected, find_key
from .errors import AppletMissingError, CredentialExistsError, DriverError, KeyRemovedError, UnsupportedError

SLOTS = {1: SLOT.ONE, 2: SLOT.TWO}


def _slot(number: int) -> SLOT:
    if number not in SLOTS:
        raise UnsupportedError(f"A YubiKey has OTP slots 1 and 2, not {number}.", "Use slot 1 or 2.")
    return SLOTS[number]


class OtpKey:
    """An open OTP session on one present key."""

    def __init__(self, info: KeyInfo, session: YubiOtpSession) -> None:
        self.info = info
        self._session = session

    def configured(self, slot: int) -> bool:
        return self._session.get_config_state().is_configured(_slot(slot))

    def _refuse_in_use(self, slot: int) -> None:
        if self.configured(slot):
            raise CredentialExistsError(
                f"OTP slot {slot} of key {self.info.serial} is already programmed.",
                "The station never overwrites a slot: use a key whose slot is empty, or have the holder"
                f" clear it first (ykman otp delete {slot}) if it is really unused.",
            )

    def _put(self, slot: int, config: object) -> None:
        try:
            self._session.put_configuration(_slot(slot), config)
        except REMOVAL_ERRORS as exc:
            raise KeyRemovedError(
                "The key was removed while its OTP slot was being written.",
                "Insert the same key again and check the slot (ykman otp info).",
            ) from exc
        except CommandError as exc:
            raise DriverError(
                f"Key {self.info.serial} refused to program OTP slot {slot}: {exc}.",
                "The slot may be protected by an access code; clear it on the key, then try again.",
            ) from exc

    def put_yubico_otp(self, slot: int, public_id: bytes, private_id: bytes, aes_key: bytes) -> None:
        """Program Yubico OTP into an empty slot (the key types public id + encrypted ticket)."""
        self._refuse_in_use(slot)
        self._put(slot, YubiOtpSlotConfiguration(public_id, private_id, aes_key))

    def put_hmac_sha1(self, slot: int, secret: bytes, *, touch: bool = False) -> None:
        """Program HMAC-SHA1 challenge-response into an empty slot (64-byte challenges, 20-byte answer)."""
        self._refuse_in_use(slot)
        config = HmacSha1SlotConfiguration(secret).require_touch(touch)
        self._put(slot, config)

    def hmac_sha1(self, slot: int, challenge: bytes) -> bytes:
        """The slot's HMAC-SHA1 answer to a challenge (the key's secret never leaves it)."""
        try:
            return self._session.calculate_hmac_sha1(_slot(slot), challenge)
        except REMOVAL_ERRORS as exc:
            raise KeyRemovedError(
                "The key was removed during the challenge.", "Insert it and try again."
            ) from exc
        except CommandError as exc:
            raise UnsupportedError(
                f"Key {self.info.serial} did not answer a challenge on OTP slot {slot}: {exc}.",
                f"This key's slot {slot} is not set up for HMAC-SHA1 challenge-response; use the key"
                " enrolled for this station, or touch it when it blinks.",
            ) from exc


@contextmanager
def open_otp(serial: int, bus: KeyBus = PCSC) -> Iterator[OtpKey]:
    """Find the key with this serial and open its OTP application; errors are DriverError subclasses."""
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
                session = YubiOtpSession(connection)
            except ApplicationNotAvailableError as exc:
                raise AppletMissingError(
                    f"Key {serial} has no OTP application enabled.",
                    "Enable OTP on the key (ykman config nfc --enable OTP) or use another key.",
                ) from exc
            yield OtpKey(fresh, session)
    except REMOVAL_ERRORS as exc:
        raise KeyRemovedError(
            "The key was removed during the operation.", "Insert the key again and repeat the action."
        ) from exc
    except NotSupportedError as exc:
        raise UnsupportedError(str(exc), "This firmware cannot do that.") from exc
