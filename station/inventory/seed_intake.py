"""Tokens into stock from a seed file, already parsed into seeds: classic OATH tokens, and YubiKeys
programmed elsewhere (an OTP slot's Yubico OTP or OATH-HOTP key from a Personalization Tool or ykman log).

The parser (station.seedfiles: PSKC, vendor CSV, Yubico logs) hands over seeds and its own per-entry
rejects; this module adds the station's checks (secret strength, parameters, serials new to the
inventory), seals every seed in the vault and records each token with its keyed seed fingerprint, in
one transaction. A Yubico OTP key's vault record holds the private id (6 bytes) then the AES key (16):
both are secret, and both are needed to check an OTP.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..clock import rfc3339
from ..core import Station
from ..errors import InputError
from ..operators.sessions import Session
from .common import clean_reason, clean_serial, find_token, resolve_place, yubikey_serial
from .intake import MAX_ENTRIES, MIN_SEED_BYTES, EntriesRejected, ReceiveReport, Reject, TokenSeed
from .roles import require

ALGORITHMS = ("SHA1", "SHA256", "SHA512")
YUBICO_OTP = "YUBICO_OTP"


def seed_record_id(serial: str) -> str:
    return f"seed/{serial}"


def vault_secret(seed: TokenSeed) -> bytes:
    """What the vault holds for a seed: the secret, or private id + AES key for a Yubico OTP key."""
    if str(seed.oath_type).upper() == YUBICO_OTP:
        return bytes(seed.private_id) + seed.secret
    return seed.secret


def _check_yubico_otp(seed: TokenSeed) -> dict | str:
    public_id = str(getattr(seed, "public_id", ""))
    if len(seed.secret) != 16 or len(getattr(seed, "private_id", b"")) != 6:
        return "a Yubico OTP key is a 16-byte AES key and a 6-byte private id"
    if not public_id or len(public_id) > 32 or any(c not in "cbdefghijklnrtuv" for c in public_id):
        return "the Yubico OTP public id is not modhex of 1 to 16 bytes"
    return {"oath_type": YUBICO_OTP, "algorithm": "AES128", "digits": len(public_id) + 32, "period": None,
            "counter": None, "public_id": public_id}


def _check_seed(seed: TokenSeed) -> tuple[str, dict] | str:
    """(serial, ledger fields) for a usable seed, or the reason it is not usable."""
    yubikey = getattr(seed, "token_kind", "oath") == "yubikey"
    try:
        serial = str(yubikey_serial(seed.serial)) if yubikey else clean_serial(seed.serial)
    except InputError as exc:
        return exc.message
    oath_type = str(seed.oath_type).upper()
    algorithm = str(seed.algorithm).upper().replace("-", "")
    slot = getattr(seed, "slot", None)
    if oath_type == YUBICO_OTP:
        checked = _check_yubico_otp(seed)
        return checked if isinstance(checked, str) else (serial, {**checked, "slot": slot})
    if oath_type not in ("TOTP", "HOTP"):
        return f"unknown token type {seed.oath_type!r} (TOTP or HOTP)"
    if algorithm not in ALGORITHMS:
        return f"unknown algorithm {seed.algorithm!r} (SHA1, SHA256 or SHA512)"
    if not isinstance(seed.secret, bytes) or len(seed.secret) < MIN_SEED_BYTES:
        return f"secret shorter than {MIN_SEED_BYTES * 8} bits (RFC 4226 requires at least 128)"
    if seed.digits not in (6, 7, 8):
        return f"{seed.digits} digits (6, 7 or 8)"
    fields: dict = {
        "oath_type": oath_type,
        "algorithm": algorithm,
        "digits": seed.digits,
        "period": None,
        "counter": None,
    }
    if oath_type == "TOTP":
        if seed.period not in (30, 60):
            return f"time step {seed.period} (30 or 60 s)"
        fields["period"] = seed.period
    else:
        if not isinstance(seed.counter, int) or not 0 <= seed.counter < 2**53:
            return f"counter {seed.counter!r} is not a whole number from 0"
        fields["counter"] = seed.counter
    if slot is not None:
        fields["slot"] = slot
    return serial, fields


def receive_seed_file(
    station: Station,
    seeds: Sequence[TokenSeed],
    rejects: Sequence[Reject] = (),
    *,
    operator: Session,
    source: str,
    sha256: str,
    vendor: str | None = None,
    model: str | None = None,
    location: str | None = None,
    site: str | None = None,
    reason: str | None = None,
    accept_partial: bool = False,
    batch: str | None = None,
) -> ReceiveReport:
    """Receive tokens from a parsed seed file; seeds sealed in the vault, fingerprints recorded.

    `batch` names the intake (IdP exports can select a batch); default: the file's SHA-256, 16 digits.
    """
    if station.vault is None:
        raise InputError("The station is open read-only.", "Open it with the vault passphrase.")
    if len(seeds) > MAX_ENTRIES:
        raise InputError(f"More than {MAX_ENTRIES} tokens in one seed file.", "Split the file.")
    reason = clean_reason(reason, "stock intake from a seed file")
    batch = batch or sha256[:16]
    rejected = list(rejects)
    good: list[tuple[str, dict, bytes, str]] = []
    seen: set[str] = set()
    for n, seed in enumerate(seeds, 1):
        checked = _check_seed(seed)
        if isinstance(checked, str):
            rejected.append(Reject(f"token {n}", str(getattr(seed, "serial", ""))[:40] or None, checked))
            continue
        serial, fields = checked
        if serial in seen:
            rejected.append(Reject(f"token {n}", serial, "serial listed twice in the file"))
            continue
        seen.add(serial)
        kind = "yubikey" if getattr(seed, "token_kind", "oath") == "yubikey" else "oath"
        good.append((serial, fields, vault_secret(seed), kind))
    received = []
    with station.record() as tx:
        operator_id = require(tx.db, operator, "receive", station.now()).id
        site, location = resolve_place(tx.db, station.config.site, site, location)
        fresh = []
        for serial, fields, secret, kind in good:
            known = find_token(tx.db, serial)
            if known is not None:
                rejected.append(Reject("token", serial, f"already in the inventory ({known['status']})"))
            else:
                fresh.append((serial, fields, secret, kind))
        if rejected and not accept_partial:
            raise EntriesRejected(
                f"The seed file {source}",
                rejected,
                "Ask the vendor for a corrected file, or receive the good tokens and list"
                " the rest (--accept-partial).",
            )
        at = station.now()
        for serial, fields, secret, kind in fresh:
            record = seed_record_id(serial)
            tx.db.execute(
                "INSERT INTO vault_records (id, blob, created_at) VALUES (?, ?, ?)",
                [record, station.vault.seal(record, secret), rfc3339(at)],
            )
            body = {
                "serial": int(serial) if kind == "yubikey" else serial,
                "kind": kind,
                "batch": batch,
                "model": model,
                "vendor": vendor,
                "custodian": operator_id,
                "site": site,
                "location": location,
                "how": "seed-file",
                "reason": reason,
                **fields,
                "seed_fingerprint": station.vault.fingerprint(secret),
                "vault_record": record,
            }
            tx.append("token.received", body, actor=operator_id, at=at)
            received.append(serial)
        tx.append(
            "stock.seed_file.received",
            {
                "source": source,
                "sha256": sha256,
                "batch": batch,
                "received": len(received),
                "rejected": [{"entry": r.entry, "serial": r.serial, "reason": r.reason} for r in rejected],
            },
            actor=operator_id,
            at=at,
        )
    return ReceiveReport(tuple(received), tuple(rejected))
