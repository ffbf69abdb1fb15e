"""Explicit export of token secrets: the one way a seed leaves the vault, and a ledger event itself.

An admin names the tokens; the station writes their secrets (OATH seeds, Yubico OTP keys) as one RFC
6030 PSKC file, encrypted with a password (PBKDF2, AES-CBC, HMAC: station.seedfiles.pskc_export), or
in clear only when asked for explicitly. The ``vault.exported`` event names the serials, the format,
whether the file is protected and its SHA-256, never a secret; nothing is exported unless the event
is recorded (it is appended before the file is handed back).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .core import Station
from .errors import InputError
from .inventory.common import NotFound, clean_reason, clean_serial
from .inventory.roles import require
from .operators.sessions import Session
from .seedfiles.model import HashAlgorithm, OtpKind, TokenSeed
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
    db = station.ledger.db
    seeds = []
    for row in db.query(
        "SELECT * FROM credentials WHERE serial = ? AND status IN ('active', 'suspended')",
        [int(serial) if serial.isdigit() else serial],
    ):
        secret = station.secret(row["vault_record"])
        if row["oath_type"] == "YUBICO_OTP":
            data = json.loads(secret)
            from yubikit.core.otp import modhex_encode

            seeds.append(
                TokenSeed(
                    serial,
                    OtpKind.YUBICO_OTP,
                    bytes.fromhex(data["aes_key"]),
                    public_id=modhex_encode(bytes.fromhex(row["public_id"])),
                    private_id=bytes.fromhex(data["private_id"]),
                    owner=row["owner"] or "",
                )
            )
            continue
        kind = OtpKind.HOTP if row["oath_type"] == "HOTP" else OtpKind.TOTP
        seeds.append(
            TokenSeed(
                serial,
                kind,
                secret,
                row["digits"],
                HashAlgorithm(row["algorithm"]),
                row["period"] or 30,
                (row["last_step"] + 1) if kind is OtpKind.HOTP else 0,
                owner=row["owner"] or "",
            )
        )
    if not seeds:
        row = db.execute(
            "SELECT oath_type, algorithm, digits, period, counter, vault_record FROM seeds WHERE serial = ?",
            [serial],
        ).fetchone()
        if row is not None:
            kind = OtpKind.HOTP if row[0] == "HOTP" else OtpKind.TOTP
            seeds.append(
                TokenSeed(
                    serial,
                    kind,
                    station.secret(row[5]),
                    row[2],
                    HashAlgorithm(row[1]),
                    row[3] or 30,
                    row[4] or 0,
                )
            )
    return seeds


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
