"""Offline TOTP verification with replay protection.

A code is accepted for the owner's active credentials within one time step either side of now
(RFC 6238 section 5.2's recommended network-delay allowance). Once a step has been accepted for a
credential, that step and every earlier one are refused, so a code read over a shoulder is useless
after its owner used it. Each outcome is a ledger event; the code itself is never recorded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import pyotp

from .core import Station
from .errors import InputError, StationError, VerificationFailed

WINDOW = 1  # time steps either side of now
_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


@dataclass(frozen=True)
class VerifyResult:
    owner: str
    serial: int
    credential_id: str
    step: int
    drift: int  # steps between the token's clock and ours: -1, 0 or +1
    ledger_seq: int


def normalise_code(code: str) -> str:
    """Strip the spaces and dashes people type; anything else that is not a digit is malformed."""
    cleaned = "".join(ch for ch in (code or "") if ch not in " \t-")
    if not cleaned.isascii() or not cleaned.isdigit() or not 6 <= len(cleaned) <= 8:
        raise InputError(
            "The code is malformed: a one-time code is 6 or 8 digits.",
            "Read the code off the key again and type only its digits.",
        )
    return cleaned


def _code_at(seed: bytes, algorithm: str, digits: int, step: int) -> str:
    totp = pyotp.TOTP(base64.b32encode(seed).decode(), digits=digits, digest=_DIGESTS[algorithm])
    return totp.generate_otp(step)


def verify_totp(station: Station, owner: str, code: str, *, operator: str) -> VerifyResult:
    """Accept a code once, or raise VerificationFailed (recorded) saying why."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    owner = (owner or "").strip()
    if not owner:
        raise InputError("The owner is empty.", "Type the owner's id.")
    code = normalise_code(code)
    rows = list(
        station.ledger.db.query(
            "SELECT * FROM credentials WHERE owner = ? AND status = 'active' AND oath_type = 'TOTP'",
            [owner],
        )
    )
    if not rows:
        station.append("otp.rejected", {"owner": owner, "reason": "no active token"}, actor=operator)
        raise VerificationFailed(
            f"{owner} has no active TOTP token at this station.",
            "Check the owner id, or issue a token first.",
        )
    now = int(station.now().timestamp())
    for row in rows:
        if len(code) != row["digits"]:
            continue
        seed = station.secret(row["vault_record"])
        current = now // row["period"]
        for drift in sorted(range(-WINDOW, WINDOW + 1), key=abs):  # nearest step first
            step = current + drift
            if not hmac.compare_digest(_code_at(seed, row["algorithm"], row["digits"], step), code):
                continue
            body = {"owner": owner, "serial": row["serial"], "credential_id": row["credential_id"],
                    "step": step, "drift": drift}
            if step <= row["last_step"]:
                station.append("otp.rejected", dict(body, reason="replay"), actor=operator)
                raise VerificationFailed(
                    "This code was already used; a code is accepted only once.",
                    "Wait for the key to show the next code and type that one.",
                )
            entry = station.append("otp.accepted", body, actor=operator)
            return VerifyResult(owner, row["serial"], row["credential_id"], step, drift, entry.seq)
    station.append("otp.rejected", {"owner": owner, "reason": "wrong code"}, actor=operator)
    raise VerificationFailed(
        f"The code does not match {owner}'s token.",
        "Check the owner id and that the code was read from the right key, then try the next code.",
    )
