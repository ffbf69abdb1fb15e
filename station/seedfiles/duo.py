"""Duo's hardware token import: one paste per token type, hex secrets, YubiKey AES rows.

Duo's Admin Panel imports hardware tokens one token type at a time ("Import Hardware Tokens": pick
the type, paste the CSV token data; Deepnet's and Token2's guides to Duo show the flow), so the
export is a list of batches, one per type. The types and fields follow Duo's Admin API token object
(type h6/h8 for HOTP 6/8 digits, t6/t8 for TOTP with totp_step 30 or 60, yk for YubiKey AES with
private_id and aes_key):
    HOTP rows:      serial,secret (hex),counter
    TOTP rows:      serial,secret (hex)
    YubiKey AES:    serial,private id (hex),AES key (hex)
Duo computes OATH codes with HMAC-SHA1 only; other hashes are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ExportRefused
from .model import HashAlgorithm, OtpKind, TokenSeed


@dataclass(frozen=True)
class DuoBatch:
    """One paste into Duo's import dialog: the token type to choose, and the rows."""

    token_type: str
    label: str
    content: bytes


def refusal(seed: TokenSeed) -> str:
    if seed.kind is OtpKind.YUBICO_OTP:
        return ""
    if seed.algorithm is not HashAlgorithm.SHA1:
        return f"Duo computes OATH codes with HMAC-SHA1 only, this token uses {seed.algorithm.value}"
    if seed.digits not in (6, 8):
        return f"Duo takes 6 or 8 digit tokens, this one shows {seed.digits}"
    if seed.kind is OtpKind.TOTP and seed.period not in (30, 60):
        return f"Duo takes a 30 or 60 second TOTP step, this token uses {seed.period} s"
    if seed.kind is OtpKind.TOTP and seed.t0:
        return "Duo counts TOTP steps from the Unix epoch; this token starts at another time"
    return ""


def _type(seed: TokenSeed) -> tuple[str, str]:
    if seed.kind is OtpKind.YUBICO_OTP:
        return "yk", "YubiKey AES"
    if seed.kind is OtpKind.HOTP:
        return f"h{seed.digits}", f"HOTP {seed.digits}-digit"
    return f"t{seed.digits}-{seed.period}", f"TOTP {seed.digits}-digit, {seed.period}-second"


def _row(seed: TokenSeed) -> str:
    if seed.kind is OtpKind.YUBICO_OTP:
        return f"{seed.serial},{seed.private_id.hex()},{seed.secret.hex()}"
    if seed.kind is OtpKind.HOTP:
        return f"{seed.serial},{seed.secret.hex()},{seed.counter}"
    return f"{seed.serial},{seed.secret.hex()}"


def write_duo_batches(seeds: Sequence[TokenSeed]) -> tuple[DuoBatch, ...]:
    refusals = tuple((s.serial, r) for s in seeds if (r := refusal(s)))
    if refusals:
        raise ExportRefused("Duo hardware token", refusals)
    grouped: dict[tuple[str, str], list[str]] = {}
    for seed in seeds:
        grouped.setdefault(_type(seed), []).append(_row(seed))
    return tuple(
        DuoBatch(token_type, label, "".join(r + "\n" for r in lines).encode())
        for (token_type, label), lines in grouped.items()
    )
