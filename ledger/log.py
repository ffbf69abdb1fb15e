"""The ledger: an append-only, hash-chained, signed event log in an SQLite file.

The station shares the file: it keeps its projection tables next to ``ledger_entries`` and updates
them in the same transaction as the events that justify them::

    with ledger.atomic() as tx:
        tx.db["tokens"].insert({...})             # the caller's projection
        tx.append("token.issued", {...}, actor=operator, at=clock())

Either both land, durably (WAL, synchronous=FULL), or neither does. Not thread-safe: one ``Ledger``
per thread. Other processes may open the same file; ``BEGIN IMMEDIATE`` serialises writers, so two
appenders cannot both claim the same ``seq``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.canonical import entry_hash
from ledger.entry import GENESIS_PREV, Entry, EntryFormatError, encode_entry
from ledger.errors import (
    LedgerError,
    LedgerIntegrityError,
    LedgerReadOnlyError,
    LedgerTransactionError,
)
from ledger.keys import key_id
from ledger.verify import VerifyReport, verify_rows

TABLE = "ledger_entries"
_BATCH = 256  # entries() rows per query
_VERIFY_HINT = "run `station ledger verify` and report the result to a supervisor"

# The triggers are defence in depth against careless writes (a stray UPDATE, an INSERT OR REPLACE
# from a tool). They stop nobody who can edit the file; verification never relies on them.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ledger_entries (
        seq INTEGER PRIMARY KEY,
        entry BLOB NOT NULL,
        hash TEXT NOT NULL,
        signature BLOB NOT NULL,
        key_id TEXT NOT NULL
    )""",
    """CREATE TRIGGER IF NOT EXISTS ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE refused'); END""",
    # Also blocks INSERT OR REPLACE (which deletes without firing DELETE triggers unless
    # recursive_triggers is on) and gaps.
    """CREATE TRIGGER IF NOT EXISTS ledger_entries_append_only BEFORE INSERT ON ledger_entries
    WHEN NEW.seq IS NOT coalesce((SELECT max(seq) FROM ledger_entries), -1) + 1
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: out-of-order INSERT refused'); END""",
)


def _read_only() -> LedgerReadOnlyError:
    return LedgerReadOnlyError(
        "this ledger was opened read-only (no signing key), so it cannot record events",
        "open the ledger with the station's signing key to record events",
    )


# Every column is read as bytes: a tampered row may hold text that is not UTF-8, which sqlite3
# would refuse to hand over at all. as_row turns the text columns back into str for the checks.
_SELECT = (
    "SELECT seq, CAST(entry AS BLOB), CAST(hash AS BLOB), CAST(signature AS BLOB),"
    " CAST(key_id AS BLOB), typeof(entry), typeof(signature) FROM ledger_entries"
)


def as_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """(seq, entry, hash, signature, key id) from a _SELECT row.

    Entry and signature stay bytes only if they were stored as blobs: one stored as text comes back
    as str, which the checks report.
    """
    seq, raw, recorded_hash, signature, kid, raw_type, signature_type = row

    def text(value: object) -> object:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

    if raw_type != "blob":
        raw = text(raw)
    if signature_type != "blob":
        signature = text(signature)
    return seq, raw, text(recorded_hash), signature, text(kid)


class Transaction:
    """One open ledger transaction, handed out by ``Ledger.atomic()``. Valid only inside the block."""

    def __init__(self, ledger: Ledger, next_seq: int, prev: str) -> None:
        self._ledger = ledger
        self._next_seq = next_seq
        self._prev = prev
        self._appended: list[Entry] = []
        self._open = True

    @property
    def db(self) -> sqlite_utils.Database:
        """The ledger's database; writes through it join this transaction."""
        return self._ledger.db

    @property
    def appended(self) -> tuple[Entry, ...]:
        """Entries appended in this transaction so far, in order."""
        return tuple(self._appended)

    def append(self, type: str, body: dict[str, Any], *, actor: str, at: datetime) -> Entry:
        """Sign and store one event, chained after the previous one. Visible to others on commit."""
        signer = self._ledger._signer
        if signer is None:
            raise _read_only()
        if not self._open or not self._ledger.db.conn.in_transaction:
            raise LedgerTransactionError(
                "this ledger transaction has already ended",
                "append inside the `with ledger.atomic() as tx:` block",
            )
        raw = encode_entry(seq=self._next_seq, at=at, type=type, actor=actor, body=body, prev=self._prev)
        entry = Entry.from_raw(raw, signer.sign(raw), self._ledger.key_id or "")
        self._ledger.db.conn.execute(
            "INSERT INTO ledger_entries (seq, entry, hash, signature, key_id) VALUES (?, ?, ?, ?, ?)",
            (entry.seq, entry.raw, entry.hash, entry.signature, entry.key_id),
        )
        self._next_seq, self._prev = entry.seq + 1, entry.hash
        self._appended.append(entry)
        return entry


