"""The ledger's SQLite tables and the tree state kept next to the entries.

``ledger_entries``  seq, entry bytes, hash, and (v1 only) a per-entry signature and key id.
``ledger_state``    one row: origin, tree size, compact frontier, hash of the newest entry, the latest
                    signed checkpoint and the current log key. Updated in the transaction of every append.
``ledger_tree``     Merkle nodes at levels 8, 16, 24, ...: the hashes of C2SP tlog-tiles at tile levels
                    1, 2, 3, ... (level-0 hashes are recomputed from the entries), for O(log n) proofs.
``ledger_checkpoints`` signed checkpoints kept beyond the latest: the one that crosses each key
                    rotation (signed by both keys), the upgrade's first, and those a witness cosigned.
``ledger_log_keys`` every log key, with the first tree size it may sign.
``ledger_signers``  endorsement keys with their enrolment and retirement entries.
``ledger_witnesses`` verifier keys of witnesses whose cosignatures the station stored.

Everything here but the entries is derived from the entries and the signed checkpoints: the appender
trusts it (after cheap consistency checks), a verifier recomputes it and reports any difference.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.merkle import Frontier, leaf_hash

TABLE = "ledger_entries"

# The triggers are defence in depth against careless writes (a stray UPDATE, an INSERT OR REPLACE
# from a tool). They stop nobody who can edit the file; verification never relies on them.
SCHEMA = (
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
    """CREATE TABLE IF NOT EXISTS ledger_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        origin TEXT NOT NULL,
        size INTEGER NOT NULL,
        frontier BLOB NOT NULL,
        last_hash TEXT NOT NULL,
        checkpoint TEXT NOT NULL,
        log_key TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_tree (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS ledger_checkpoints (
        size INTEGER PRIMARY KEY,
        note TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_log_keys (
        first_size INTEGER PRIMARY KEY,
        vkey TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_signers (
        vkey TEXT PRIMARY KEY,
        enrolled_seq INTEGER NOT NULL,
        retired_seq INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_witnesses (vkey TEXT PRIMARY KEY)""",
)

# Every column is read as bytes: a tampered row may hold text that is not UTF-8, which sqlite3
# would refuse to hand over at all. as_row turns the text columns back into str for the checks.
SELECT_ROWS = (
    "SELECT seq, CAST(entry AS BLOB), CAST(hash AS BLOB), CAST(signature AS BLOB),"
    " CAST(key_id AS BLOB), typeof(entry), typeof(signature) FROM ledger_entries"
)


def as_row(row: Sequence[object]) -> tuple[object, ...]:
    """(seq, entry, hash, signature, key id) from a SELECT_ROWS row.

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


@dataclass(frozen=True)
class State:
    """The ``ledger_state`` row."""

    origin: str
    size: int
    frontier: Frontier
    last_hash: str
    checkpoint: str
    log_key: str

    @property
    def frontier_bytes(self) -> bytes:
        return self.frontier.to_bytes()


def read_state_row(conn: sqlite3.Connection) -> tuple[object, ...] | None:
    """The state row as stored, or None for a ledger that has none (new, or a v1 not yet upgraded)."""
    try:
        return conn.execute(
            "SELECT origin, size, frontier, last_hash, checkpoint, log_key FROM ledger_state WHERE id = 1"
        ).fetchone()
    except sqlite3.OperationalError:
        return None  # a v1 file opened read-only: the table does not exist yet


def state_from_row(row: tuple[object, ...]) -> State:
    origin, size, frontier, last_hash, checkpoint, log_key = row
    return State(origin, size, Frontier.from_bytes(frontier), last_hash, checkpoint, log_key)  # type: ignore[arg-type]


def read_state(conn: sqlite3.Connection) -> State | None:
    """The state row, parsed, or None (see ``read_state_row``)."""
    row = read_state_row(conn)
    return None if row is None else state_from_row(row)


def write_state(conn: sqlite3.Connection, state: State) -> tuple[object, ...]:
    """Store the state row; returns it as ``read_state_row`` will read it back."""
    values = (
        state.origin, state.size, state.frontier_bytes, state.last_hash, state.checkpoint, state.log_key
    )
    updated = conn.execute(
        "UPDATE ledger_state SET origin = ?, size = ?, frontier = ?, last_hash = ?, checkpoint = ?,"
        " log_key = ? WHERE id = 1",
        values,
    ).rowcount
    if not updated:
        conn.execute(
            "INSERT INTO ledger_state (id, origin, size, frontier, last_hash, checkpoint, log_key)"
            " VALUES (1, ?, ?, ?, ?, ?, ?)",
            values,
        )
    return values


def read_level(conn: sqlite3.Connection, level: int, start: int, end: int) -> list[bytes]:
    """Stored hashes of ``level`` for node indexes [start, end); level 0 is hashed from the entries."""
    if level == 0:
        rows = conn.execute(
            "SELECT entry FROM ledger_entries WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end)
        ).fetchall()
        return [leaf_hash(r[0]) if isinstance(r[0], bytes) else b"" for r in rows]
    rows = conn.execute(
        "SELECT hash FROM ledger_tree WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
        (level, start, end),
    ).fetchall()
    return [r[0] for r in rows]


def kept_checkpoints(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    try:
        return [(s, n) for s, n in conn.execute("SELECT size, note FROM ledger_checkpoints ORDER BY size")]
    except sqlite3.OperationalError:
        return []


def log_keys(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    try:
        return list(conn.execute("SELECT first_size, vkey FROM ledger_log_keys ORDER BY first_size"))
    except sqlite3.OperationalError:
        return []


def witness_keys(conn: sqlite3.Connection) -> list[str]:
    try:
        return [r[0] for r in conn.execute("SELECT vkey FROM ledger_witnesses ORDER BY vkey")]
    except sqlite3.OperationalError:
        return []
