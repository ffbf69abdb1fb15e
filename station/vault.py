"""The vault: secrets encrypted at rest, never in the ledger.

One random 256-bit data key encrypts every record with AES-GCM. A record (format 2) is

    b"TSV2" | key id (8 bytes) | nonce (12 bytes, fresh per record) | ciphertext and tag

with associated data binding it to its place: ``"token-station vault record v2" | record id | key id``.
Record ids name what the secret belongs to (``totp/<serial>/<intent>``, ``seed/<serial>``,
``operator/<id>/pin`` ...), so a blob copied onto another token's record, or kept from before a key
rotation, does not open. Format 1 (nonce | ciphertext, the record id as associated data) is still
read; the station re-seals such records as format 2 when it is opened (``vault_ops``).

The data key is wrapped in one or more unwrap slots, like LUKS key slots, kept in station.json:
- ``passphrase``: a key derived with scrypt from the vault passphrase;
- ``yubikey``: a key derived (HKDF-SHA256) from an admin YubiKey's HMAC-SHA1 challenge-response answer
  (OTP slot 2) to the slot's stored challenge; the answer comes from a secret only that key holds.
A rotation wraps a new data key and, until every record is re-sealed, keeps the previous key's slots
(``previous``), so a crash half-way loses nothing: opening the station finishes the rotation.

Fingerprints of secrets are keyed (HMAC), so the ledger can name a seed without letting anyone who
holds the ledger test guesses against it. The fingerprint key outlives data-key rotations: it is kept
as a record of its own once the first rotation happens (see ``vault_ops``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import InputError, WrongPassphraseError

_WRAP_AAD_V1 = b"token-station vault data key v1"
_WRAP_AAD = b"token-station vault data key v2|"
_RECORD_AAD = b"token-station vault record v2\x00"
_YUBIKEY_INFO = b"token-station vault yubikey kek v1"
_FINGERPRINT_LABEL = b"token-station seed fingerprint v1"
_KEY_ID_LABEL = b"token-station vault key id"
MAGIC = b"TSV2"
KEY_ID_BYTES, NONCE_BYTES = 8, 12
MIN_PASSPHRASE = 8
# scrypt cost: about 0.1 s and 32 MiB here; enough to slow guessing, quick at every kiosk start.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
CHALLENGE_BYTES = 32  # HMAC-SHA1 challenge-response takes up to 64
FINGERPRINT_RECORD = "station/fingerprint-key"

Responder = Callable[[bytes], bytes]  # a YubiKey's HMAC-SHA1 answer to a challenge


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def _kek(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _yubikey_kek(response: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_YUBIKEY_INFO).derive(response)


def key_id_of(data_key: bytes) -> str:
    """A public name for a data key (keyed hash: it says nothing about the key)."""
    return hmac.new(data_key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[: 2 * KEY_ID_BYTES]


def check_passphrase(passphrase: str) -> None:
    if len(passphrase.strip()) < MIN_PASSPHRASE:
        raise InputError(
            f"The vault passphrase must be at least {MIN_PASSPHRASE} characters.",
            "Choose a longer passphrase and keep it in the station's sealed envelope.",
        )


@dataclass(frozen=True)
class UnwrapSlot:
    """One way to unwrap the data key. ``kind`` is passphrase or yubikey; nothing secret in clear.

    A passphrase slot holds the scrypt salt and cost; a yubikey slot the key's serial, its OTP slot,
    the operator who enrolled it and the challenge. ``legacy`` marks the one slot of a format-1 header.
    """

    kind: str
    salt: str
    nonce: str
    wrapped_key: str
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P
    serial: int = 0
    otp_slot: int = 2
    operator: str = ""
    challenge: str = ""
    legacy: bool = False

    def to_json(self) -> dict:
        if self.kind == "passphrase":
            return {
                "kind": self.kind,
                "salt": self.salt,
                "n": self.n,
                "r": self.r,
                "p": self.p,
                "nonce": self.nonce,
                "wrapped_key": self.wrapped_key,
            }
        return {
            "kind": self.kind,
            "serial": self.serial,
            "otp_slot": self.otp_slot,
            "operator": self.operator,
            "challenge": self.challenge,
            "salt": self.salt,
            "nonce": self.nonce,
            "wrapped_key": self.wrapped_key,
        }

    @classmethod
    def from_json(cls, data: dict) -> UnwrapSlot:
        if not isinstance(data, dict) or data.get("kind") not in ("passphrase", "yubikey"):
            raise ValueError("vault slot kind must be passphrase or yubikey")
        for name in ("salt", "nonce", "wrapped_key"):
            if not isinstance(data.get(name), str):
                raise ValueError(f"vault slot {name} must be text")
        if data["kind"] == "passphrase":
            for name in ("n", "r", "p"):
                value = data.get(name)
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ValueError(f"vault.{name} must be a positive whole number")
            return cls(
                "passphrase",
                data["salt"],
                data["nonce"],
                data["wrapped_key"],
                data["n"],
                data["r"],
                data["p"],
            )
        if not isinstance(data.get("serial"), int) or not isinstance(data.get("challenge"), str):
            raise ValueError("a yubikey vault slot needs a serial and a challenge")
        return cls(
            "yubikey",
            data["salt"],
            data["nonce"],
            data["wrapped_key"],
            serial=data["serial"],
            otp_slot=int(data.get("otp_slot", 2)),
            operator=str(data.get("operator", "")),
            challenge=data["challenge"],
        )

    def _aad(self) -> bytes:
        return _WRAP_AAD_V1 if self.legacy else _WRAP_AAD + self.kind.encode()

    def unwrap(self, kek: bytes) -> bytes | None:
        try:
            return AESGCM(kek).decrypt(_unb64(self.nonce), _unb64(self.wrapped_key), self._aad())
        except (InvalidTag, ValueError):
            return None


def passphrase_slot(data_key: bytes, passphrase: str) -> UnwrapSlot:
    check_passphrase(passphrase)
    salt, nonce = os.urandom(16), os.urandom(NONCE_BYTES)
    slot = UnwrapSlot("passphrase", _b64(salt), _b64(nonce), "")
    wrapped = AESGCM(_kek(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, data_key, slot._aad()
    )
    return replace(slot, wrapped_key=_b64(wrapped))


def yubikey_slot(
    data_key: bytes, serial: int, respond: Responder, *, operator: str, otp_slot: int = 2
) -> UnwrapSlot:
    """Wrap the data key under a key derived from this YubiKey's answer to a fresh challenge."""
    challenge, salt, nonce = os.urandom(CHALLENGE_BYTES), os.urandom(16), os.urandom(NONCE_BYTES)
    slot = UnwrapSlot(
        "yubikey",
        _b64(salt),
        _b64(nonce),
        "",
        serial=serial,
        otp_slot=otp_slot,
        operator=operator,
        challenge=_b64(challenge),
    )
    kek = _yubikey_kek(respond(challenge), salt)
    return replace(slot, wrapped_key=_b64(AESGCM(kek).encrypt(nonce, data_key, slot._aad())))


