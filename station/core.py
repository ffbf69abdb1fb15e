"""An opened station: config, unlocked vault, signing ledger and the projection, under one clock.

`open_station` needs the vault passphrase (it signs and seals); `open_readonly` does not, so an
auditor can verify and read the ledger with nothing secret at hand.

The ledger's signing key is sealed in the vault; after a key rotation the ledger names the current
key, and `open_station` finds its sealed copy in `vault_records` if station.json still names the old
one (a crash between the rotation's commit and the config write). A station created before the
Merkle ledger is upgraded the first time it is opened with the passphrase: the ledger records that
(`ledger.upgraded`) and station.json gets the origin.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from drivers.bus import PCSC, KeyBus
from ledger import store
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
from ledger.note import NoteError, Verifier, parse_verifier_key

from . import projection
from .clock import Clock, rfc3339, system_clock
from .datadir import StationConfig, check_origin, db_path, default_origin, load_config, write_config
from .errors import InputError, StationError
from .operators import sessions
from .vault import FINGERPRINT_RECORD, Vault

SIGNING_KEY_RECORD = "station/ledger-signing-key"


@dataclass(frozen=True)
class KeyUnlock:
    """Unlock the vault with an enrolled admin YubiKey's HMAC-SHA1 challenge-response (OTP slot 2)
    instead of the passphrase. ``serial`` picks the key; None takes the first enrolled key present."""

    serial: int | None = None


Unlock = str | KeyUnlock


@dataclass
class Station:
    """An opened station. Use it from the thread that opened it: its SQLite connection is bound to
    that thread (the kiosk runs all station work on one desk thread for this reason)."""

    data_dir: Path
    config: StationConfig
    ledger: Ledger
    vault: Vault | None
    clock: Clock
    # Where keys are found: pcscd, or an in-process bus of virtual keys in tests.
    bus: KeyBus = field(default=PCSC)
    # Right after `init_station` only: the break-glass envelope to print once (then set to None).
    init_envelope: object | None = field(default=None, repr=False)

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

    def secret(self, record_id: str) -> bytes:
        """Open one vault record; a missing or altered record is a clear error, not a crash."""
        if self.vault is None:
            raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
        row = self.ledger.db.execute("SELECT blob FROM vault_records WHERE id = ?", [record_id]).fetchone()
        if row is None:
            raise StationError(
                f"The vault has no record {record_id}: it was deleted from the station database.",
                "Restore station.db from backup and tell the auditor; the token must be re-issued.",
            )
        return self.vault.open(record_id, row[0])

    def append(self, event_type: str, body: dict, *, actor: str, signatures: tuple = ()) -> Entry:
        with self.record() as tx:
            return tx.append(event_type, body, actor=actor, at=self.now(), signatures=signatures)

    def close(self) -> None:
        self.ledger.close()


class _ProjectingTx:
    """Wraps a ledger transaction: every append is applied to the projection in the same transaction."""

    def __init__(self, tx: object) -> None:
        self._tx = tx
        self.db = tx.db

    def append(
        self, event_type: str, body: dict, *, actor: str, at: datetime, signatures: tuple = ()
    ) -> Entry:
        entry = self._tx.append(event_type, body, actor=actor, at=at, signatures=signatures)
        projection.apply(self.db, entry)
        return entry

    def enrol_signer(self, vkey: str, proof: object, *, actor: str, at: datetime, details: dict) -> Entry:
        """An operator's signing key into the ledger's key history (ledger.signers)."""
        return self._tx.enrol_signer(vkey, proof, actor=actor, at=at, details=details)

    def retire_signer(self, vkey: str, *, actor: str, at: datetime, details: dict) -> Entry:
        return self._tx.retire_signer(vkey, actor=actor, at=at, details=details)

    @property
    def appended(self) -> tuple[Entry, ...]:
        return self._tx.appended


def _ensure_vault_table(ledger: Ledger) -> None:
    if not ledger.db["vault_records"].exists():
        ledger.db["vault_records"].create({"id": str, "blob": bytes, "created_at": str}, pk="id")
    sessions.ensure_table(ledger.db)


def _prepare(ledger: Ledger) -> None:
    if not projection.is_current(ledger.db):
        # A new station, or one whose tables predate this layout: the ledger says what they hold.
        projection.rebuild(ledger.db, ledger.entries())
    with ledger.db.conn:
        _ensure_vault_table(ledger)


def init_station(
    data_dir: Path,
    site: str,
    passphrase: str,
    *,
    admin: str = "admin",
    admin_pin: str | None = None,
    admin_token: object | None = None,
    origin: str | None = None,
    clock: Clock = system_clock,
    bus: KeyBus = PCSC,
    pin_cost: object | None = None,
) -> Station:
    """Create a data directory: signing key, vault, database, and the first ledger events.

    ``origin`` names the ledger as a C2SP log (its checkpoints' first line and its key's name), e.g.
    ``tokens.example.org/branch-07``; default ``token-station.invalid/<site>``. It cannot change later.

    The first admin gets their PIN and token (``admin_pin``, ``admin_token``: an OperatorToken) here;
    without them the admin cannot sign in until another admin (or the break-glass admin) sets them.
    The break-glass admin is created too; its envelope is on ``station.init_envelope``, to print once.
    """
    from .codes.slow_hash import DEFAULT_COST
    from .operators.breakglass import write_envelope
    from .operators.credentials import write_credentials

    site = site.strip()
    if not site or len(site) > 64 or any(unicodedata.category(c).startswith("C") for c in site):
        raise InputError(
            "The site name must be 1 to 64 printable characters.",
            "Give the branch name, e.g. --site branch-07.",
        )
    _check_admin(admin)
    if (admin_pin is None) != (admin_token is None):
        raise InputError("The first admin needs both a PIN and a token, or neither.",
                         "Give both, or set them later with another admin.")
    if admin_pin is not None:
        from .operators.pins import check_pin

        check_pin(admin_pin, admin)  # refused before anything is created
    origin = default_origin(site) if origin is None else origin.strip()
    try:
        check_origin(origin)
    except ValueError as exc:
        raise InputError(f"The origin {exc}.", "Name the log like tokens.example.org/branch-07.") from exc
    if (data_dir / "station.json").exists() or db_path(data_dir).exists():
        raise StationError(
            f"{data_dir} already holds a station (or the remains of one).",
            "Use that station, or choose an empty directory with --data. Never delete a ledger.",
        )
    if data_dir.exists() and not data_dir.is_dir():
        raise InputError(f"{data_dir} is a file, not a directory.", "Choose a directory with --data.")
    vault, header = Vault.create(passphrase)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
    except OSError as exc:
        raise StationError(f"Cannot create {data_dir}: {exc.strerror}.",
                           "Choose a writable directory with --data.") from exc
    signer = generate_key()
    sealed = vault.seal(SIGNING_KEY_RECORD, private_key_to_bytes(signer))
    config = StationConfig(
        site=site,
        created_at=rfc3339(clock()),
        key_id=key_id(signer),
        public_key=public_key_to_text(signer.public_key()),
        sealed_signing_key=base64.b64encode(sealed).decode(),
        vault=header,
        origin=origin,
    )
    ledger = _open_ledger(db_path(data_dir), signer, origin, clock)
    os.chmod(db_path(data_dir), 0o600)
    _prepare(ledger)
    station = Station(data_dir, config, ledger, vault, clock, bus)
    cost = pin_cost or DEFAULT_COST
    now = clock()
    with station.record() as tx:
        tx.append(
            "station.initialised",
            {"site": site, "admin": admin, "key_id": config.key_id, "public_key": config.public_key,
             "origin": origin},
            actor=admin, at=now,
        )
        if admin_pin is not None and admin_token is not None:
            write_credentials(tx, station, admin, admin_pin, admin_token, actor=admin, at=now, cost=cost)
        station.init_envelope = write_envelope(tx, station, actor=admin, at=now, cost=cost)
    # The config is written last: a crash before this leaves no half-station that looks initialised.
    write_config(data_dir, config)
    return station


def _check_admin(admin: str) -> None:
    if not admin.strip() or any(unicodedata.category(c).startswith("C") for c in admin):
        raise InputError("The admin id is empty or has control characters.",
                         "Give your operator id with --admin.")
    if admin.strip() == "break-glass":
        raise InputError("'break-glass' is the break-glass admin's id.",
                         "Give your own operator id with --admin.")


def _check_ledger_present(data_dir: Path) -> None:
    """Refuse a database that lost its ledger, before anything could create a new one in it.

    A station's ledger always holds at least its genesis entry; an empty or replaced station.db
    must not be quietly re-initialised, or the loss of the whole history would go unseen.
    """
    path = db_path(data_dir)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            count = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        count = 0
    if count == 0:
        raise StationError(
            f"{path} holds no ledger: it was emptied, replaced or damaged.",
            "Do not use this station: restore station.db from backup and tell the auditor.",
        )


def _open_ledger(path: Path, signer: object, origin: str, clock: Clock) -> Ledger:
    try:
        return Ledger.open(path, signer=signer, origin=origin, at=clock())  # type: ignore[arg-type]
    except LedgerError as exc:
        raise StationError(exc.message, exc.hint) from exc


def _current_signer(data_dir: Path, config: StationConfig, vault: Vault) -> tuple[object, StationConfig]:
    """The ledger's current signing key, and the config updated to name it if it was behind."""
    signer = private_key_from_bytes(vault.open(SIGNING_KEY_RECORD, config.sealed_key_bytes()))
    path = db_path(data_dir)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        state = store.read_state(conn)
        mine = Verifier(state.origin, signer.public_key()).vkey() if state is not None else None
        if state is None or state.log_key == mine:
            return signer, config
        try:
            current = parse_verifier_key(state.log_key).public_key
        except NoteError:
            return signer, config  # the ledger reports its own damage when opened
        kid = key_id(current)
        record = f"{SIGNING_KEY_RECORD}/{kid}"
        row = conn.execute("SELECT blob FROM vault_records WHERE id = ?", (record,)).fetchone()
    except sqlite3.Error:
        return signer, config
    finally:
        conn.close()
    if row is None:
        return signer, config  # Ledger.open names the retired or foreign key
    raw = vault.open(f"{SIGNING_KEY_RECORD}/{kid}", row[0])
    rotated = private_key_from_bytes(raw)
    sealed = base64.b64encode(vault.seal(SIGNING_KEY_RECORD, raw)).decode()
    config = config.with_key(kid, public_key_to_text(rotated.public_key()), sealed)
    write_config(data_dir, config)
    return rotated, config