class Ledger:
    """A ledger file. Create with ``Ledger.open``; close with ``close()`` or a ``with`` block."""

    def __init__(self, db: sqlite_utils.Database, path: Path, signer: Ed25519PrivateKey | None):
        self._db = db
        self._signer = signer
        self._tx: Transaction | None = None
        self.path = path
        self.key_id: str | None = key_id(signer) if signer is not None else None

    @classmethod
    def open(cls, path: Path | str, signer: Ed25519PrivateKey | None = None) -> Ledger:
        """Open (creating if needed) the ledger at ``path``.

        With ``signer`` the ledger can append, and the file is created and put in WAL mode if
        needed. Without it (auditor mode) the file must already hold a ledger, it is not altered,
        and ``append`` raises ``LedgerReadOnlyError``.
        """
        path = Path(path)
        if signer is None and not path.is_file():
            raise LedgerError(f"no ledger at {path}", "check the path to the station's data")
        try:
            db = sqlite_utils.Database(cls._connect(path, read_only=signer is None))
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open {path}: {exc}", "check the path and its permissions") from exc
        try:
            # Per connection, not stored in the file: with WAL, FULL fsyncs the log on every commit.
            db.conn.execute("PRAGMA synchronous=FULL")
            if signer is not None:
                cls._prepare(db, path)
            elif not db[TABLE].exists():
                raise LedgerError(
                    f"{path} is not a ledger (no {TABLE} table)",
                    "check that this is the station's database file",
                )
        except sqlite3.DatabaseError as exc:
            db.close()
            if "locked" in str(exc):
                raise LedgerError(
                    f"{path} is busy: another station program is writing to it",
                    "wait for the other kiosk or command to finish, then try again",
                ) from exc
            raise LedgerError(
                f"cannot open {path}: {exc}", "check that it is the station's database file"
            ) from exc
        except BaseException:
            db.close()
            raise
        return cls(db, path, signer)

    @staticmethod
    def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
        """A connection; an auditor's is read-only and works on a read-only copy too."""
        if not read_only:
            return sqlite3.connect(path)
        uri = path.resolve().as_uri()
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            # A WAL database on read-only media cannot create its shared-memory file; a copy
            # that cannot change may be read as immutable.
            conn.close()
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)

    @staticmethod
    def _prepare(db: sqlite_utils.Database, path: Path) -> None:
        db.enable_wal()
        if db.journal_mode != "wal":
            raise LedgerError(
                f"cannot put {path} in write-ahead-log mode",
                "keep the station's data on a local disk that supports shared memory",
            )
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def db(self) -> sqlite_utils.Database:
        """The underlying database, for the caller's own (projection) tables in the same file."""
        return self._db

    @property
    def read_only(self) -> bool:
        return self._signer is None

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        """The signer's public key, or None in auditor mode."""
        return self._signer.public_key() if self._signer is not None else None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[Transaction]:
        """One SQLite write transaction covering appended entries and the caller's own writes.

        Commits (durably) when the block ends normally; rolls everything back if it raises.
        Transactions do not nest: opening one while another (or any SQLite transaction on this
        connection) is open raises ``LedgerTransactionError``.
        """
        conn = self._db.conn
        if self._signer is None:
            raise _read_only()
        if self._tx is not None or conn.in_transaction:
            raise LedgerTransactionError(
                "a transaction is already open on this ledger",
                "append through the open transaction (tx.append) instead of starting another",
            )
        # IMMEDIATE takes the write lock now, so the head read below cannot go stale.
        conn.execute("BEGIN IMMEDIATE")
        try:
            # The savepoint is a tripwire: if the caller commits or rolls back inside the block,
            # it vanishes with the transaction and RELEASE fails, even if later writes in the block
            # opened a fresh implicit transaction.
            conn.execute("SAVEPOINT ledger_atomic")
            tx = self._tx = Transaction(self, *self._chain_tip())
            yield tx
            try:
                conn.execute("RELEASE ledger_atomic")
            except sqlite3.OperationalError as exc:
                raise LedgerTransactionError(
                    "the transaction was committed or rolled back inside ledger.atomic()",
                    "do not call commit(), rollback() or anything that does so inside the block",
                ) from exc
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LedgerError(
                    f"could not save to the ledger: {exc}", "nothing was recorded; try again"
                ) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            if self._tx is not None:
                self._tx._open = False
            self._tx = None

    def append(self, type: str, body: dict[str, Any], *, actor: str, at: datetime) -> Entry:
        """Record one event in its own transaction. See ``Transaction.append``."""
        with self.atomic() as tx:
            return tx.append(type, body, actor=actor, at=at)

    def _chain_tip(self) -> tuple[int, str]:
        """(next seq, prev hash) for the next append, from the stored bytes, not the hash column."""
        row = self._db.conn.execute(
            "SELECT seq, entry FROM ledger_entries ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return 0, GENESIS_PREV
        seq, raw = row
        if not isinstance(raw, bytes):
            raise LedgerIntegrityError(
                f"entry {seq}: stored entry is not a byte string", _VERIFY_HINT, seq=seq
            )
        return seq + 1, entry_hash(raw).hex()

    @staticmethod
    def _to_entry(row: tuple[Any, ...]) -> Entry:
        seq, raw, recorded_hash, signature, kid = row
        try:
            entry = Entry.from_raw(raw, signature, kid)
        except EntryFormatError as exc:
            raise LedgerIntegrityError(f"entry {seq}: {exc.message}", _VERIFY_HINT, seq=seq) from exc
        if entry.seq != seq or entry.hash != recorded_hash:
            raise LedgerIntegrityError(
                f"entry {seq}: stored entry does not match its position or hash", _VERIFY_HINT, seq=seq
            )
        return entry

    def entries(self, start: int = 0) -> Iterator[Entry]:
        """Entries with ``seq >= start``, in order, as they stood when iteration began.

        Reads in batches and holds no cursor open between them, so the caller may append while
        iterating (the new entries are not visited). Checks each entry's form and hash, not
        signatures or links (use ``verify``); raises ``LedgerIntegrityError`` on a malformed entry.
        """
        conn = self._db.conn
        end = conn.execute("SELECT max(seq) FROM ledger_entries").fetchone()[0]
        if end is None:
            return
        while start <= end:
            rows = conn.execute(
                _SELECT + " WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?",
                (start, end, _BATCH),
            ).fetchall()
            rows = [as_row(r) for r in rows]
            if not rows:
                return
            for row in rows:
                yield self._to_entry(row)
            start = rows[-1][0] + 1

    def head(self) -> Entry | None:
        """The newest entry, or None if the ledger is empty."""
        row = self._db.conn.execute(
            _SELECT + " ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else self._to_entry(as_row(row))

    def size(self) -> int:
        """Number of stored entries (the next seq, unless entries were deleted behind our back)."""
        return self._db.conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]

    def __len__(self) -> int:
        return self.size()

    def verify(self, public_keys: Mapping[str, Ed25519PublicKey]) -> VerifyReport:
        """Re-check every entry's form, hash, position, link and signature; report the first problem.

        ``public_keys`` maps ``key_id(pk)`` to each public key the auditor trusts. A ledger whose
        newest entries were removed still verifies: see ``ledger.verify`` for why and what fixes it.
        """
        rows = self._db.conn.execute(_SELECT + " ORDER BY seq")
        return verify_rows((as_row(r) for r in rows), public_keys)
