"""The ledger: an append-only Merkle log (RFC 6962) of events in an SQLite file, with C2SP checkpoints.

The station shares the file: it keeps its projection tables next to ``ledger_entries`` and updates
them in the same transaction as the events that justify them::

    with ledger.atomic() as tx:
        tx.db["tokens"].insert({...})             # the caller's projection
        tx.append("token.issued", {...}, actor=operator, at=clock())

Either everything lands, durably (WAL, synchronous=FULL), or nothing does. Each entry becomes the next
leaf of the tree; the compact frontier and the tile-level nodes are updated as it is appended (O(log n)),
and when the block ends the log signs a C2SP tlog-checkpoint (a C2SP signed note, Ed25519, key name =
the log's origin) over the new tree and stores it in the same transaction. The checkpoint is computed
from the stored frontier, whose root is checked against the previous signed checkpoint first, under
SQLite's write lock: the log never signs two checkpoints that are inconsistent with each other.

Not thread-safe: one ``Ledger`` per thread. Other processes may open the same file; ``BEGIN
IMMEDIATE`` serialises writers, so two appenders cannot both claim the same ``seq``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger import merkle, store
from ledger.entry import GENESIS_PREV, Entry, EntryFormatError, encode_entry
from ledger.errors import (
    InvalidEventError,
    LedgerError,
    LedgerIntegrityError,
    LedgerReadOnlyError,
    LedgerTransactionError,
)
from ledger.keys import key_id
from ledger.legacy import verify_rows
from ledger.note import (
    SIG_COSIGNATURE_V1,
    Checkpoint,
    Note,
    NoteError,
    Signer,
    TlogProof,
    Verifier,
    add_signatures,
    format_note,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    sign_note,
)
from ledger.signers import (
    COSIGNED,
    ENROLLED,
    RETIRED,
    ROTATED,
    UPGRADED,
    Endorsement,
    EndorsementError,
    event_statement,
    key_name,
    norm_key,
)
from ledger.store import TABLE, State
from ledger.verify import VerifyReport, verify_ledger_file

DEFAULT_ORIGIN = "token-station.invalid/ledger"
_BATCH = 256  # entries() rows per query
_VERIFY_HINT = "run `station ledger verify` and report the result to a supervisor"
# The state row and the newest entry (its seq and bytes), read when a transaction starts.
_STATE_AND_TAIL = (
    "SELECT origin, size, frontier, last_hash, checkpoint, log_key,"
    " (SELECT seq FROM ledger_entries ORDER BY seq DESC LIMIT 1),"
    " (SELECT entry FROM ledger_entries ORDER BY seq DESC LIMIT 1)"
    " FROM ledger_state WHERE id = 1"
)


def _read_only() -> LedgerReadOnlyError:
    return LedgerReadOnlyError(
        "this ledger was opened read-only (no signing key), so it cannot record events",
        "open the ledger with the station's signing key to record events",
    )


def _vkey(origin: str, key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return Verifier(origin, public).vkey()


class Transaction:
    """One open ledger transaction, handed out by ``Ledger.atomic()``. Valid only inside the block."""

    def __init__(self, ledger: Ledger, state: State) -> None:
        self._ledger = ledger
        self._size = state.size
        self._frontier = state.frontier
        self._prev = state.last_hash
        self._appended: list[Entry] = []
        self._open = True
        self._rotation: Ed25519PrivateKey | None = None
        self._keep = False

    @property
    def db(self) -> sqlite_utils.Database:
        """The ledger's database; writes through it join this transaction."""
        return self._ledger.db

    @property
    def appended(self) -> tuple[Entry, ...]:
        """Entries appended in this transaction so far, in order."""
        return tuple(self._appended)

    @property
    def next_seq(self) -> int:
        return self._size

    def append(
        self,
        type: str,
        body: dict[str, Any],
        *,
        actor: str,
        at: datetime,
        signatures: Sequence[Endorsement] = (),
    ) -> Entry:
        """Store one event, chained after the previous one. Visible to others on commit.

        ``signatures`` are endorsements of the event (``ledger.signers.endorse``) by enrolled keys,
        e.g. an operator approving it; each must verify and its key must be valid now.
        """
        if isinstance(type, str) and type.startswith("ledger."):
            raise InvalidEventError(
                f"event type {type!r} is reserved for the ledger itself",
                "choose a type outside the 'ledger.' namespace",
            )
        return self._append(type, body, actor, at, signatures)

    def _append(
        self, type: str, body: dict[str, Any], actor: str, at: datetime, signatures: Sequence[Endorsement]
    ) -> Entry:
        ledger = self._ledger
        if ledger._signer is None:
            raise _read_only()
        if not self._open or not ledger.db.conn.in_transaction:
            raise LedgerTransactionError(
                "this ledger transaction has already ended",
                "append inside the `with ledger.atomic() as tx:` block",
            )
        if self._rotation is not None:
            raise LedgerTransactionError(
                "a key rotation must be the last event of its transaction",
                "append the other events in a transaction of their own",
            )
        sigs = [ledger._check_endorsement(self._size, type, body, actor, at, e) for e in signatures]
        raw = encode_entry(
            seq=self._size, at=at, type=type, actor=actor, body=body, prev=self._prev, sigs=sigs
        )
        leaf = merkle.leaf_hash(raw)
        entry = Entry.from_document(raw, orjson.loads(raw), leaf_hex=leaf.hex())  # a fresh body copy
        conn = ledger.db.conn
        conn.execute(
            "INSERT INTO ledger_entries (seq, entry, hash, signature, key_id) VALUES (?, ?, ?, ?, ?)",
            (entry.seq, raw, entry.hash, b"", ""),
        )
        frontier, completed = self._frontier.append(leaf)
        for node in completed:
            if node.level and node.level % merkle.TILE_HEIGHT == 0:
                conn.execute(
                    "INSERT INTO ledger_tree (level, idx, hash) VALUES (?, ?, ?)",
                    (node.level, node.index, node.hash),
                )
        self._size, self._prev, self._frontier = entry.seq + 1, entry.hash, frontier
        self._appended.append(entry)
        return entry

    def enrol_signer(
        self,
        vkey: str,
        proof: Endorsement,
        *,
        actor: str,
        at: datetime,
        details: dict[str, Any] | None = None,
    ) -> Entry:
        """Bring an endorsement key in. ``proof``: that key's endorsement of this very event
        (``ledger.statement("ledger.signer_enrolled", {"key": vkey, **details}, ...)``)."""
        key = norm_key(vkey)
        if key is None:
            raise InvalidEventError(
                f"{vkey!r} is not an Ed25519 verifier key", "give the key as name+id+base64"
            )
        entry = self._append(ENROLLED, {**(details or {}), "key": key}, actor, at, [proof])
        self.db.conn.execute(
            "INSERT INTO ledger_signers (vkey, enrolled_seq) VALUES (?, ?)", (key, entry.seq)
        )
        return entry

    def retire_signer(
        self,
        vkey: str,
        *,
        actor: str,
        at: datetime,
        details: dict[str, Any] | None = None,
        signatures: Sequence[Endorsement] = (),
    ) -> Entry:
        """End an endorsement key: anything it signs after this entry is refused."""
        key = norm_key(vkey) or str(vkey)
        row = self.db.conn.execute("SELECT retired_seq FROM ledger_signers WHERE vkey = ?", (key,)).fetchone()
        if row is None or row[0] is not None:
            raise InvalidEventError(f"key {key_name(key)} is not an enrolled signer", "check the key")
        entry = self._append(RETIRED, {**(details or {}), "key": key}, actor, at, signatures)
        self.db.conn.execute("UPDATE ledger_signers SET retired_seq = ? WHERE vkey = ?", (entry.seq, key))
        return entry

    def rotate_key(self, new_key: Ed25519PrivateKey, *, actor: str, at: datetime) -> Entry:
        """Announce the log's next signing key, endorsed by the old key and the new one.

        Must be the last event of the transaction: the checkpoint that ends it is signed by both keys,
        and from the next transaction on only the new key signs.
        """
        ledger = self._ledger
        if ledger._signer is None:
            raise _read_only()
        origin = ledger.origin
        old, new = _vkey(origin, ledger._signer), _vkey(origin, new_key)
        if old == new:
            raise InvalidEventError("the new key is the current key", "generate a fresh key")
        body = {"old": old, "new": new}
        endorsements = [
            Endorsement(
                v, Signer(origin, k).sign(event_statement(origin, ROTATED, actor, at, body)).signature
            )
            for v, k in ((old, ledger._signer), (new, new_key))
        ]
        entry = self._append(ROTATED, body, actor, at, endorsements)
        self.db.conn.execute(
            "INSERT INTO ledger_log_keys (first_size, vkey) VALUES (?, ?)", (entry.seq + 1, new)
        )
        self._rotation = new_key
        self._keep = True
        return entry

    def add_cosignature(self, cosigned: str, witness_vkey: str, *, actor: str, at: datetime) -> Entry:
        """Keep a witness's cosignature/v1 on one of this log's checkpoints, and record it.

        ``cosigned``: the checkpoint as the witness returned it (the log's signature and the witness's
        line). The checkpoint must be this ledger's history at its size: a witness cosigning another
        root means someone showed it a forked log, and that is refused loudly.
        """
        ledger = self._ledger
        try:
            witness = parse_verifier_key(witness_vkey)
            note = parse_note(cosigned)
            checkpoint = parse_checkpoint(note.text)
        except NoteError as exc:
            raise InvalidEventError(exc.message, exc.hint) from exc
        if witness.sig_type != SIG_COSIGNATURE_V1:
            raise InvalidEventError(
                f"{witness.name} is not a cosignature/v1 witness key", "give the witness's key"
            )
        if checkpoint.origin != ledger.origin or checkpoint.size > self._size:
            raise InvalidEventError(
                f"the cosigned checkpoint (log {checkpoint.origin!r}, size {checkpoint.size}) "
                "is not one of this log's",
                "give the checkpoint the witness returned for this station's bundle",
            )
        if merkle.subtree_hash(0, checkpoint.size, ledger._reader()) != checkpoint.root_hash:
            raise LedgerIntegrityError(
                f"the witness cosigned a checkpoint of size {checkpoint.size} that is not this ledger's "
                "history: a forked ledger was shown to the witness",
                "keep this file as evidence and tell the auditor at once",
            )
        lines = [
            sig
            for sig in note.signatures
            if (sig.name, sig.key_id) == (witness.name, witness.key_id)
            and witness.verify(note.text.encode(), sig.signature)
        ]
        if not lines:
            raise InvalidEventError(
                f"the note carries no valid cosignature by {witness.name}", "check the witness key"
            )
        try:
            ours = ledger.checkpoint_at(checkpoint.size)
        except LedgerError:
            ours = _own_signed(note, ledger)
        merged = add_signatures(ours, lines[:1])
        body = {
            "size": checkpoint.size,
            "witness": witness.vkey(),
            "cosignature": lines[0].line().rstrip("\n"),
        }
        entry = self._append(COSIGNED, body, actor, at, [])
        conn = self.db.conn
        conn.execute(
            "INSERT OR REPLACE INTO ledger_checkpoints (size, note) VALUES (?, ?)", (checkpoint.size, merged)
        )
        conn.execute("INSERT OR IGNORE INTO ledger_witnesses (vkey) VALUES (?)", (witness.vkey(),))
        return entry