def open_station(
    data_dir: Path, unlock: Unlock, *, clock: Clock = system_clock, bus: KeyBus = PCSC
) -> Station:
    """Open for work: unlock the vault (passphrase or admin YubiKey), unseal the signing key, open
    the ledger for appends, and finish what an earlier run left half-done (vault_ops).

    A ledger from before the Merkle log is upgraded here (recorded in the ledger) under the config's
    origin, or the default derived from the site.
    """
    from . import vault_ops

    config = load_config(data_dir)
    _check_ledger_present(data_dir)
    vault = _unlock(config, unlock, bus)
    _use_kept_fingerprint_key(data_dir, vault)
    signer, config = _current_signer(data_dir, config, vault)
    ledger = _open_ledger(db_path(data_dir), signer, config.log_origin, clock)
    if config.origin != ledger.origin:
        config = replace(config, origin=ledger.origin)
        write_config(data_dir, config)
    _prepare(ledger)
    station = Station(data_dir, config, ledger, vault, clock, bus)
    vault_ops.finish_at_open(station, unlock if isinstance(unlock, str) else None)
    return station


def _unlock(config: StationConfig, unlock: Unlock, bus: KeyBus) -> Vault:
    if isinstance(unlock, str):
        return Vault.unlock(config.vault, unlock)
    from .vault_ops import unlock_with_key

    return unlock_with_key(config.vault, unlock.serial, bus)


def _use_kept_fingerprint_key(data_dir: Path, vault: Vault) -> None:
    """After a data-key rotation the fingerprint key is a record of its own (see vault.py)."""
    path = db_path(data_dir)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT blob FROM vault_records WHERE id = ?", [FINGERPRINT_RECORD]).fetchone()
    except sqlite3.Error:
        row = None
    finally:
        conn.close()
    if row is not None:
        vault.use_fingerprint_key(vault.open(FINGERPRINT_RECORD, row[0]))


def open_readonly(data_dir: Path, *, clock: Clock = system_clock) -> Station:
    """Open without the passphrase: read and verify only, no appends, no secrets."""
    config = load_config(data_dir)
    _check_ledger_present(data_dir)
    ledger = Ledger.open(db_path(data_dir), signer=None, origin=config.origin or None)
    return Station(data_dir, config, ledger, None, clock)
