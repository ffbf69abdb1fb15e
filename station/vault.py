"""The vault: secrets encrypted at rest, never in the ledger.

One random 256-bit data key encrypts every record with AES-GCM (fresh 96-bit nonce per record, the
record's id as associated data, so a blob moved to another token's record fails to open). The data
key itself is wrapped by a key derived with scrypt from the operator's passphrase; the wrapped key and
the scrypt parameters live in the data directory's config, the records in the station database.
Fingerprints of secrets are keyed (HMAC with a key derived from the data key), so the ledger can name
a seed without letting anyone who holds the ledger test guesses against it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import InputError, WrongPassphraseError

_WRAP_AAD = b"token-station vault data key v1"
_FINGERPRINT_LABEL = b"token-station seed fingerprint v1"
MIN_PASSPHRASE = 8
# scrypt cost: about 0.1 s and 32 MiB here; enough to slow guessing, quick at every kiosk start.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def _kek(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


@dataclass(frozen=True)
class VaultHeader:
    """What the config stores to unwrap the data key: no secret in clear."""

    salt: str
    n: int
    r: int
    p: int
    nonce: str
    wrapped_key: str

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> VaultHeader:
        return cls(**{k: data[k] for k in ("salt", "n", "r", "p", "nonce", "wrapped_key")})


class Vault:
    """An unlocked vault: seals and opens records with the data key held in memory only."""

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(data_key)
        self._fp_key = hmac.new(data_key, _FINGERPRINT_LABEL, hashlib.sha256).digest()

    @staticmethod
    def create(passphrase: str) -> tuple[Vault, VaultHeader]:
        """A new vault with a random data key wrapped under the passphrase."""
        if len(passphrase.strip()) < MIN_PASSPHRASE:
            raise InputError(
                f"The vault passphrase must be at least {MIN_PASSPHRASE} characters.",
                "Choose a longer passphrase and keep it in the station's sealed envelope.",
            )
        data_key = AESGCM.generate_key(bit_length=256)
        salt, nonce = os.urandom(16), os.urandom(12)
        kek = _kek(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        wrapped = AESGCM(kek).encrypt(nonce, data_key, _WRAP_AAD)
        header = VaultHeader(_b64(salt), SCRYPT_N, SCRYPT_R, SCRYPT_P, _b64(nonce), _b64(wrapped))
        return Vault(data_key), header

    @staticmethod
    def unlock(header: VaultHeader, passphrase: str) -> Vault:
        """Unwrap the data key; a wrong passphrase fails the GCM tag and says so."""
        kek = _kek(passphrase, _unb64(header.salt), header.n, header.r, header.p)
        try:
            data_key = AESGCM(kek).decrypt(_unb64(header.nonce), _unb64(header.wrapped_key), _WRAP_AAD)
        except InvalidTag:
            raise WrongPassphraseError(
                "The passphrase does not open this station's vault.",
                "Type the passphrase again (scripts: check STATION_PASSPHRASE). Nothing was changed.",
            ) from None
        return Vault(data_key)

    def seal(self, record_id: str, secret: bytes) -> bytes:
        """Encrypt a secret bound to its record id: nonce || ciphertext+tag."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret, record_id.encode())

    def open(self, record_id: str, blob: bytes) -> bytes:
        """Decrypt a record; a blob from another record or a changed byte is refused."""
        try:
            return self._aead.decrypt(blob[:12], blob[12:], record_id.encode())
        except (InvalidTag, ValueError, TypeError):
            raise WrongPassphraseError(
                f"Vault record {record_id} does not decrypt: it was altered or moved.",
                "Restore the station database from backup and report it to the auditor.",
            ) from None

    def fingerprint(self, secret: bytes) -> str:
        """A keyed fingerprint to name a secret in the ledger (hex, 128 bits)."""
        return hmac.new(self._fp_key, secret, hashlib.sha256).hexdigest()[:32]
