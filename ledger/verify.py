"""Full verification of a ledger file or an exported bundle, streaming, on all cores.

What it proves: every entry is well-formed canonical bytes of its version, sits at the index it
claims, links to the entry before it; the RFC 6962 tree rebuilt from the entries has the root of the
latest signed checkpoint, whose signature is by the log key valid at its size (a key is valid from
the rotation that brings it in to the one that retires it; anything it signs beyond is refused); the
same for every kept checkpoint (key rotations, witnessed ones) and the witnesses' cosignatures on
them; every endorsement verifies and was made by a key enrolled and not retired at that entry; and,
given a checkpoint the auditor trusted earlier, that the ledger extends it. It names the first
problem and its kind (``ledger.report``): modified, deleted, truncated, reordered, inserted, forked.

What it cannot prove alone: that nobody replaced the whole ledger, checkpoints and key list with a
consistent forgery under a new key, or cut it back to an older checkpoint the station kept. The
auditor's own copy of the log key (``--key``), a checkpoint kept from an earlier audit
(``--trusted``) and witnesses' cosignatures close those gaps.

Speed: entries are checked in chunks of 65,536 by worker processes (one per usable CPU), each
reading its own range of the file; the main process folds the chunks' subtree roots, in order, into
the tree and replays the few ``ledger.*`` events. A worker's rows are read and checked a tile (256)
at a time by the compiled core (``ledger._verifycore``; why it exists is its module doc): it steps
the query with SQLite's C API (bundles: the rows the Python reader made), checks each entry's
canonical form by one scan of its bytes, its fields, its link and its recorded hash, and computes
its leaf hash and the tile's interior hashes with OpenSSL's SHA-256, making no Python object per
row. It stops at the first entry it does not vouch for (ledger events, endorsements, v1 entries, any
damage): the rest of that tile is read the Python way and the exact check (``_one``) takes that
entry, names its problem or passes it; the core goes on after it. No signature is checked per
entry: the checkpoint's signature covers them all. Measured CPU per entry on the 2-core development
machine: reading the row 0.35 us, canonical form and fields 0.3, leaf hash 0.35, interior hashes
0.1, about 1.2-1.3 in all, the same as the floor of reading each entry in Python and hashing it
once (1.2-1.5); 1,000,000 entries take 1.0-1.15 s with two workers, 0.55-0.85x the floor's wall
time (tests/bench/bench_ledger_verify.py).

The pure-Python path (``LEDGER_VERIFY_CORE=python``, or the core not built) is the reference the
tests hold the core to. It checks 64 entries at a time with C-level passes (``_fast_batch``): per
entry one SHA-256 (the leaf hash, which is also the chain link), one orjson parse, its share of one
re-encoding of the batch for the exact canonical-form check (``ledger.canonical``) and of the
tile's interior hashes; anything it does not vouch for is checked entry by entry. Measured CPU per
entry (Python 3.11, OpenSSL 3.0, where a SHA-256 call costs 0.3 us before any data): read 0.7 us,
parse 1.4, re-encode 0.5, leaf hash 0.7, interior hashes 0.5, field checks 1.0, about 5.3 in all:
4.3x the core's CPU, about 2.5x the floor's wall time on two free cores.

Memory stays flat: nothing but a chunk's rows and O(log n) hashes is held.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, islice, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from ledger import merkle
from ledger.bundle import BundleReader, tile_path
from ledger.canonical import _BEYOND_BMP, float_free
from ledger.canonical import _OPT as _CANONICAL
from ledger.entry import (
    GENESIS_PREV,
    HASH_RE,
    MAX_ACTOR_LEN,
    MAX_TYPE_LEN,
    MEMBERS,
    EntryFormatError,
    decode_entry,
    fast_decode,
)
from ledger.errors import LedgerError
from ledger.keys import key_id
from ledger.legacy import verify_rows
from ledger.note import (
    SIG_COSIGNATURE_V1,
    NoteError,
    Verifier,
    parse_checkpoint,
    parse_note,
    parse_signature_line,
    parse_verifier_key,
)
from ledger.report import (
    DELETED,
    FORKED,
    INSERTED,
    MALFORMED,
    MODIFIED,
    REORDERED,
    SIGNATURE,
    TRUNCATED,
    VerifyReport,
)
from ledger.signers import (
    COSIGNED,
    ROTATED,
    Endorsement,
    EndorsementError,
    KeyHistory,
    event_statement,
    key_name,
    norm_key,
)
from ledger.store import SELECT_ROWS, as_row, kept_checkpoints, log_keys, read_state, witness_keys

try:
    from ledger import _verifycore
except ImportError:  # not built (a source tree nobody installed): the Python path does it all
    _verifycore = None

CORE_ENV = "LEDGER_VERIFY_CORE"


def _core() -> Any:
    """The compiled core, or None for the pure-Python path (the reference, and the fallback).

    ``LEDGER_VERIFY_CORE=python`` picks the Python path (the tests run both); ``=c`` insists on the
    core. Read per scan, so worker processes follow the environment they were started with.
    """
    choice = os.environ.get(CORE_ENV, "")
    if choice == "python":
        return None
    if choice == "c" and _verifycore is None:
        raise LedgerError(
            "the verifier's compiled core (ledger._verifycore) is not built",
            "reinstall the station with ./setup.sh (it needs build-essential and libssl-dev)",
        )
    return _verifycore


CHUNK = 1 << 16  # entries per worker job: 256 tiles of 256
_TILE = merkle.TILE_WIDTH
_TILE_BYTES = _TILE * merkle.HASH_SIZE
# Rows per batch of the C-level checks: smaller batches keep the joined bytes and their re-encoding
# in the CPU cache and below malloc's mmap threshold; measured fastest at 32..64 (bench_ledger_verify).
_BATCH = 64


@dataclass(frozen=True)
class Job:
    source: tuple[str, str]  # ("db", path) or ("bundle", directory)
    lo: int
    hi: int
    size: int  # entries expected in the whole scan (for bundle paths)
    origin: str
    snapshots: tuple[int, ...]  # tree sizes in (lo, hi] whose compact range is wanted


@dataclass
class Result:
    lo: int
    hi: int
    checked: int = 0  # entries that passed, from lo
    problem: tuple[int | None, str, str] | None = None  # (seq, kind, message)
    first_prev: str | None = None  # the first entry's link, checked by the caller
    first_version: int = 2
    last_leaf: str = GENESIS_PREV  # hex leaf hash of the last entry
    last_sha: str = ""  # hex SHA-256 of the last entry (what a v1 successor links to)
    compact: list[bytes] = field(default_factory=list)  # range hashes of [lo, hi)
    snapshots: dict[int, list[bytes]] = field(default_factory=dict)
    specials: list[tuple[int, str, dict[str, Any] | None, list[str]]] = field(default_factory=list)
    max_v1: int | None = None
    min_v2: int | None = None
    tile_roots: list[bytes] = field(default_factory=list)  # level-8 hashes of the chunk's full tiles


# --- the worker ---------------------------------------------------------------------------------


_FAST_QUERY = (
    "SELECT seq, entry, CAST(hash AS BLOB) FROM ledger_entries WHERE seq >= ? AND seq < ? ORDER BY seq"
)
_ROBUST_QUERY = (
    "SELECT seq, CAST(entry AS BLOB), CAST(hash AS BLOB), typeof(entry) FROM ledger_entries"
    " WHERE seq >= ? AND seq < ? ORDER BY seq"
)

Row = tuple[int, object, object]  # (seq, entry bytes, recorded hex hash as bytes)


def _uri(path: str) -> str:
    return f"{Path(path).resolve().as_uri()}?mode=ro"


def _connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(_uri(path), uri=True)


def _db_batches(path: str, lo: int, hi: int, size: int) -> Iterator[list[Row]]:
    """Rows in batches of ``size``. An entry stored as text comes back as str (or, for text that is
    not UTF-8, which sqlite3 refuses to decode, as ("text", bytes)): never a crash."""
    conn = _connect(path)
    try:
        cur = conn.execute(_FAST_QUERY, (lo, hi))
        start = lo
        while True:
            try:
                rows = cur.fetchmany(size)
            except sqlite3.OperationalError:
                break
            if not rows:
                return
            yield rows
            start = rows[-1][0] + 1
        robust = conn.execute(_ROBUST_QUERY, (start, hi))
        while rows := robust.fetchmany(_TILE):
            yield [(seq, raw if kind == "blob" else ("text", raw), rec) for seq, raw, rec, kind in rows]
    finally:
        conn.close()


def _db_nodes(path: str, level: int, lo: int, hi: int) -> dict[int, bytes]:
    conn = _connect(path)
    try:
        return dict(
            conn.execute(
                "SELECT idx, hash FROM ledger_tree WHERE level = ? AND idx >= ? AND idx < ?", (level, lo, hi)
            )
        )
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


def _bundle_batches(reader: BundleReader, job: Job) -> Iterator[list[Row]]:
    rows = reader.entries(job.lo, job.hi, job.size)
    while batch := list(islice(rows, _TILE)):
        yield batch  # type: ignore[misc]


class _Scan:
    """A worker's running state over its range."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.res = Result(job.lo, job.hi)
        self.kind = job.source[0]
        self.expected = job.lo
        self.prev: str | None = None  # hex leaf hash of the previous entry
        self.prev_sha = ""  # hex SHA-256 of the previous entry, when it is v1
        self.leaves = bytearray()  # leaf hashes of the open tile, concatenated
        self.tiles: list[bytes] = []  # roots of the full tiles so far
        self.snapshots = sorted(job.snapshots)
        self.stored8: dict[int, bytes] = {}
        self.core = _core()

    def tile_root(self, hashes: bytes) -> bytes:
        if self.core is not None:
            return self.core.tile_root(hashes)
        return merkle.perfect_root(_split(hashes))

    def add_leaves(self, leaves: bytes) -> tuple[int | None, str, str] | None:
        """Append leaf hashes (concatenated): fold full tiles (checked against the stored tree), take
        snapshots."""
        start = self.expected
        self.expected += len(leaves) // merkle.HASH_SIZE
        while self.snapshots and self.snapshots[0] <= self.expected:
            size = self.snapshots.pop(0)
            cut = bytes(self.leaves) + leaves[: (size - start) * merkle.HASH_SIZE]
            tiles = list(self.tiles)
            while len(cut) >= _TILE_BYTES:
                tiles.append(self.tile_root(cut[:_TILE_BYTES]))
                cut = cut[_TILE_BYTES:]
            self.res.snapshots[size] = _compact(tiles, cut)
        self.leaves += leaves
        while len(self.leaves) >= _TILE_BYTES:
            top = self.tile_root(bytes(self.leaves[:_TILE_BYTES]))
            tile = (self.expected - len(self.leaves) // merkle.HASH_SIZE) // _TILE
            if self.kind == "db" and self.stored8.get(tile) != top:
                first = tile * _TILE
                return (
                    first,
                    MODIFIED,
                    f"entries {first}..{first + _TILE - 1} do not match the tree the station stored",
                )
            self.tiles.append(top)
            del self.leaves[:_TILE_BYTES]
        return None


def scan(job: Job) -> Result:
    """Check entries [job.lo, job.hi) and compute their subtree hashes. Runs in a worker process."""
    # The scan makes no reference cycles, yet each batch's fresh documents would trigger the cyclic
    # collector's passes over them (about a tenth of the time): it is paused for the scan.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _scan(job)
    finally:
        if paused:
            gc.enable()


def _scan(job: Job) -> Result:
    st = _Scan(job)
    res = st.res
    batches: Iterable[list[Row]] = ()
    if st.kind == "db":
        st.stored8 = _db_nodes(job.source[1], merkle.TILE_HEIGHT, job.lo // _TILE, job.hi // _TILE)
        if st.core is None:
            batches = _db_batches(job.source[1], job.lo, job.hi, _BATCH)
    else:
        batches = _bundle_batches(BundleReader(job.source[1]), job)

    def fail(problem: tuple[int | None, str, str]) -> Result:
        res.problem = problem
        res.checked = st.expected - job.lo
        return res

    if st.kind == "db" and st.core is not None:
        problem = _core_db(st, job.source[1], job.hi)
        if problem is not None:
            return fail(problem)
    for batch in batches:
        problem = check_batch(st, batch)
        if problem is not None:
            return fail(problem)
    if st.expected != job.hi:
        return fail((st.expected, DELETED, f"sequence gap: entry {st.expected} is missing"))
    res.tile_roots = st.tiles
    res.checked = st.expected - job.lo
    res.last_leaf = st.prev or GENESIS_PREV
    res.last_sha = st.prev_sha
    res.compact = _compact(st.tiles, st.leaves)
    return res


def check_batch(st: _Scan, batch: list[Row]) -> tuple[int | None, str, str] | None:
    """Check a batch of rows in order, advancing the scan; the first problem, or None."""
    if st.core is not None:
        return _core_batch(st, batch)
    problem = _fast_batch(st, batch)
    if problem is False:  # not vouched for: the exact checks, entry by entry, name the problem
        for row in batch:
            problem = _one(st, row)
            if problem is not None:
                return problem
        return None
    return problem  # type: ignore[return-value]


def _core_batch(st: _Scan, batch: list[Row]) -> tuple[int | None, str, str] | None:
    """The compiled core checks the rows up to the first one it does not vouch for (ledger events,
    endorsements, v1 entries, any damage); the exact check takes that one and names its problem,
    or passes it, and the core goes on after it."""
    i, n = 0, len(batch)
    while i < n:
        count, leaves, first_prev = st.core.scan_rows(batch, i, st.expected, st.prev)
        if count:
            problem = _advance(st, leaves, first_prev)
            if problem is not None:
                return problem
            i += count
        if i < n:
            problem = _one(st, batch[i])
            if problem is not None:
                return problem
            i += 1
    return None


def _advance(st: _Scan, leaves: bytes, first_prev: str | None) -> tuple[int | None, str, str] | None:
    """Take the rows the core vouched for: the state ``_one`` would leave after each of them."""
    res = st.res
    if st.prev is None:  # the chunk's first link, compared by the caller
        res.first_prev, res.first_version = first_prev, 2
    if res.min_v2 is None:
        res.min_v2 = st.expected
    st.prev, st.prev_sha = leaves[-merkle.HASH_SIZE :].hex(), ""
    return st.add_leaves(leaves)


def _core_db(st: _Scan, path: str, hi: int) -> tuple[int | None, str, str] | None:
    """The rows of a database, a tile at a time, read and checked by the core's own reader (no Python
    object per row); where it stops, the rest of the tile is read and checked the Python way, which
    names the problem. Tile by tile, as the Python path's batches, so a stored tile that does not
    match is found before any entry after it is looked at."""
    try:
        reader = st.core.Reader(_uri(path))
    except OSError:  # e.g. a copy on read-only media: sqlite3's own reader copes with more
        reader = None
    try:
        while st.expected < hi:
            end = min(hi, (st.expected // _TILE + 1) * _TILE)
            if reader is not None:
                count, leaves, first_prev = reader.scan(st.expected, end, st.prev)
                if count:
                    problem = _advance(st, leaves, first_prev)
                    if problem is not None:
                        return problem
            if st.expected == end:
                continue
            for batch in _db_batches(path, st.expected, end, _TILE):
                problem = check_batch(st, batch)
                if problem is not None:
                    return problem
            if st.expected < end:  # rows are missing: the next one present names the gap
                after = next(_db_batches(path, st.expected, hi, 1), None)
                if after is None:
                    return None  # none: the caller names the first missing entry
                problem = check_batch(st, after)
                if problem is not None:
                    return problem
        return None
    finally:
        if reader is not None:
            reader.close()


_FIELDS = itemgetter("v", "seq", "at", "type", "actor", "body", "prev", "sigs")
# The batch forms of the entry's patterns: the fields of a batch joined with a separator.
_AT_LINE = len("2026-01-01T00:00:00.000000Z\n")
_AT_BATCH = re.compile(r"(?:\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z\n)*")
_TYPE_BATCH = re.compile(r"(?:[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+\n)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN = frozenset({str, int, bool, type(None)})
_DAY = itemgetter(slice(0, 10))
# Bound once: the hot loop below makes no Python-level call per entry, only C-level maps.
_loads, _dumps = orjson.loads, orjson.dumps
_HASH = type(hashlib.sha256())
_copy, _update, _digest = _HASH.copy, _HASH.update, _HASH.digest
_LEAF_PREFIX = hashlib.sha256(b"\x00")  # RFC 6962 leaf hash: SHA-256(0x00 || entry)


def _fast_batch(st: _Scan, batch: list[Row]) -> tuple[int | None, str, str] | None | bool:
    """Check a batch of v2 entries with C-level passes over all of it.

    Returns None when every entry passed (the state is advanced), a problem from the tree check, or
    False when the batch holds anything this path does not vouch for (v1 entries, endorsements,
    ledger events, any damage): the caller then checks it entry by entry.

    Canonical form: each row is parsed by itself, and the canonical encoding of the list of the
    parsed documents must equal the rows joined with commas. That proves every row canonical by
    itself: at the first row whose length differed from its document's encoding, one of the two
    would be a complete JSON value followed by a comma and more, which no JSON text is (a parse of
    the rows joined, rather than of each row, would not prove it: see
    test_entries_split_at_an_inner_comma_are_not_canonical).
    """
    n = len(batch)
    seqs, raws, recorded = zip(*batch, strict=True)
    if seqs[0] != st.expected or seqs[-1] != st.expected + n - 1:  # sorted, unique: so contiguous
        return False
    try:
        docs = list(map(_loads, raws))  # type: ignore[arg-type]
        joined = b",".join(raws)  # type: ignore[arg-type]
        if _dumps(docs, option=_CANONICAL) != b"[" + joined + b"]":
            return False
        # Leaf hashes, each from a copy of a hash already fed the 0x00 prefix: cheaper than a new
        # hash object of 0x00 + entry (update() refuses anything but bytes: such rows go the exact way).
        hashes = list(map(_copy, repeat(_LEAF_PREFIX, n)))
        any(map(_update, hashes, raws))  # update returns None: any() runs it over all of them
        leaves = list(map(_digest, hashes))
        # "h0,h1,...": each recorded hash must be its entry's leaf hash. The joins are equal only if
        # they split alike, since the hex side has exactly n - 1 commas.
        hexes = b"".join(leaves).hex(",", 32)
        if b",".join(recorded) != hexes.encode():  # type: ignore[arg-type]
            return False
        v, seq, at, kinds, actors, bodies, prevs, sigs = zip(*map(_FIELDS, docs), strict=True)
        expected_prev = st.prev
        if expected_prev is None:  # the chunk's first link, compared by the caller: it must be a hash
            if not HASH_RE.fullmatch(prevs[0]):
                return False
            expected_prev = prevs[0]
        if (
            max(map(len, docs)) != len(MEMBERS)  # all eight members present: so exactly these
            or v.count(2) != n
            or set(map(type, v)) != {int}  # not 2.0, which is canonical and equals 2
            or seq != tuple(range(st.expected, st.expected + n))
            or set(map(type, seq)) != {int}
            # The joins refuse anything but str. A pattern over joined values must also see as many
            # values as there are, or one value holding two, joined by the separator, would pass.
            or len(at_lines := "\n".join(at) + "\n") != _AT_LINE * n
            or not _AT_BATCH.fullmatch(at_lines)
            or (kinds_lines := "\n".join(kind_set := set(kinds)) + "\n").count("\n") != len(kind_set)
            or not _TYPE_BATCH.fullmatch(kinds_lines)  # over the distinct types: a batch has few
            or max(map(len, kinds)) > MAX_TYPE_LEN
            or "ledger." in "\n".join(kinds)
            or min(map(len, actors)) < 1
            or max(map(len, actors)) > MAX_ACTOR_LEN
            or _CONTROL.search("".join(actors))
            or ",".join(prevs) != (f"{expected_prev},{hexes[: 65 * n - 66]}" if n > 1 else expected_prev)
            or sigs.count([]) != n
            or set(map(type, bodies)) != {dict}
            or not _PLAIN.issuperset(map(type, chain.from_iterable(map(dict.values, bodies))))
            and not all(map(float_free, bodies))
        ):
            return False
        for day in set(map(_DAY, at)):
            date.fromisoformat(day)
    except (TypeError, ValueError, KeyError, orjson.JSONDecodeError, orjson.JSONEncodeError):
        return False
    if not joined.isascii() and _BEYOND_BMP.search(joined):
        return False
    if st.prev is None:
        st.res.first_prev, st.res.first_version = prevs[0], 2
    if st.res.min_v2 is None:
        st.res.min_v2 = seqs[0]
    st.prev = hexes[-64:]
    return st.add_leaves(b"".join(leaves))


def _one(st: _Scan, row: Row) -> tuple[int | None, str, str] | None:
    """Check one entry exactly (both versions) and name its problem."""
    seq, raw, recorded = row
    res = st.res
    if seq != st.expected:
        return st.expected, DELETED, f"sequence gap: entry {st.expected} is missing"
    if type(raw) is not bytes:
        if raw is None:
            return (
                seq,
                DELETED,
                f"entry {seq} is missing from the bundle (its entry bundle is gone or damaged)",
            )
        return seq, MALFORMED, f"entry {seq}: stored entry is not a byte string"
    leaf = hashlib.sha256(b"\x00" + raw).digest()
    hx = leaf.hex()
    doc = fast_decode(raw)
    if doc is None or recorded is not None and recorded != hx.encode():
        found = _slow_entry(seq, raw, recorded, doc, leaf_recorded=st.kind == "bundle")
        if isinstance(found, tuple):
            return seq, *found
        doc = found
    version = doc["v"]
    if doc["seq"] != seq:
        return (
            seq,
            REORDERED,
            f"entry {seq}: records sequence number {doc['seq']} (entries were reordered or renumbered)",
        )
    link = doc["prev"]
    if st.prev is None:
        res.first_prev, res.first_version = link, version
    elif link != (st.prev if version >= 2 else st.prev_sha):
        return seq, MODIFIED, f"entry {seq}: link to entry {seq - 1} broken"
    if version == 1:
        res.max_v1 = seq
    elif res.min_v2 is None:
        res.min_v2 = seq
    if version >= 2 and (doc["sigs"] or doc["type"].startswith("ledger.")):
        problem = _special(st.job.origin, seq, doc, res)
        if problem is not None:
            return seq, SIGNATURE, problem
    st.prev = hx
    st.prev_sha = hashlib.sha256(raw).hexdigest() if version == 1 else ""
    return st.add_leaves(leaf)


def _slow_entry(
    seq: int, raw: bytes, recorded: object, doc: dict[str, Any] | None, *, leaf_recorded: bool
) -> dict[str, Any] | tuple[str, str]:
    """The entry's document, or (kind, problem), by the exact checks of both versions.

    ``recorded`` is the hash stored beside the entry: in a database v1 rows hold SHA-256(bytes) and
    v2 rows the leaf hash; a bundle's level-0 tile holds leaf hashes for all.
    """
    if doc is None:
        try:
            doc = decode_entry(raw)
        except EntryFormatError as exc:
            return MALFORMED, f"entry {seq}: {exc.message}"
    v1_hash = doc["v"] == 1 and not leaf_recorded
    expected_hash = hashlib.sha256(raw).hexdigest() if v1_hash else merkle.leaf_hash(raw).hex()
    if recorded is not None and recorded != expected_hash.encode():
        return MODIFIED, f"entry {seq}: stored bytes do not match their hash"
    return doc


def _special(origin: str, seq: int, doc: dict[str, Any], res: Result) -> str | None:
    """Check an entry's endorsements cryptographically; keep what the key history needs."""
    statement = event_statement(origin, doc["type"], doc["actor"], doc["at"], doc["body"])
    keys = []
    for item in doc["sigs"]:
        try:
            endorsement = Endorsement.from_json(item)
            vkey = norm_key(endorsement.vkey)
            if vkey is None or not endorsement.valid_for(statement):
                return f"entry {seq}: the signature by {key_name(endorsement.vkey)} does not verify"
        except EndorsementError as exc:
            return f"entry {seq}: {exc.message}"
        keys.append(vkey)
    ledger_event = doc["type"].startswith("ledger.")
    res.specials.append((seq, doc["type"], doc["body"] if ledger_event else None, keys))
    return None


def _split(hashes: bytes | bytearray) -> list[bytes]:
    step = merkle.HASH_SIZE
    return [bytes(hashes[i : i + step]) for i in range(0, len(hashes), step)]


def _compact(tiles: list[bytes], leaves: bytes | bytearray) -> list[bytes]:
    """Range hashes of a chunk prefix from its full-tile roots and the leaves of its open tile."""
    top = merkle.Frontier()
    for h in tiles:
        top, _ = top.append(h)
    low = merkle.Frontier()
    for h in _split(leaves):
        low, _ = low.append(h)
    return [*top.hashes, *low.hashes]


# --- the orchestration --------------------------------------------------------------------------


def _jobs(source: tuple[str, str], n: int, size: int, origin: str, sizes: set[int]) -> list[Job]:
    jobs = []
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        jobs.append(Job(source, lo, hi, size, origin, tuple(sorted(s for s in sizes if lo < s <= hi))))
    return jobs


def default_workers() -> int:
    """One worker per CPU this process may run on (its affinity, not the machine's count).

    Measured on the 2-core development machine (bench_ledger_verify.py, 1,000,000 entries): two
    workers took 3.5-3.9 s where one took 5.5-5.8 s, with other work running on the machine; a
    second process pays off even when the cores are shared, since each worker reads its own range.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _results(jobs: list[Job], workers: int | None) -> Iterator[Result]:
    """Results in order; with several jobs, computed by a pool with a bounded window in flight."""
    count = workers or default_workers()
    if len(jobs) < 2 or count < 2:
        for job in jobs:
            yield scan(job)
        return
    # fork is cheapest, but not safe once threads exist (the kiosk); then spawn.
    method = "fork" if threading.active_count() == 1 else "spawn"
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context(method)) as pool:
        pending: list[Future[Result]] = []
        queue = list(jobs)
        try:
            while queue or pending:
                while queue and len(pending) < 2 * count:
                    pending.append(pool.submit(scan, queue.pop(0)))
                yield pending.pop(0).result()
        finally:
            for future in pending:
                future.cancel()


@dataclass
class Inputs:
    """What a ledger file or bundle says about itself; all of it is checked, none of it trusted."""

    source: tuple[str, str]
    origin: str
    checkpoint: str
    present: int  # entries on hand, 0..present-1 (gaps inside are found by the scan)
    kept: list[tuple[int, str]]
    log_keys: list[str]
    witnesses: list[str]


def _fail(checked: int, seq: int | None, kind: str, problem: str, notes: list[str]) -> VerifyReport:
    return VerifyReport(False, checked, seq, problem, kind, notes=tuple(notes))


def verify_inputs(
    inputs: Inputs, trusted_keys: list[str] | None, trusted_checkpoint: str | None, workers: int | None
) -> VerifyReport:
    notes: list[str] = []
    try:
        note = parse_note(inputs.checkpoint)
        latest = parse_checkpoint(note.text)
    except NoteError as exc:
        return _fail(
            0, None, MALFORMED, f"the latest checkpoint is not a signed checkpoint: {exc.message}", notes
        )
    if latest.origin != inputs.origin:
        return _fail(
            0,
            None,
            MALFORMED,
            f"the latest checkpoint is for log {latest.origin!r}, not {inputs.origin!r}",
            notes,
        )
    trusted_cp = None
    if trusted_checkpoint is not None:
        try:
            trusted_note = parse_note(trusted_checkpoint)
            trusted_cp = parse_checkpoint(trusted_note.text)
        except NoteError as exc:
            raise LedgerError(
                f"the trusted checkpoint is not a signed checkpoint: {exc.message}",
                "give the checkpoint file exactly as the station printed it",
            ) from exc
        if trusted_cp.origin != inputs.origin:
            return _fail(
                0,
                None,
                FORKED,
                f"the checkpoint you trusted is for log {trusted_cp.origin!r}, not {inputs.origin!r}",
                notes,
            )
    n = inputs.present
    sizes = {latest.size, *(s for s, _ in inputs.kept)}
    if trusted_cp is not None:
        sizes.add(trusted_cp.size)
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    history = KeyHistory(inputs.origin)
    cosigned: list[tuple[int, int, str, str]] = []  # (seq, size, witness vkey, line)
    chunks = merkle.Frontier()  # over full chunks' roots (tree level 16)
    chunk_roots: list[bytes] = []  # n / 65536 hashes: small, kept to check the stored upper tree
    level1: list[bytes] = []  # level-8 hashes not yet checked against a bundle's level-1 tile
    level1_index = 0
    tail: list[bytes] = []
    last_leaf, last_sha, checked = GENESIS_PREV, "", 0
    max_v1, min_v2 = None, None
    jobs = _jobs(inputs.source, n, n, inputs.origin, sizes)
    for res in _results(jobs, workers):
        if res.first_prev is not None and res.lo > 0:
            want = last_leaf if res.first_version >= 2 else last_sha
            if res.first_prev != want:
                return _fail(
                    checked, res.lo, MODIFIED, f"entry {res.lo}: link to entry {res.lo - 1} broken", notes
                )
        elif res.first_prev is not None and res.first_prev != GENESIS_PREV:
            return _fail(
                0, 0, MODIFIED, "entry 0: does not start the chain (its link should be all zeros)", notes
            )
        for seq, event_type, body, keys in res.specials:
            for vkey in keys:
                why = history.check_endorsement(seq, event_type, body or {}, vkey)
                if why is not None:
                    return _fail(seq, seq, SIGNATURE, f"entry {seq} {why}", notes)
            if body is not None:
                why = history.apply(seq, event_type, body, keys)
                if why is not None:
                    return _fail(
                        seq,
                        seq,
                        SIGNATURE if event_type == ROTATED else MALFORMED,
                        f"entry {seq} {why}",
                        notes,
                    )
                if event_type == COSIGNED:
                    cosigned.append(
                        (seq, body.get("size"), str(body.get("witness")), str(body.get("cosignature")))
                    )
        if res.problem is not None:
            seq, kind, message = res.problem
            return _fail(res.lo + res.checked, seq, kind, message, notes)
        for s, hashes in res.snapshots.items():
            roots[s] = merkle.fold([*chunks.hashes, *hashes])
        level1.extend(res.tile_roots)
        while len(level1) >= _TILE:
            problem = _check_level1(inputs.source, level1_index, level1[:_TILE])
            if problem is not None:
                return _fail(res.lo, None, MODIFIED, problem, notes)
            level1, level1_index = level1[_TILE:], level1_index + 1
        if res.max_v1 is not None:
            max_v1 = res.max_v1
        if min_v2 is None and res.min_v2 is not None:
            min_v2 = res.min_v2
        if res.hi - res.lo == CHUNK and res.lo % CHUNK == 0:
            chunks, _ = chunks.append(res.compact[0])
            chunk_roots.append(res.compact[0])
        else:
            tail = res.compact
        last_leaf, last_sha, checked = res.last_leaf, res.last_sha, res.hi
    if max_v1 is not None and (min_v2 is not None and min_v2 < max_v1 or history.upgraded_at != max_v1 + 1):
        return _fail(
            checked, max_v1, MALFORMED, "version-1 entries follow the upgrade to the Merkle log", notes
        )
    if n < latest.size:
        return _fail(
            n,
            n,
            TRUNCATED,
            f"the ledger ends after {n} entries but its latest checkpoint covers "
            f"{latest.size}: entries {n}..{latest.size - 1} were cut off",
            notes,
        )
    if n > latest.size:
        return _fail(
            latest.size,
            latest.size,
            INSERTED,
            f"entries {latest.size}..{n - 1} are not covered by "
            "any signed checkpoint: they were added behind the log's back",
            notes,
        )
    root = merkle.fold([*chunks.hashes, *tail]) if n else merkle.EMPTY_ROOT
    roots[n] = root
    if root != latest.root_hash:
        return _fail(
            n,
            None,
            MODIFIED,
            f"the {n} entries do not make the tree of the latest signed checkpoint: "
            "an entry was changed, inserted or removed and the links rebuilt",
            notes,
        )
    problem = _check_level1(inputs.source, level1_index, level1) if level1 else None
    problem = problem or _check_upper(inputs.source, chunk_roots, n)
    if problem is not None:
        return _fail(n, None, MODIFIED, problem, notes)
    # Keys and signatures.
    anchors = inputs.log_keys if trusted_keys is None else trusted_keys
    trusted = [k for k in (norm_key(v) for v in anchors) if k is not None]
    if trusted_keys is None:
        notes.append(
            "trusting the log keys recorded with the ledger; pass the key you hold to anchor the check"
        )
    if not history.log_keys:
        signer = _signed_by(inputs.checkpoint, inputs.origin, trusted)
        if signer is None:
            return _fail(n, None, SIGNATURE, "the latest checkpoint is not signed by a key you trust", notes)
        history.log_keys, history.log_starts = [signer], [0]
    problem = _check_checkpoint(
        inputs.checkpoint, latest.size, inputs.origin, history, "the latest checkpoint"
    )
    if problem is not None:
        return _fail(n, None, SIGNATURE, problem, notes)
    if not any(k in trusted for k in history.log_keys):
        return _fail(
            n,
            None,
            SIGNATURE,
            "the log's keys are not the ones you trust (a different or replaced log)",
            notes,
        )
    kept_sizes = {}
    for size, text in inputs.kept:
        if size > n:
            return _fail(
                n,
                n,
                TRUNCATED,
                f"the station kept a signed checkpoint of size {size}, "
                f"but the ledger ends after {n} entries: it was cut off",
                notes,
            )
        what = f"the kept checkpoint of size {size}"
        try:
            kept_cp = parse_checkpoint(parse_note(text).text)
        except NoteError as exc:
            return _fail(n, None, MALFORMED, f"{what} is malformed: {exc.message}", notes)
        if kept_cp.size != size or kept_cp.origin != inputs.origin:
            return _fail(n, None, MALFORMED, f"{what} is not a checkpoint of this log at that size", notes)
        problem = _check_checkpoint(text, size, inputs.origin, history, what)
        if problem is not None:
            return _fail(n, None, SIGNATURE, problem, notes)
        if roots.get(size) != kept_cp.root_hash:
            return _fail(
                n, None, FORKED, f"{what} was signed over a different history: the log forked", notes
            )
        problem = _check_cosignatures(text, inputs.witnesses, what)
        if problem is not None:
            return _fail(n, None, SIGNATURE, problem, notes)
        kept_sizes[size] = text
    for i, start in enumerate(history.log_starts[1:], 1):
        text = kept_sizes.get(start)
        both = [history.log_keys[i - 1], history.log_keys[i]]
        if text is None or any(_signed_by(text, inputs.origin, [k]) is None for k in both):
            return _fail(
                n,
                start - 1,
                SIGNATURE,
                f"no checkpoint signed by both the old and the new key was kept "
                f"for the key rotation at entry {start - 1}",
                notes,
            )
    for seq, size, witness, line in cosigned:
        text = kept_sizes.get(size) if isinstance(size, int) else None
        if text is None or _cosignature_ok(text, witness, line) is not None:
            return _fail(
                n,
                seq,
                SIGNATURE,
                f"entry {seq} records a cosignature that does not match a kept checkpoint of size {size}",
                notes,
            )
    if trusted_cp is not None:
        problem = _check_checkpoint(
            trusted_checkpoint or "", trusted_cp.size, inputs.origin, history, "the checkpoint you trusted"
        )
        if problem is not None:
            return _fail(n, None, FORKED, f"{problem}: it is not from this log's history", notes)
        if trusted_cp.size > n:
            return _fail(
                n,
                n,
                TRUNCATED,
                f"the ledger ends after {n} entries, before the {trusted_cp.size} of the "
                "checkpoint you trusted: entries were cut off (or the log rolled back)",
                notes,
            )
        if roots.get(trusted_cp.size) != trusted_cp.root_hash:
            return _fail(
                n,
                None,
                FORKED,
                f"the first {trusted_cp.size} entries are not the history of the checkpoint "
                "you trusted: the log was rewritten (forked)",
                notes,
            )
    return VerifyReport(
        True,
        n,
        size=n,
        root=root.hex(),
        checkpoint=inputs.checkpoint,
        notes=tuple(notes),
        log_keys=tuple(history.log_keys),
    )


def _check_level1(source: tuple[str, str], index: int, hashes: list[bytes]) -> str | None:
    """A bundle's level-1 tile holds the roots of its 256-entry subtrees."""
    kind, where = source
    if kind != "bundle":
        return None  # a database's level-8 nodes are checked by the workers
    rel = tile_path(1, index, len(hashes))
    if BundleReader(where).raw(rel) != b"".join(hashes):
        return f"tile {rel} does not hold the hashes of its subtrees"
    return None


def _check_upper(source: tuple[str, str], chunk_roots: list[bytes], n: int) -> str | None:
    """The stored tree above the chunks (levels 16, 24, ...; tile levels 2, 3, ...) matches the entries."""
    levels: dict[int, list[bytes]] = {}
    current, level = chunk_roots, CHUNK.bit_length() - 1
    while current:
        if level >= 2 * merkle.TILE_HEIGHT and level % merkle.TILE_HEIGHT == 0:
            levels[level] = current
        current = [merkle.node_hash(current[i], current[i + 1]) for i in range(0, len(current) - 1, 2)]
        level += 1
    kind, where = source
    if kind == "db":
        conn = sqlite3.connect(f"{Path(where).resolve().as_uri()}?mode=ro", uri=True)
        try:
            stored = {
                (lv, ix): h
                for lv, ix, h in conn.execute(
                    "SELECT level, idx, hash FROM ledger_tree WHERE level >= 16 AND idx < ? >> level", (n,)
                )
            }
        finally:
            conn.close()
        want = {(lv, ix): h for lv, hashes in levels.items() for ix, h in enumerate(hashes)}
        if stored != want:
            return "the Merkle tree the station stored does not match its entries (ledger_tree was altered)"
        return None
    reader = BundleReader(where)
    for lv, hashes in levels.items():
        tile_level = lv // merkle.TILE_HEIGHT
        for t in range(0, len(hashes), _TILE):
            part = hashes[t : t + _TILE]
            rel = tile_path(tile_level, t // _TILE, len(part))
            if reader.raw(rel) != b"".join(part):
                return f"tile {rel} does not hold the hashes of its subtrees"
    return None


def _verifiers(keys: Iterable[str]) -> list[Verifier]:
    return [parse_verifier_key(k) for k in keys]


def _signed_by(text: str, origin: str, keys: list[str]) -> str | None:
    """The first of ``keys`` with a valid signature on the note ``text``."""
    try:
        note = parse_note(text)
    except NoteError:
        return None
    message = note.text.encode()
    for vkey in keys:
        v = parse_verifier_key(vkey)
        if v.name != origin:
            continue
        for sig in note.signatures:
            if sig.name == v.name and sig.key_id == v.key_id and v.verify(message, sig.signature):
                return vkey
    return None


def _check_checkpoint(text: str, size: int, origin: str, history: KeyHistory, what: str) -> str | None:
    """A valid signature by a log key allowed at ``size``, and none by a log key that is not."""
    allowed = history.log_keys_for_size(size)
    if _signed_by(text, origin, allowed) is None:
        return f"{what} (size {size}) is not signed by the log key valid at that size"
    for vkey in history.log_keys:
        if vkey not in allowed and _signed_by(text, origin, [vkey]) is not None:
            retired = history.retirement_of(vkey)
            when = (
                f"after its retirement at entry {retired}"
                if retired is not None and retired < size
                else "before its time"
            )
            return f"{what} (size {size}) is signed by key {key_name(vkey)} {when}"
    return None


def _cosignature_ok(text: str, witness: str, line: str) -> str | None:
    try:
        verifier = parse_verifier_key(witness)
        sig = parse_signature_line(line)
        message = parse_note(text).text.encode()
    except NoteError as exc:
        return exc.message
    if verifier.sig_type != SIG_COSIGNATURE_V1 or (sig.name, sig.key_id) != (verifier.name, verifier.key_id):
        return "not a cosignature by that witness"
    return None if verifier.verify(message, sig.signature) else "the cosignature does not verify"


def _check_cosignatures(text: str, witnesses: list[str], what: str) -> str | None:
    try:
        note = parse_note(text)
        verifiers = _verifiers(witnesses)
    except NoteError as exc:
        return f"{what}: {exc.message}"
    message = note.text.encode()
    for v in verifiers:
        for sig in note.signatures:
            if (sig.name, sig.key_id) == (v.name, v.key_id) and not v.verify(message, sig.signature):
                return f"{what} carries a cosignature by {v.name} that does not verify"
    return None


# --- entry points -------------------------------------------------------------------------------


def verify_ledger_file(
    path: Path | str,
    trusted_keys: list[str] | None,
    *,
    trusted_checkpoint: str | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify the ledger in an SQLite file (read-only; the file is not altered)."""
    path = Path(path)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        try:
            conn.execute("BEGIN")  # one snapshot for the facts below, while a station may append
            state = read_state(conn)
        except sqlite3.OperationalError:
            conn.close()
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
            state = read_state(conn)
        if state is None:
            return _legacy(conn, trusted_keys)
        lowest, highest = conn.execute("SELECT min(seq), max(seq) FROM ledger_entries").fetchone()
        if lowest is not None and lowest < 0:
            row = conn.execute(SELECT_ROWS + " WHERE seq = ?", (lowest,)).fetchone()
            try:
                recorded = decode_entry(as_row(row)[1])["seq"]  # type: ignore[arg-type]
            except (EntryFormatError, TypeError):
                recorded = lowest
            return VerifyReport(
                False,
                0,
                recorded,
                f"entry {recorded} is stored under sequence number {lowest} (entries were renumbered)",
                REORDERED,
            )
        inputs = Inputs(
            ("db", str(path)),
            state.origin,
            state.checkpoint,
            0 if highest is None else highest + 1,
            kept_checkpoints(conn),
            [v for _, v in log_keys(conn)],
            witness_keys(conn),
        )
    finally:
        conn.close()
    return verify_inputs(inputs, trusted_keys, trusted_checkpoint, workers)


def verify_bundle(
    directory: Path | str,
    trusted_keys: list[str] | None,
    *,
    trusted_checkpoint: str | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify an exported bundle (``ledger.bundle``)."""
    reader = BundleReader(directory)
    meta = reader.meta()
    checkpoint = reader.text("checkpoint") or ""
    try:
        origin = parse_checkpoint(parse_note(checkpoint).text).origin
    except NoteError as exc:
        return VerifyReport(False, 0, None, f"the bundle's checkpoint is malformed: {exc.message}", MALFORMED)
    if meta.get("origin") not in (None, origin):
        return VerifyReport(
            False, 0, None, "the bundle's ledger.json names another origin than its checkpoint", MALFORMED
        )
    inputs = Inputs(
        ("bundle", str(reader.root)),
        origin,
        checkpoint,
        reader.present(),
        reader.kept(),
        [v for _, v in reader.log_keys()],
        reader.witness_keys(),
    )
    return verify_inputs(inputs, trusted_keys, trusted_checkpoint, workers)


def _legacy(conn: sqlite3.Connection, trusted_keys: list[str] | None) -> VerifyReport:
    """A v1 ledger nobody has upgraded yet: the old chained, per-entry-signed check."""
    keys = {}
    for vkey in trusted_keys or []:
        try:
            pk = parse_verifier_key(vkey).public_key
        except NoteError:
            continue
        keys[key_id(pk)] = pk
    report = verify_rows((as_row(r) for r in conn.execute(SELECT_ROWS + " ORDER BY seq")), keys)
    note = (
        "this ledger predates signed checkpoints: entries cut off its end cannot be seen; open the station "
        "once with its passphrase to upgrade it"
    )
    return VerifyReport(
        report.ok,
        report.checked,
        report.first_bad_seq,
        report.problem,
        report.kind,
        size=report.size,
        notes=(note,),
    )