def _own_signed(note: Note, ledger: Ledger) -> str:
    """The log's own signature lines on ``note``, as a signed note; refused if none verifies."""
    keys = [parse_verifier_key(v) for _, v in ledger.log_keys()]
    mine = [
        s
        for s in note.signatures
        if any(
            (s.name, s.key_id) == (k.name, k.key_id) and k.verify(note.text.encode(), s.signature)
            for k in keys
        )
    ]
    if not mine:
        raise InvalidEventError(
            "the cosigned checkpoint carries no valid signature of this log",
            "give the checkpoint the witness returned",
        )
    return format_note(note.text, mine)


class Ledger:
    """A ledger file. Create with ``Ledger.open``; close with ``close()`` or a ``with`` block."""

    def __init__(self, db: sqlite_utils.Database, path: Path, signer: Ed25519PrivateKey | None, origin: str):
        self._db = db
        self._signer = signer
        self._tx: Transaction | None = None
        self._checked: State | None = None  # the last state this object checked or wrote itself
        self._checked_row: tuple[object, ...] | None = None
        self._checked_tail: bytes | None = None  # bytes of the newest entry, when this object wrote it
        self._note_signer: Signer | None = None
        self._log_vkey = ""
        self.path = path
        self.origin = origin
        self.key_id: str | None = key_id(signer) if signer is not None else None

    @classmethod
    def open(
        cls,
        path: Path | str,
        signer: Ed25519PrivateKey | None = None,
        *,
        origin: str | None = None,
        at: datetime | None = None,
        legacy_keys: Mapping[str, Ed25519PublicKey] | None = None,
    ) -> Ledger:
        """Open (creating if needed) the ledger at ``path``.

        With ``signer`` the ledger can append; a new file is created in WAL mode and its tree starts
        under ``origin`` (the C2SP log name, e.g. ``tokens.example.org/branch-07``). A ledger written
        before the Merkle log (v1 entries, no tree) is upgraded: its entries are verified with
        ``legacy_keys`` (default: the signer's key), the tree is built over them and a
        ``ledger.upgraded`` event, timed ``at``, is appended under ``origin``. Without ``signer``
        (auditor mode) the file must already hold a ledger and is not altered.
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
            state = store.read_state(db.conn)
            name = state.origin if state is not None else origin or DEFAULT_ORIGIN
            if state is not None and origin is not None and origin != state.origin:
                raise LedgerError(
                    f"{path} is the log {state.origin!r}, not {origin!r}",
                    "a log's origin is fixed when it is created; check the station's configuration",
                )
            ledger = cls(db, path, signer, name)
            if signer is not None:
                ledger._start(state, at, legacy_keys)
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
        return ledger

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
            for statement in store.SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _start(
        self, state: State | None, at: datetime | None, legacy_keys: Mapping[str, Ed25519PublicKey] | None
    ) -> None:
        """Create the tree state of a new ledger, or upgrade a v1 one, or check the signer's key."""
        conn = self._db.conn
        if state is not None:
            self._check_signer(state)
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            count = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
            if store.read_state(conn) is not None:  # another process created it meanwhile
                conn.execute("ROLLBACK")
                self._check_signer(store.read_state(conn))  # type: ignore[arg-type]
                return
            if count:
                self._upgrade(at, legacy_keys)
            else:
                self._create()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _create(self) -> None:
        assert self._signer is not None
        vkey = _vkey(self.origin, self._signer)
        empty = merkle.Frontier()
        note = sign_note(Checkpoint(self.origin, 0, empty.root()).body(), [Signer(self.origin, self._signer)])
        store.write_state(self._db.conn, State(self.origin, 0, empty, GENESIS_PREV, note, vkey))
        self._db.conn.execute("INSERT INTO ledger_log_keys (first_size, vkey) VALUES (0, ?)", (vkey,))

    def _upgrade(self, at: datetime | None, legacy_keys: Mapping[str, Ed25519PublicKey] | None) -> None:
        """Turn a v1 ledger (chained, signed entries) into the Merkle log, recording it."""
        assert self._signer is not None
        if at is None:
            raise LedgerError(
                f"{self.path} holds a ledger from before signed checkpoints; upgrading it needs the time",
                "open it through the station, which passes its clock",
            )
        keys = dict(legacy_keys or {key_id(self._signer): self._signer.public_key()})
        conn = self._db.conn
        report = verify_rows(
            (store.as_row(r) for r in conn.execute(store.SELECT_ROWS + " ORDER BY seq")), keys
        )
        if not report.ok:
            raise LedgerIntegrityError(
                f"cannot upgrade the ledger: {report.problem}", _VERIFY_HINT, seq=report.first_bad_seq
            )
        frontier, last = merkle.Frontier(), GENESIS_PREV
        for (raw,) in conn.execute("SELECT entry FROM ledger_entries ORDER BY seq"):
            leaf = merkle.leaf_hash(raw)
            frontier, completed = frontier.append(leaf)
            for node in completed:
                if node.level and node.level % merkle.TILE_HEIGHT == 0:
                    conn.execute(
                        "INSERT INTO ledger_tree VALUES (?, ?, ?)", (node.level, node.index, node.hash)
                    )
            last = leaf.hex()
        vkey = _vkey(self.origin, self._signer)
        conn.execute("INSERT INTO ledger_log_keys (first_size, vkey) VALUES (0, ?)", (vkey,))
        state = State(self.origin, frontier.size, frontier, last, "", vkey)
        tx = Transaction(self, state)
        body = {
            "origin": self.origin,
            "log_key": vkey,
            "v1_entries": frontier.size,
            "v1_key_ids": sorted(keys),
            "v1_signatures_checked": True,
        }
        statement = event_statement(self.origin, UPGRADED, "ledger", at, body)
        proof = Endorsement(vkey, Signer(self.origin, self._signer).sign(statement).signature)
        self._tx = tx
        try:
            tx._append(UPGRADED, body, "ledger", at, [proof])
            tx._keep = True
            self._seal(tx)
        finally:
            tx._open = False
            self._tx = None

    def _check_signer(self, state: State) -> None:
        assert self._signer is not None
        mine = _vkey(state.origin, self._signer)
        if mine == state.log_key:
            return
        for first_size, vkey in store.log_keys(self._db.conn):
            if vkey == mine:
                raise LedgerError(
                    f"this signing key was retired when the log reached {first_size} entries",
                    "open the ledger with the station's current key",
                )
        raise LedgerError(
            f"this signing key is not the key of log {state.origin}",
            "open the ledger with the station's own key (check the data directory)",
        )

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

    # --- appending ------------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Transaction]:
        """One SQLite write transaction covering appended entries and the caller's own writes.

        Commits (durably) when the block ends normally, with a signed checkpoint if anything was
        appended; rolls everything back if it raises. Transactions do not nest: opening one while
        another (or any SQLite transaction on this connection) is open raises ``LedgerTransactionError``.
        """
        conn = self._db.conn
        if self._signer is None:
            raise _read_only()
        if self._tx is not None or conn.in_transaction:
            raise LedgerTransactionError(
                "a transaction is already open on this ledger",
                "append through the open transaction (tx.append) instead of starting another",
            )
        # IMMEDIATE takes the write lock now, so the state read below cannot go stale.
        conn.execute("BEGIN IMMEDIATE")
        sealed: State | None = None
        try:
            # The savepoint is a tripwire: if the caller commits or rolls back inside the block,
            # it vanishes with the transaction and RELEASE fails, even if later writes in the block
            # opened a fresh implicit transaction.
            conn.execute("SAVEPOINT ledger_atomic")
            tx = self._tx = Transaction(self, self._current_state())
            yield tx
            try:
                conn.execute("RELEASE ledger_atomic")
            except sqlite3.OperationalError as exc:
                raise LedgerTransactionError(
                    "the transaction was committed or rolled back inside ledger.atomic()",
                    "do not call commit(), rollback() or anything that does so inside the block",
                ) from exc
            if tx._appended:
                sealed = self._seal(tx)
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LedgerError(
                    f"could not save to the ledger: {exc}", "nothing was recorded; try again"
                ) from exc
            if sealed is not None:
                self._checked, self._checked_row = sealed
                self._checked_tail = tx._appended[-1].raw
                if tx._rotation is not None:
                    self._signer = tx._rotation
                    self.key_id = key_id(tx._rotation)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            if self._tx is not None:
                self._tx._open = False
            self._tx = None

    def _current_state(self) -> State:
        """The stored state, checked: the tree matches the last signed checkpoint and the entries."""
        conn = self._db.conn
        found = conn.execute(_STATE_AND_TAIL).fetchone()  # one statement: it runs on every append
        if found is None:
            raise LedgerIntegrityError("the ledger's tree state is missing", _VERIFY_HINT)
        row, (tail_seq, tail) = found[:6], found[6:]
        if self._checked is not None and row == self._checked_row:
            state = self._checked  # unchanged since this object checked or wrote it: no re-parse
            # The newest entry as this object wrote it has the leaf hash the state records.
            known_tail = self._checked_tail
        else:
            state = store.state_from_row(row)
            self._check_state(state)
            self._checked_row, self._checked_tail = row, None
            known_tail = None
        tail_ok = (
            tail_seq is None
            and state.size == 0
            or tail_seq is not None
            and tail_seq == state.size - 1
            and isinstance(tail, bytes)
            and (tail == known_tail or merkle.leaf_hash(tail).hex() == state.last_hash)
        )
        if not tail_ok:
            seq = tail_seq
            raise LedgerIntegrityError(
                "the newest ledger entries do not match the signed tree: the ledger was altered",
                _VERIFY_HINT,
                seq=seq,
            )
        return state

    def _check_state(self, state: State) -> None:
        assert self._signer is not None
        self._check_signer(state)
        try:
            checkpoint, _ = open_checkpoint(
                state.checkpoint, state.origin, [Verifier(state.origin, self._signer.public_key())]
            )
        except NoteError as exc:
            raise LedgerIntegrityError(
                f"the stored checkpoint does not verify: {exc.message}", _VERIFY_HINT
            ) from exc
        if checkpoint.size != state.size or checkpoint.root_hash != state.frontier.root():
            raise LedgerIntegrityError(
                "the stored tree does not match the last signed checkpoint: the ledger was altered",
                _VERIFY_HINT,
            )
        self._checked = state

    def _seal(self, tx: Transaction) -> tuple[State, tuple[object, ...]]:
        """Sign the checkpoint over the tree the transaction built and store the new state (returned
        with the row as stored)."""
        assert self._signer is not None
        frontier = tx._frontier
        if self._note_signer is None or self._note_signer.private_key is not self._signer:
            self._note_signer = Signer(self.origin, self._signer)  # caches its key id: one per key
            self._log_vkey = _vkey(self.origin, self._signer)
        signers = [self._note_signer]
        if tx._rotation is not None:
            signers.append(Signer(self.origin, tx._rotation))
        note = sign_note(Checkpoint(self.origin, frontier.size, frontier.root()).body(), signers)
        log_key = _vkey(self.origin, tx._rotation) if tx._rotation is not None else self._log_vkey
        state = State(self.origin, frontier.size, frontier, tx._prev, note, log_key)
        row = store.write_state(self._db.conn, state)
        if tx._keep:
            self._db.conn.execute(
                "INSERT OR REPLACE INTO ledger_checkpoints (size, note) VALUES (?, ?)", (frontier.size, note)
            )
        return state, row

    def _check_endorsement(
        self, seq: int, event_type: str, body: dict[str, Any], actor: str, at: datetime, e: Endorsement
    ) -> dict[str, str]:
        """The endorsement as stored in the entry, once it verifies and its key may sign now."""
        if not isinstance(e, Endorsement):
            raise InvalidEventError("signatures must be ledger.signers.Endorsement values", "use endorse()")
        try:
            vkey = norm_key(e.vkey)
            if vkey is None or not e.valid_for(event_statement(self.origin, event_type, actor, at, body)):
                raise EndorsementError(
                    f"the signature by {key_name(e.vkey)} does not verify for this event", ""
                )
        except (EndorsementError, InvalidEventError) as exc:
            raise InvalidEventError(
                exc.message, "sign exactly this event (type, actor, time and body)"
            ) from exc
        own = {ROTATED: ("old", "new"), UPGRADED: ("log_key",), ENROLLED: ("key",)}.get(event_type, ())
        if not any(norm_key(body.get(m)) == vkey for m in own):
            row = self._db.conn.execute(
                "SELECT enrolled_seq, retired_seq FROM ledger_signers WHERE vkey = ?", (vkey,)
            ).fetchone()
            if row is None:
                raise InvalidEventError(
                    f"key {key_name(vkey)} is not an enrolled signer", "enrol the key first"
                )
            if row[1] is not None:
                raise InvalidEventError(
                    f"key {key_name(vkey)} was retired at entry {row[1]}", "sign with a current key"
                )
        return {"key": vkey, "sig": e.to_json()["sig"]}

    def append(
        self,
        type: str,
        body: dict[str, Any],
        *,
        actor: str,
        at: datetime,
        signatures: Sequence[Endorsement] = (),
    ) -> Entry:
        """Record one event in its own transaction. See ``Transaction.append``."""
        with self.atomic() as tx:
            return tx.append(type, body, actor=actor, at=at, signatures=signatures)

    def rotate_key(self, new_key: Ed25519PrivateKey, *, actor: str, at: datetime) -> Entry:
        """Rotate the log key in its own transaction. See ``Transaction.rotate_key``."""
        with self.atomic() as tx:
            return tx.rotate_key(new_key, actor=actor, at=at)

    def statement(self, event_type: str, body: dict[str, Any], *, actor: str, at: datetime) -> str:
        """The text an endorser signs for this event (see ``ledger.signers``)."""
        return event_statement(self.origin, event_type, actor, at, body)

    # --- reading --------------------------------------------------------------------------------

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
        iterating (the new entries are not visited). Checks each entry's form and hash, not its place
        in the tree (use ``verify``); raises ``LedgerIntegrityError`` on a malformed entry.
        """
        conn = self._db.conn
        end = conn.execute("SELECT max(seq) FROM ledger_entries").fetchone()[0]
        if end is None:
            return
        while start <= end:
            rows = conn.execute(
                store.SELECT_ROWS + " WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?",
                (start, end, _BATCH),
            ).fetchall()
            rows = [store.as_row(r) for r in rows]
            if not rows:
                return
            for row in rows:
                yield self._to_entry(row)
            start = rows[-1][0] + 1

    def head(self) -> Entry | None:
        """The newest entry, or None if the ledger is empty."""
        row = self._db.conn.execute(store.SELECT_ROWS + " ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else self._to_entry(store.as_row(row))

    def size(self) -> int:
        """Number of stored entries (the tree size, unless entries were deleted behind our back)."""
        return self._db.conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]

    def __len__(self) -> int:
        return self.size()

    # --- checkpoints, keys and proofs ------------------------------------------------------------

    def _state(self) -> State:
        state = store.read_state(self._db.conn)
        if state is None:
            raise LedgerError(
                f"{self.path} holds a ledger from before signed checkpoints",
                "open the station once with its passphrase: it upgrades the ledger and records that",
            )
        return state

    def checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP signed note), exactly as signed."""
        return self._state().checkpoint

    def tree_size(self) -> int:
        return self._state().size

    def verifier_key(self) -> str:
        """The current log key as a C2SP verifier key: ``origin+keyid+base64``."""
        return self._state().log_key

    def log_keys(self) -> list[tuple[int, str]]:
        """Every log key with the first tree size it may sign, oldest first."""
        return store.log_keys(self._db.conn)

    def witness_keys(self) -> list[str]:
        return store.witness_keys(self._db.conn)

    def kept_checkpoints(self) -> list[tuple[int, str]]:
        """Checkpoints kept beyond the latest (key rotations, the upgrade, witnessed ones), by size."""
        return store.kept_checkpoints(self._db.conn)

    def checkpoint_at(self, size: int) -> str:
        """A signed checkpoint of exactly ``size``: the latest, or one that was kept."""
        state = self._state()
        if size == state.size:
            return state.checkpoint
        for kept_size, note in self.kept_checkpoints():
            if kept_size == size:
                return note
        sizes = ", ".join(str(s) for s, _ in self.kept_checkpoints()) or "none"
        raise LedgerError(
            f"the station kept no signed checkpoint of size {size}",
            f"use the latest ({state.size}) or a kept one ({sizes})",
        )

    def _reader(self) -> merkle.NodeReader:
        conn = self._db.conn
        return merkle.tiled_reader(lambda level, lo, hi: store.read_level(conn, level, lo, hi))

    def root_at(self, size: int) -> bytes:
        """The tree's root hash at an earlier (or the current) size, from the stored nodes."""
        if not 0 <= size <= self._state().size:
            raise LedgerError(f"the tree has no size {size}", f"choose a size up to {self._state().size}")
        return merkle.subtree_hash(0, size, self._reader())

    def prove(self, index: int, size: int | None = None) -> TlogProof:
        """A C2SP tlog-proof for entry ``index`` under the checkpoint of ``size`` (default: latest)."""
        state = self._state()
        size = state.size if size is None else size
        note = self.checkpoint_at(size)
        checkpoint = parse_checkpoint(note[: note.rindex("\n\n") + 1])
        if not isinstance(index, int) or not 0 <= index < size:
            raise LedgerError(
                f"entry {index} is not under the checkpoint of size {size}",
                f"choose an entry from 0 to {size - 1}",
            )
        proof = merkle.inclusion_proof(index, size, self._reader())
        raw = self._db.conn.execute("SELECT entry FROM ledger_entries WHERE seq = ?", (index,)).fetchone()
        try:
            merkle.verify_inclusion(
                index, size, merkle.leaf_hash(raw[0] if raw else b""), proof, checkpoint.root_hash
            )
        except merkle.MerkleError as exc:
            raise LedgerIntegrityError(
                f"entry {index} or the stored tree does not match the signed checkpoint",
                _VERIFY_HINT,
                seq=index,
            ) from exc
        return TlogProof(index, tuple(proof), note)

    def consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 6962 consistency proof from the tree of ``old_size`` to ``new_size`` (default: latest)."""
        state = self._state()
        new = state.size if new_size is None else new_size
        if not 0 < old_size <= new <= state.size:
            raise LedgerError(
                f"no consistency proof from size {old_size} to {new}",
                f"choose 1 <= old <= new <= {state.size}",
            )
        return merkle.consistency_proof(old_size, new, self._reader())

    # --- verification -------------------------------------------------------------------------

    def verify(
        self,
        public_keys: Mapping[str, Ed25519PublicKey] | Iterable[str] | None = None,
        *,
        trusted_checkpoint: str | None = None,
        workers: int | None = None,
    ) -> VerifyReport:
        """Rebuild the tree from the entries and check everything; report the first problem.

        ``public_keys``: the log keys the auditor trusts, as verifier keys (``origin+id+base64``) or as
        the older mapping ``{key_id(pk): pk}``; default: the keys recorded in the file. With
        ``trusted_checkpoint`` (a signed checkpoint the auditor kept), the ledger must extend it.
        """
        keys = _trusted(self.origin, public_keys)
        return verify_ledger_file(self.path, keys, trusted_checkpoint=trusted_checkpoint, workers=workers)


def _trusted(
    origin: str, public_keys: Mapping[str, Ed25519PublicKey] | Iterable[str] | None
) -> list[str] | None:
    if public_keys is None:
        return None
    if isinstance(public_keys, Mapping):
        for kid, pk in public_keys.items():
            if not isinstance(pk, Ed25519PublicKey) or key_id(pk) != kid:
                raise LedgerError(
                    f"trusted key {kid!r} is not the Ed25519 public key with that id",
                    "build the mapping as {key_id(pk): pk for pk in keys}",
                )
        return [Verifier(origin, pk).vkey() for pk in public_keys.values()]
    return [str(k) for k in public_keys]