@dataclass(frozen=True)
class VaultHeader:
    """What the config stores to unwrap the data key: slots, the key's public id, and (during a
    rotation) the previous key's header."""

    slots: tuple[UnwrapSlot, ...]
    key_id: str = ""  # "" in a format-1 header
    previous: VaultHeader | None = None
    version: int = 2

    @property
    def yubikeys(self) -> tuple[UnwrapSlot, ...]:
        return tuple(s for s in self.slots if s.kind == "yubikey")

    def to_json(self) -> dict:
        if self.version == 1:
            s = self.slots[0]
            return {
                "salt": s.salt,
                "n": s.n,
                "r": s.r,
                "p": s.p,
                "nonce": s.nonce,
                "wrapped_key": s.wrapped_key,
            }
        return {
            "version": 2,
            "key_id": self.key_id,
            "slots": [s.to_json() for s in self.slots],
            "previous": None if self.previous is None else self.previous.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> VaultHeader:
        """Parse a header of either format; a wrong field raises ValueError naming it."""
        if not isinstance(data, dict):
            raise ValueError("vault must be an object")
        if "slots" not in data:  # format 1: one passphrase, fields at the top
            slot = UnwrapSlot.from_json({**data, "kind": "passphrase"})
            return cls((replace(slot, legacy=True),), "", None, 1)
        if not isinstance(data["slots"], list) or not data["slots"]:
            raise ValueError("vault.slots must be a non-empty list")
        if not isinstance(data.get("key_id"), str):
            raise ValueError("vault.key_id must be text")
        previous = data.get("previous")
        return cls(
            tuple(UnwrapSlot.from_json(s) for s in data["slots"]),
            data["key_id"],
            None if previous is None else cls.from_json(previous),
            2,
        )


def _wrong_passphrase() -> WrongPassphraseError:
    return WrongPassphraseError(
        "The passphrase does not open this station's vault.",
        "Type the passphrase again (scripts: check STATION_PASSPHRASE). Nothing was changed.",
    )


def _unwrap_passphrase(header: VaultHeader, passphrase: str) -> bytes | None:
    for slot in header.slots:
        if slot.kind == "passphrase":
            key = slot.unwrap(_kek(passphrase, _unb64(slot.salt), slot.n, slot.r, slot.p))
            if key is not None:
                return key
    return None


def _unwrap_yubikey(header: VaultHeader, serial: int, respond: Responder) -> bytes | None:
    for slot in header.yubikeys:
        if slot.serial == serial:
            key = slot.unwrap(_yubikey_kek(respond(_unb64(slot.challenge)), _unb64(slot.salt)))
            if key is not None:
                return key
    return None


class Vault:
    """An unlocked vault: seals and opens records with the data key held in memory only.

    ``previous`` is the data key before an unfinished rotation: records not yet re-sealed open with it.
    """

    def __init__(self, data_key: bytes, previous: bytes | None = None) -> None:
        self._key = data_key
        self._aead = AESGCM(data_key)
        self.key_id = key_id_of(data_key)
        self._previous = None if previous is None else (key_id_of(previous), AESGCM(previous))
        self._fp_key = hmac.new(
            data_key if previous is None else previous, _FINGERPRINT_LABEL, hashlib.sha256
        ).digest()

    # -- creating and unlocking ------------------------------------------------------------------

    @staticmethod
    def create(passphrase: str) -> tuple[Vault, VaultHeader]:
        """A new vault with a random data key wrapped under the passphrase."""
        check_passphrase(passphrase)
        data_key = AESGCM.generate_key(bit_length=256)
        return Vault(data_key), VaultHeader((passphrase_slot(data_key, passphrase),), key_id_of(data_key))

    @staticmethod
    def unlock(header: VaultHeader, passphrase: str) -> Vault:
        """Unwrap the data key with the passphrase; a wrong one fails every slot's GCM tag and says so."""
        data_key = _unwrap_passphrase(header, passphrase)
        if data_key is None:
            raise _wrong_passphrase()
        previous = None if header.previous is None else _unwrap_passphrase(header.previous, passphrase)
        return Vault(data_key, previous)

    @staticmethod
    def unlock_with_yubikey(header: VaultHeader, serial: int, respond: Responder) -> Vault:
        """Unwrap the data key with an enrolled admin YubiKey's challenge-response."""
        if not any(s.serial == serial for s in header.yubikeys):
            raise WrongPassphraseError(
                f"Key {serial} is not enrolled to unlock this station's vault.",
                "Use the passphrase, or an admin key listed by 'station vault keys'.",
            )
        data_key = _unwrap_yubikey(header, serial, respond)
        if data_key is None:
            raise WrongPassphraseError(
                f"Key {serial} answered, but its answer does not open this station's vault.",
                "Its challenge-response slot was reprogrammed: unlock with the passphrase and enrol it"
                " again.",
            )
        previous = None if header.previous is None else _unwrap_yubikey(header.previous, serial, respond)
        return Vault(data_key, previous)

    # -- re-wrapping ------------------------------------------------------------------------------

    def header(self, slots: tuple[UnwrapSlot, ...]) -> VaultHeader:
        return VaultHeader(tuple(slots), self.key_id)

    def with_passphrase(self, header: VaultHeader, passphrase: str) -> VaultHeader:
        """The header with its passphrase slot replaced by one for `passphrase` (same data key)."""
        kept = tuple(s for s in header.slots if s.kind != "passphrase" and not s.legacy)
        return replace(
            header, slots=(passphrase_slot(self._key, passphrase), *kept), key_id=self.key_id, version=2
        )

    def with_yubikey(
        self, header: VaultHeader, serial: int, respond: Responder, *, operator: str
    ) -> VaultHeader:
        kept = tuple(s for s in header.slots if not (s.kind == "yubikey" and s.serial == serial))
        slot = yubikey_slot(self._key, serial, respond, operator=operator)
        return replace(header, slots=(*kept, slot), key_id=self.key_id, version=2)

    @property
    def rotating(self) -> bool:
        return self._previous is not None

    # -- records ------------------------------------------------------------------------------------

    def seal(self, record_id: str, secret: bytes) -> bytes:
        """Encrypt a secret bound to its record id under the current key (format 2)."""
        nonce = os.urandom(NONCE_BYTES)
        kid = bytes.fromhex(self.key_id)
        return MAGIC + kid + nonce + self._aead.encrypt(nonce, secret, _RECORD_AAD + record_id.encode() + kid)

    def is_current(self, blob: bytes) -> bool:
        """Whether a blob is format 2 under the current key (else it is re-sealed when the station opens)."""
        return blob[:4] == MAGIC and blob[4 : 4 + KEY_ID_BYTES].hex() == self.key_id

    def open(self, record_id: str, blob: bytes) -> bytes:
        """Decrypt a record; a blob from another record, another key or with a changed byte is refused."""
        plain = self._open_v2(record_id, blob) if blob[:4] == MAGIC else None
        if plain is None:
            plain = self._open_v1(record_id, blob)
        if plain is None:
            raise WrongPassphraseError(
                f"Vault record {record_id} does not decrypt: it was altered or moved.",
                "Restore the station database from backup and report it to the auditor.",
            )
        return plain

    def _open_v2(self, record_id: str, blob: bytes) -> bytes | None:
        kid = blob[4 : 4 + KEY_ID_BYTES]
        keys = [(self.key_id, self._aead)] + ([self._previous] if self._previous else [])
        for key_id, aead in keys:
            if kid.hex() == key_id:
                body = blob[4 + KEY_ID_BYTES :]
                try:
                    return aead.decrypt(
                        body[:NONCE_BYTES], body[NONCE_BYTES:], _RECORD_AAD + record_id.encode() + kid
                    )
                except (InvalidTag, ValueError):
                    return None
        return None

    def _open_v1(self, record_id: str, blob: bytes) -> bytes | None:
        # Format 1 records were sealed before any rotation: under the first key, which is the
        # previous one during the first rotation.
        aeads = ([self._previous[1]] if self._previous else []) + [self._aead]
        for aead in aeads:
            try:
                return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], record_id.encode())
            except (InvalidTag, ValueError, TypeError):
                continue
        return None

    # -- fingerprints -------------------------------------------------------------------------------

    def use_fingerprint_key(self, key: bytes) -> None:
        """Name secrets with this key from now on (the one kept across data-key rotations)."""
        self._fp_key = key

    @property
    def fingerprint_key(self) -> bytes:
        return self._fp_key

    def fingerprint(self, secret: bytes) -> str:
        """A keyed fingerprint to name a secret in the ledger (hex, 128 bits)."""
        return hmac.new(self._fp_key, secret, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Rotated:
    """A new data key and the header that wraps it, the old header kept as ``previous``."""

    vault: Vault = field(repr=False)
    header: VaultHeader
    dropped_keys: tuple[int, ...]


def rotate(old: Vault, header: VaultHeader, passphrase: str, responders: dict[int, Responder]) -> Rotated:
    """A fresh data key wrapped under the passphrase and each enrolled YubiKey present (`responders`).

    The passphrase must open the current vault (whoever rotates knows it). Enrolled keys that are
    not present are dropped from the new header (re-enrol them later); they are named in the result.
    """
    if _unwrap_passphrase(header, passphrase) != old._key:
        raise _wrong_passphrase()
    new_key = AESGCM.generate_key(bit_length=256)
    slots = [passphrase_slot(new_key, passphrase)]
    dropped = []
    for slot in header.yubikeys:
        respond = responders.get(slot.serial)
        if respond is None:
            dropped.append(slot.serial)
            continue
        slots.append(
            yubikey_slot(new_key, slot.serial, respond, operator=slot.operator, otp_slot=slot.otp_slot)
        )
    old_header = replace(header, previous=None)
    new_header = VaultHeader(tuple(slots), key_id_of(new_key), old_header, 2)
    vault = Vault(new_key, old._key)
    vault.use_fingerprint_key(old.fingerprint_key)
    return Rotated(vault, new_header, tuple(dropped))
