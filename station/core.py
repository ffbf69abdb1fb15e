"""An opened station: config, unlocked vault, signing ledger and the projection, under one clock.

`open_station` needs the vault passphrase (it signs and seals); `open_readonly` does not, so an
auditor can verify and read the ledger with nothing secret at hand.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.keys import (
    generate_key,
    key_id,
    private_key_from_bytes,
    private_key_to_bytes,
    public_key_from_text,
    public_key_to_text,
)
from ledger.log import Ledger

from . import projection
from .clock import Clock, rfc3339, system_clock
from .datadir import StationConfig, db_path, load_config, write_config
from .errors import InputError, StationError
from .vault import Vault

SIGNING_KEY_RECORD = "station/ledger-signing-key"


@dataclass
class Station:
    """An opened station. Use it from the thread that opened it: its SQLite connection is bound to
    that thread (the kiosk runs all station work on one desk thread for this reason)."""

    data_dir: Path
    config: StationConfig
    ledger: Ledger
    vault: Vault | None
    clock: Clock

    def now(self) -> datetime:
        return self.clock()

    def public_keys(self) -> dict:
        return {self.config.key_id: public_key_from_text(self.config.public_key)}

    @contextmanager
    def record(self) -> Iterator[object]:
        """A ledger transaction whose appends also update the projection, atomically."""
        try:
            with self.ledger.atomic() as tx:
                yield _ProjectingTx(tx)
        except LedgerError as exc:
            raise StationError(exc.message, exc.hint) from exc

    def append(self, event_type: str, body: dict, *, actor: str) -> Entry:
        with self.record() as tx:
            return tx.append(event_type, body, actor=actor, at=self.now())

    def close(self) -> None:
        self.ledger.close()


class _ProjectingTx:
    """Wraps a ledger transaction: every append is applied to the projection in the same transaction."""

    def __init__(self, tx: object) -> None:
        self._tx = tx
        self.db = tx.db

    def append(self, event_type: str, body: dict, *, actor: str, at: datetime) -> Entry:
        entry = self._tx.append(event_type, body, actor=actor, at=at)
        projection.apply(self.db, entry)
        return entry


def _ensure_vault_table(ledger: Ledger) -> None:
    if not ledger.db["vault_records"].exists():
        ledger.db["vault_records"].create({"id": str, "blob": bytes, "created_at": str}, pk="id")


def _prepare(ledger: Ledger) -> None:
    with ledger.db.conn:
        projection.ensure_tables(ledger.db)
        _ensure_vault_table(ledger)


def init_station(
    data_dir: Path, site: str, passphrase: str, *, admin: str = "admin", clock: Clock = system_clock
) -> Station:
    """Create a data directory: signing key, vault, database, and the first ledger event."""
    site = site.strip()
    if not site:
        raise InputError("The site name is empty.", "Give the branch name, e.g. --site branch-07.")
    if (data_dir / "station.json").exists():
        raise StationError(
            f"{data_dir} already holds a station.",
            "Use that station, or choose an empty directory with --data.",
        )
    vault, header = Vault.create(passphrase)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    signer = generate_key()
    sealed = vault.seal(SIGNING_KEY_RECORD, private_key_to_bytes(signer))
    config = StationConfig(
        site=site,
        created_at=rfc3339(clock()),
        key_id=key_id(signer),
        public_key=public_key_to_text(signer.public_key()),
        sealed_signing_key=base64.b64encode(sealed).decode(),
        vault=header,
    )
    ledger = Ledger.open(db_path(data_dir), signer=signer)
    os.chmod(db_path(data_dir), 0o600)
    _prepare(ledger)
    station = Station(data_dir, config, ledger, vault, clock)
    station.append(
        "station.initialised",
        {"site": site, "key_id": config.key_id, "public_key": config.public_key},
        actor=admin,
    )
    # The config is written last: a crash before this leaves no half-station that looks initialised.
    write_config(data_dir, config)
    return station


def open_station(data_dir: Path, passphrase: str, *, clock: Clock = system_clock) -> Station:
    """Open for work: unlock the vault, unseal the signing key, open the ledger for appends."""
    config = load_config(data_dir)
    vault = Vault.unlock(config.vault, passphrase)
    raw = vault.open(SIGNING_KEY_RECORD, base64.b64decode(config.sealed_signing_key))
    ledger = Ledger.open(db_path(data_dir), signer=private_key_from_bytes(raw))
    _prepare(ledger)
    return Station(data_dir, config, ledger, vault, clock)


def open_readonly(data_dir: Path, *, clock: Clock = system_clock) -> Station:
    """Open without the passphrase: read and verify only, no appends, no secrets."""
    config = load_config(data_dir)
    ledger = Ledger.open(db_path(data_dir), signer=None)
    return Station(data_dir, config, ledger, None, clock)
