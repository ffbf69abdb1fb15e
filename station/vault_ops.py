"""The vault's lifecycle at a station: upgrades at open, unlock keys, re-wrapping and rotation.

Everything here keeps two copies consistent: the records in station.db and the header (unwrap slots)
and sealed signing key in station.json. Each change is ordered so that a crash between the two
writes loses nothing, and `finish_at_open` completes whatever was left half-done the next time the
station opens:

- records of format 1 (or under the previous key of a rotation) are re-sealed under the current key
  in one transaction with a ledger event (``vault.records_resealed`` or ``vault.rotated``);
- a format-1 header is rewritten as format 2 (only when opened with the passphrase, which it needs);
- a rotation's previous key is dropped from station.json once no record needs it.

The data key is never in a ledger event; events name key ids, YubiKey serials and record counts.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, replace

from drivers.bus import KeyBus
from drivers.discovery import list_keys
from drivers.errors import DriverError
from drivers.otp import open_otp

from .clock import rfc3339
from .core import SIGNING_KEY_RECORD, Station
from .datadir import write_config
from .errors import DeviceError, InputError, StationError, WrongPassphraseError
from .inventory.roles import require
from .operators.sessions import Session
from .vault import FINGERPRINT_RECORD, Responder, Vault, VaultHeader, rotate

UNLOCK_SLOT = 2  # the OTP slot an admin key answers the vault's challenge on
HMAC_SECRET_BYTES = 20
ACTOR = "station"  # events the station records by itself when it opens


def responder(serial: int, bus: KeyBus, otp_slot: int = UNLOCK_SLOT) -> Responder:
    """A function asking the key with this serial for its HMAC-SHA1 answer (one connection a call)."""

    def respond(challenge: bytes) -> bytes:
        try:
            with open_otp(serial, bus) as key:
                return key.hmac_sha1(otp_slot, challenge)
        except DriverError as exc:
            raise DeviceError(exc.message, exc.hint) from exc

    return respond


def unlock_with_key(header: VaultHeader, serial: int | None, bus: KeyBus) -> Vault:
    """Unlock with an enrolled admin YubiKey: the one with this serial, or the first one present."""
    enrolled = [s.serial for s in header.yubikeys]
    if not enrolled:
        raise WrongPassphraseError(
            "No admin YubiKey is enrolled to unlock this station's vault.",
            "Unlock with the passphrase; an admin enrols a key with 'station vault add-key'.",
        )
    if serial is None:
        try:
            present = [k.serial for k in list_keys(bus)]
        except DriverError as exc:
            raise DeviceError(exc.message, exc.hint) from exc
        candidates = [s for s in enrolled if s in present]
        if not candidates:
            raise WrongPassphraseError(
                f"None of the enrolled admin keys ({', '.join(map(str, enrolled))}) is inserted.",
                "Insert an admin's enrolled YubiKey, or unlock with the passphrase.",
            )
        serial = candidates[0]
    return Vault.unlock_with_yubikey(header, serial, responder(serial, bus))


# -- at open -------------------------------------------------------------------------------------


def finish_at_open(station: Station, passphrase: str | None) -> None:
    """Bring records and header to the current format and key; finish an interrupted rotation."""
    vault = station.vault
    assert vault is not None
    db = station.ledger.db
    stale = [
        row
        for row in db.execute("SELECT id, blob FROM vault_records").fetchall()
        if not vault.is_current(row[1])
    ]
    if vault.rotating:
        _reseal(
            station,
            stale,
            "vault.rotated",
            {
                "key_id": vault.key_id,
                "previous_key_id": station.config.vault.previous.key_id
                if station.config.vault.previous
                else "",
                "finished_at_open": True,
            },
        )
    elif stale:
        _reseal(station, stale, "vault.records_resealed", {"key_id": vault.key_id, "format": 2})
    config = station.config
    header = config.vault
    if header.version == 1 and passphrase is not None:
        header = vault.with_passphrase(header, passphrase)
    if header.previous is not None:
        header = replace(header, previous=None)
    sealed = config.sealed_key_bytes()
    if not vault.is_current(sealed):
        raw = vault.open(SIGNING_KEY_RECORD, sealed)
        config = replace(
            config, sealed_signing_key=base64.b64encode(vault.seal(SIGNING_KEY_RECORD, raw)).decode()
        )
    if header != config.vault or config != station.config:
        station.config = replace(config, vault=header)
        write_config(station.data_dir, station.config)


def _reseal(station: Station, rows: list, event: str, body: dict) -> None:
    vault = station.vault
    assert vault is not None
    now = station.now()
    with station.record() as tx:
        for record_id, blob in rows:
            tx.db.execute(
                "UPDATE vault_records SET blob = ? WHERE id = ?",
                [vault.seal(record_id, vault.open(record_id, blob)), record_id],
            )
        if (
            vault.rotating
            and tx.db.execute("SELECT 1 FROM vault_records WHERE id = ?", [FINGERPRINT_RECORD]).fetchone()
            is None
        ):
            # The fingerprints already in the ledger were made with the old key's fingerprint key:
            # keep it, so the same seed keeps the same fingerprint after the rotation.
            tx.db.execute(
                "INSERT INTO vault_records (id, blob, created_at) VALUES (?, ?, ?)",
                [FINGERPRINT_RECORD, vault.seal(FINGERPRINT_RECORD, vault.fingerprint_key), rfc3339(now)],
            )
        tx.append(event, {**body, "records": len(rows)}, actor=ACTOR, at=now)


# -- re-wrapping, unlock keys, rotation ----------------------------------------------------------


def _write_header(station: Station, header: VaultHeader) -> None:
    station.config = replace(station.config, vault=header)
    write_config(station.data_dir, station.config)


def _open_vault(station: Station) -> Vault:
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    return station.vault


def change_passphrase(station: Station, old: str, new: str, *, operator: Session) -> int:
    """Re-wrap the data key under a new passphrase (the old one must open the vault). Recorded."""
    vault = _open_vault(station)
    with station.record() as tx:
        actor = require(tx.db, operator, "vault", station.now())
    Vault.unlock(station.config.vault, old)  # proves the old passphrase; raises when wrong
    _write_header(station, vault.with_passphrase(station.config.vault, new))
    entry = station.append(
        "vault.rewrapped", {"change": "passphrase", "key_id": vault.key_id}, actor=actor.id
    )
    return entry.seq


@dataclass(frozen=True)
class UnlockKey:
    serial: int
    operator: str
    seq: int


def add_unlock_key(
    station: Station, serial: int, *, operator: Session, use_existing: bool = False
) -> UnlockKey:
    """Enrol an admin's YubiKey to unlock the vault: its OTP slot 2 answers the vault's challenge.

    The station programs slot 2 with a fresh random HMAC-SHA1 secret that only the key keeps
    (refusing a slot in use), unless `use_existing`: the slot already holds the admin's own
    challenge-response secret (e.g. set with ykman). Either way the secret never reaches the station.
    """
    vault = _open_vault(station)
    with station.record() as tx:
        admin = require(tx.db, operator, "vault", station.now())
    if not use_existing:
        try:
            with open_otp(serial, station.bus) as key:
                key.put_hmac_sha1(UNLOCK_SLOT, os.urandom(HMAC_SECRET_BYTES))
        except DriverError as exc:
            raise DeviceError(exc.message, exc.hint) from exc
    respond = responder(serial, station.bus)
    header = vault.with_yubikey(station.config.vault, serial, respond, operator=admin.id)
    # Proves the slot answers as wrapped before the header is kept (a key without the slot fails here).
    Vault.unlock_with_yubikey(header, serial, respond)
    _write_header(station, header)
    entry = station.append(
        "vault.unlock_key_added",
        {"serial": serial, "otp_slot": UNLOCK_SLOT, "programmed": not use_existing},
        actor=admin.id,
    )
    return UnlockKey(serial, admin.id, entry.seq)


def remove_unlock_key(station: Station, serial: int, *, operator: Session) -> int:
    _open_vault(station)
    with station.record() as tx:
        admin = require(tx.db, operator, "vault", station.now())
    header = station.config.vault
    if not any(s.serial == serial for s in header.yubikeys):
        raise InputError(
            f"Key {serial} is not enrolled to unlock the vault.", "List them: station vault keys."
        )
    _write_header(
        station,
        replace(header, slots=tuple(s for s in header.slots if s.serial != serial or s.kind != "yubikey")),
    )
    return station.append("vault.unlock_key_removed", {"serial": serial}, actor=admin.id).seq


def unlock_keys(station: Station) -> list[dict]:
    return [
        {"serial": s.serial, "otp_slot": s.otp_slot, "enrolled_by": s.operator}
        for s in station.config.vault.yubikeys
    ]


@dataclass(frozen=True)
class Rotation:
    key_id: str
    previous_key_id: str
    records: int
    dropped_keys: tuple[int, ...]
    seq: int


def rotate_data_key(station: Station, passphrase: str, *, operator: Session) -> Rotation:
    """Replace the data key: every record re-sealed, nothing lost, recorded as ``vault.rotated``.

    Order: (1) station.json gets the new header with the old one as `previous`; (2) one transaction
    re-seals every record and records the rotation; (3) station.json drops `previous` and carries the
    re-sealed signing key. A crash after (1) or (2) is finished by the next open.
    """
    vault = _open_vault(station)
    with station.record() as tx:
        admin = require(tx.db, operator, "vault", station.now())
    present = set()
    try:
        present = {k.serial for k in list_keys(station.bus)}
    except DriverError:
        present = set()
    responders = {
        s.serial: responder(s.serial, station.bus)
        for s in station.config.vault.yubikeys
        if s.serial in present
    }
    old_id = vault.key_id
    rotated = rotate(vault, station.config.vault, passphrase, responders)
    _write_header(station, rotated.header)  # (1)
    station.vault = rotated.vault
    rows = station.ledger.db.execute("SELECT id, blob FROM vault_records").fetchall()
    vault = rotated.vault
    now = station.now()
    with station.record() as tx:  # (2)
        for record_id, blob in rows:
            tx.db.execute(
                "UPDATE vault_records SET blob = ? WHERE id = ?",
                [vault.seal(record_id, vault.open(record_id, blob)), record_id],
            )
        if not any(r[0] == FINGERPRINT_RECORD for r in rows):
            tx.db.execute(
                "INSERT INTO vault_records (id, blob, created_at) VALUES (?, ?, ?)",
                [FINGERPRINT_RECORD, vault.seal(FINGERPRINT_RECORD, vault.fingerprint_key), rfc3339(now)],
            )
        entry = tx.append(
            "vault.rotated",
            {
                "key_id": vault.key_id,
                "previous_key_id": old_id,
                "records": len(rows),
                "dropped_unlock_keys": list(rotated.dropped_keys),
            },
            actor=admin.id,
            at=now,
        )
    raw = vault.open(SIGNING_KEY_RECORD, station.config.sealed_key_bytes())
    station.config = replace(
        station.config,
        sealed_signing_key=base64.b64encode(vault.seal(SIGNING_KEY_RECORD, raw)).decode(),
        vault=replace(rotated.header, previous=None),
    )
    write_config(station.data_dir, station.config)  # (3)
    station.vault = Vault(_current_key(vault))
    station.vault.use_fingerprint_key(vault.fingerprint_key)
    return Rotation(vault.key_id, old_id, len(rows), rotated.dropped_keys, entry.seq)


def _current_key(vault: Vault) -> bytes:
    return vault._key  # noqa: SLF001 - the same module family; the key never leaves memory
