"""Ed25519 key helpers for the station's ledger signing key.

The ledger never stores private keys: the station keeps the raw 32-byte private key in its encrypted
vault and hands the ledger an ``Ed25519PrivateKey``. Auditors get the public key as text.

Key id: the first 8 bytes of SHA-256 over the raw 32-byte public key, as 16 lowercase hex digits.
It names the key in each ledger row so a verifier can pick the right public key after a rotation;
it is a label, not a security property (the signature check is what counts).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import LedgerError

KEY_ID_BYTES = 8


def generate_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 signing key from the OS random source."""
    return Ed25519PrivateKey.generate()


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Hex of the first 8 bytes of SHA-256(raw public key). A private key is reduced to its public half."""
    if isinstance(public_key, Ed25519PrivateKey):
        public_key = public_key.public_key()
    return hashlib.sha256(_raw_public(public_key)).digest()[:KEY_ID_BYTES].hex()


def public_key_to_text(public_key: Ed25519PublicKey) -> str:
    """Standard base64 (with padding) of the raw 32-byte public key: 44 characters."""
    return base64.b64encode(_raw_public(public_key)).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Inverse of ``public_key_to_text``. Surrounding whitespace is ignored."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise LedgerError(
            "not an Ed25519 public key (expected base64 of 32 bytes)",
            "copy the station's public key again, exactly as the station printed it",
        ) from exc


def private_key_to_bytes(private_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte private key (seed). Secret: the caller must encrypt it before storing."""
    return private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def private_key_from_bytes(raw: bytes) -> Ed25519PrivateKey:
    """Inverse of ``private_key_to_bytes``."""
    try:
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise LedgerError(
            "not an Ed25519 private key (expected 32 raw bytes)",
            "the station's vault entry for the ledger key may be damaged; restore it from backup",
        ) from exc
