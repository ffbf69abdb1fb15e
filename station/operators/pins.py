"""Operator PINs: what a PIN may be, and how the station keeps it (never as typed).

A PIN is hashed with Argon2id (station.codes.slow_hash, OWASP's minimum cost by default) into 64
bytes: the first half is kept as the verifier, sealed in the vault; the second half is never kept and
wraps the operator's own signing key (their endorsements of four-eyes events), so that key opens only
when the operator types their PIN. Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ..codes.slow_hash import DEFAULT_COST, HashCost
from ..errors import InputError

MIN_PIN, MAX_PIN = 6, 64
SALT_BYTES = 16
_SIGNER_AAD = b"token-station operator signing key v1|"


def check_pin(pin: str, operator_id: str) -> str:
    """The PIN as it will be hashed, or an InputError saying what is wrong (never echoing it)."""
    if not isinstance(pin, str) or not MIN_PIN <= len(pin) <= MAX_PIN:
        raise InputError(
            f"A PIN has {MIN_PIN} to {MAX_PIN} characters.", "Choose a PIN of at least 6 digits."
        )
    if any(ord(c) < 32 for c in pin):
        raise InputError("A PIN may not contain control characters.", "Choose another PIN.")
    if len(set(pin)) == 1 or pin in "01234567890123456789" or pin in "98765432109876543210":
        raise InputError(
            "That PIN is too easy to guess (one repeated character, or a run of digits).",
            "Choose a PIN nobody would try first.",
        )
    if pin.lower() == operator_id.lower():
        raise InputError("A PIN may not be the operator id.", "Choose another PIN.")
    return pin


def _derive(pin: str, salt: bytes, cost: HashCost) -> bytes:
    kdf = Argon2id(
        salt=salt, length=64, iterations=cost.iterations, lanes=cost.lanes, memory_cost=cost.memory_kib
    )
    return kdf.derive(pin.encode("utf-8"))


@dataclass(frozen=True)
class PinRecord:
    """What the vault keeps of a PIN: salt, cost, verifier, and the signing key wrapped by the PIN."""

    salt: bytes = field(repr=False)
    verifier: bytes = field(repr=False)
    wrapped_signer: bytes = field(repr=False)
    cost: HashCost = DEFAULT_COST

    def to_bytes(self) -> bytes:
        import json

        return json.dumps(
            {
                "salt": base64.b64encode(self.salt).decode(),
                "verifier": base64.b64encode(self.verifier).decode(),
                "signer": base64.b64encode(self.wrapped_signer).decode(),
                "cost": self.cost.to_json(),
            }
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> PinRecord:
        import json

        data = json.loads(raw)
        return cls(
            base64.b64decode(data["salt"]),
            base64.b64decode(data["verifier"]),
            base64.b64decode(data["signer"]),
            HashCost.from_json(data["cost"]),
        )


def make_pin_record(
    pin: str, operator_id: str, signer_key: bytes, cost: HashCost = DEFAULT_COST
) -> PinRecord:
    """Hash a PIN and wrap the operator's raw signing key under it."""
    salt = os.urandom(SALT_BYTES)
    derived = _derive(check_pin(pin, operator_id), salt, cost)
    nonce = os.urandom(12)
    wrapped = nonce + AESGCM(derived[32:]).encrypt(nonce, signer_key, _SIGNER_AAD + operator_id.encode())
    return PinRecord(salt, derived[:32], wrapped, cost)


def open_with_pin(record: PinRecord, pin: object, operator_id: str) -> bytes | None:
    """The operator's raw signing key if `pin` is theirs, else None (one slow hash either way)."""
    text = pin if isinstance(pin, str) else ""
    derived = _derive(text, record.salt, record.cost)
    if not hmac.compare_digest(derived[:32], record.verifier):
        return None
    try:
        return AESGCM(derived[32:]).decrypt(
            record.wrapped_signer[:12], record.wrapped_signer[12:], _SIGNER_AAD + operator_id.encode()
        )
    except InvalidTag:
        return None
