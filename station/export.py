"""Explicit export of token secrets: the one way a seed leaves the vault, and a ledger event itself.

An admin names the tokens; the station writes their secrets (OATH seeds, Yubico OTP keys) as one RFC
6030 PSKC file, encrypted with a password (PBKDF2, AES-CBC, HMAC: station.seedfiles.pskc_export), or
in clear only when asked for explicitly. The ``vault.exported`` event names the serials, the format,
whether the file is protected and its SHA-256, never a secret; nothing is exported unless the event
is recorded (it is appended before the file is handed back).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .core import Station
from .errors import InputError
from .idp.token_seeds import Owner, seeds_of
from .inventory.common import NotFound, clean_reason, clean_serial, find_token
from .inventory.roles import require
from .operators.sessions import Session
from .seedfiles.model import TokenSeed
from .seedfiles.pskc_export import Password, write_pskc

MIN_EXPORT_PASSWORD = 12


@dataclass(frozen=True)
class Export:
    data: bytes = field(repr=False)
    serials: tuple[str, ...]
    protected: bool
    sha256: str
    ledger_seq: int


def _seeds(station: Station, serial: str) -> list[TokenSeed]:
    """Every secret the station holds for the token (idp.token_seeds reads both vault layouts)."""
    token = find_token(station.ledger.db, serial)
    return [] if token is None else seeds_of(station, token, Owner())


def export_secrets(
    station: Station, serials: list[str], *, operator: Session, password: str | None, reason: str
) -> Export:
    """The named tokens' secrets as PSKC; `password=None` means in clear, which the caller asked for."""
    reason = clean_reason(reason)
    wanted = list(dict.fromkeys(clean_serial(s) for s in serials))
    if not wanted:
        raise InputError("No tokens to export.", "Give the serials of the tokens whose secrets you export.")
    if password is not None and len(password) < MIN_EXPORT_PASSWORD:
        raise InputError(
            f"An export password has at least {MIN_EXPORT_PASSWORD} characters.",
            "Choose a longer one and give it to the recipient by another channel.",
        )
    with station.record() as tx:
        actor = require(tx.db, operator, "export_vault", station.now()).id
    seeds: list[TokenSeed] = []
    for serial in wanted:
        found = _seeds(station, serial)
        if not found:
            raise NotFound(f"Token {serial} has no secret at this station.", "Check the serial.")
        seeds += found
    data = write_pskc(seeds, protection=None if password is None else Password(password))
    digest = hashlib.sha256(data).hexdigest()
    entry = station.append(
        "vault.exported",
        {
            "serials": wanted,
            "format": "pskc",
            "protected": password is not None,
            "secrets": len(seeds),
            "sha256": digest,
            "reason": reason,
        },
        actor=actor,
    )
    return Export(data, tuple(wanted), password is not None, digest, entry.seq)
