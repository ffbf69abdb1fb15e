"""Tampering with the live database file, as an attacker with sqlite3 would, is caught and named.

Each attack of issue 4 has a test here: modification, deletion, truncation, reordering, insertion and a
forked history; the same attacks on an exported bundle are in test_ledger_bundle.py.
"""

import hashlib
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from ledger import Ledger, LedgerIntegrityError, generate_key, key_id
from ledger.entry import encode_entry
from ledger.merkle import leaf_hash
from ledger.note import Checkpoint, Signer, sign_checkpoint

# Every test here runs on both verifier paths: the compiled core and the pure-Python reference.
pytestmark = pytest.mark.usefixtures("verify_core")

T0 = datetime(2025, 1, 31, 9, 15, tzinfo=UTC)
SIZE = 5
ORIGIN = "tokens.example.org/branch-07"


@pytest.fixture
def signer():
    return generate_key()


@pytest.fixture
def path(tmp_path, signer):
    """A closed ledger file with entries 0..4."""
    path = tmp_path / "station.db"
    with Ledger.open(path, signer, origin=ORIGIN) as ledger:
        for i in range(SIZE):
            ledger.append("token.issued", {"serial": 1000 + i}, actor="op-1", at=T0 + timedelta(seconds=i))
    return path


def tamper(path, *statements):
    """Run SQL on the file directly, with the append-only triggers out of the way."""
    conn = sqlite3.connect(path)
    with conn:
        for trigger in ("no_update", "no_delete", "append_only"):
            conn.execute(f"DROP TRIGGER IF EXISTS ledger_entries_{trigger}")
        for sql, *params in statements:
            conn.execute(sql, *params)
    conn.close()


def row(path, seq):
    conn = sqlite3.connect(path)
    found = conn.execute("SELECT entry, hash FROM ledger_entries WHERE seq = ?", (seq,)).fetchone()
    conn.close()
    return found


def rewrite(path, seq, raw):
    """Replace entry ``seq`` with ``raw`` and a consistent hash column."""
    tamper(
        path,
        ("UPDATE ledger_entries SET entry = ?, hash = ? WHERE seq = ?", [raw, leaf_hash(raw).hex(), seq]),
    )


def rechain(path, start):
    """Rebuild the links and hashes of entries ``start``.. so the chain looks whole again."""
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT seq, entry FROM ledger_entries ORDER BY seq").fetchall()
    conn.close()
    prev = leaf_hash(rows[start - 1][1]).hex() if start else "0" * 64
    for seq, raw in rows[start:]:
        document = json.loads(raw)
        document["prev"], document["seq"] = prev, seq
        raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        rewrite(path, seq, raw)
        prev = leaf_hash(raw).hex()


def verify(path, *keys, **options):
    with Ledger.open(path) as auditor:
        return auditor.verify({key_id(k): k.public_key() for k in keys}, **options)


def assert_caught(report, seq, kind, problem=None):
    assert not report.ok
    assert report.first_bad_seq == seq
    assert report.kind == kind
    if problem is not None:
        assert report.problem == problem


def test_untouched_ledger_verifies(path, signer):
    report = verify(path, signer)
    assert report.ok and report.checked == report.size == SIZE
    with Ledger.open(path) as auditor:
        assert report.checkpoint == auditor.checkpoint()


# --- modification -------------------------------------------------------------------------------


def test_changed_byte_in_an_entry(path, signer):
    raw = row(path, 2)[0].replace(b'"serial":1002', b'"serial":9002')
    tamper(path, ("UPDATE ledger_entries SET entry = ? WHERE seq = 2", [raw]))
    assert_caught(verify(path, signer), 2, "modified", "entry 2: stored bytes do not match their hash")


def test_changed_byte_with_recomputed_hash(path, signer):
    rewrite(path, 2, row(path, 2)[0].replace(b'"serial":1002', b'"serial":9002'))
    assert_caught(verify(path, signer), 3, "modified", "entry 3: link to entry 2 broken")


def test_changed_entry_with_the_whole_chain_rebuilt(path, signer):
    rewrite(path, 2, row(path, 2)[0].replace(b'"serial":1002', b'"serial":9002'))
    rechain(path, 3)
    report = verify(path, signer)
    assert_caught(report, None, "modified")
    assert "do not make the tree of the latest signed checkpoint" in report.problem


def test_changed_newest_entry(path, signer):
    rewrite(path, 4, row(path, 4)[0].replace(b'"serial":1004', b'"serial":9004'))
    assert_caught(verify(path, signer), None, "modified")


def test_changed_hash_column(path, signer):
    tamper(path, ("UPDATE ledger_entries SET hash = ? WHERE seq = 3", ["ab" * 32]))
    assert_caught(verify(path, signer), 3, "modified", "entry 3: stored bytes do not match their hash")


def test_non_canonical_bytes_that_still_parse(path, signer):
    # Two spellings of one document must never both be valid entries.
    document = json.loads(row(path, 3)[0])
    rewrite(path, 3, json.dumps(document, indent=1).encode())
    assert_caught(verify(path, signer), 3, "malformed", "entry 3: not in canonical form")


def test_entries_split_at_an_inner_comma_are_not_canonical(path, signer):
    # The station (or whoever holds its key) stores entry 3 and the first half of entry 4 as one
    # row and the rest of entry 4 as the next, and signs the tree of those rows. Joined with a comma
    # the rows read as two canonical documents, so a check of the joined batch alone would pass
    # them: the verifier's batch check must still hold each row to be canonical by itself.
    rows = [row(path, seq)[0] for seq in range(3)]
    a = row(path, 3)[0]
    prefix = encode_entry(seq=4, at=T0, type="a.b", actor="op-1", body={"x": 1, "y": 2}, prev="0" * 64)
    prefix = prefix[: prefix.index(b',"y":2')]
    first = a + b"," + prefix
    b = encode_entry(seq=4, at=T0, type="a.b", actor="op-1", body={"x": 1, "y": 2},
                     prev=leaf_hash(first).hex())
    assert b.startswith(prefix + b",") and (first + b"," + b[len(prefix) + 1:]) == a + b"," + b
    _forge(path, signer, [*rows, first, b[len(prefix) + 1:]])
    assert_caught(verify(path, signer), 3, "malformed")


def test_broken_link(path, signer):
    rewrite(path, 4, row(path, 4)[0].replace(row(path, 3)[1].encode(), b"0" * 64))
    assert_caught(verify(path, signer), 4, "modified", "entry 4: link to entry 3 broken")


def test_first_entry_must_start_the_chain(path, signer):
    rewrite(path, 0, row(path, 0)[0].replace(b"0" * 64, b"1" * 64))
    assert_caught(
        verify(path, signer),
        0,
        "modified",
        "entry 0: does not start the chain (its link should be all zeros)",
    )


def test_entry_stored_as_text_instead_of_bytes(path, signer):
    tamper(path, ("UPDATE ledger_entries SET entry = CAST(entry AS TEXT) WHERE seq = 1",))
    assert_caught(verify(path, signer), 1, "malformed", "entry 1: stored entry is not a byte string")


def test_hash_turned_into_text_that_is_not_utf8_is_named(path, signer):
    # X'00' || substr(...) yields TEXT holding invalid UTF-8, which sqlite3 cannot even hand over.
    tamper(path, ("UPDATE ledger_entries SET hash = X'00' || substr(hash, 2) WHERE seq = 3",))
    assert_caught(verify(path, signer), 3, "modified")
    with Ledger.open(path) as ledger:
        assert len(list(ledger.entries(start=4))) == 1  # reading past the damage still works


def test_stored_tree_nodes_are_checked(tmp_path, signer):
    path = tmp_path / "big.db"
    with Ledger.open(path, signer, origin=ORIGIN) as ledger:
        with ledger.atomic() as tx:
            for i in range(300):
                tx.append("a.b", {"i": i}, actor="op", at=T0)
    tamper(path, ("UPDATE ledger_tree SET hash = ? WHERE level = 8 AND idx = 0", [b"\x01" * 32]))
    report = verify(path, signer)
    assert_caught(report, 0, "modified", "entries 0..255 do not match the tree the station stored")


# --- deletion, truncation, reordering, insertion -------------------------------------------------


def test_deleted_middle_entry(path, signer):
    tamper(path, ("DELETE FROM ledger_entries WHERE seq = 2",))
    assert_caught(verify(path, signer), 2, "deleted", "sequence gap: entry 2 is missing")


def test_deleted_first_entry(path, signer):
    tamper(path, ("DELETE FROM ledger_entries WHERE seq = 0",))
    assert_caught(verify(path, signer), 0, "deleted", "sequence gap: entry 0 is missing")


def test_deleted_middle_entry_with_later_ones_renumbered(path, signer):
    tamper(
        path,
        ("DELETE FROM ledger_entries WHERE seq = 2",),
        ("UPDATE ledger_entries SET seq = seq - 1 WHERE seq > 2",),
    )
    assert_caught(
        verify(path, signer),
        2,
        "reordered",
        "entry 2: records sequence number 3 (entries were reordered or renumbered)",
    )


def test_truncated_tail_is_detected(path, signer):
    # Before the Merkle log this went unseen; the signed checkpoint says how many entries there are.
    tamper(path, ("DELETE FROM ledger_entries WHERE seq >= 3",))
    report = verify(path, signer)
    assert_caught(report, 3, "truncated")
    assert "entries 3..4 were cut off" in report.problem


def test_truncation_to_an_older_signed_checkpoint_needs_the_auditors_checkpoint(path, signer, tmp_path):
    # The attacker cuts the tail and puts back a checkpoint the station really signed earlier: the file
    # alone is consistent again, but not with the checkpoint the auditor kept.
    with Ledger.open(path) as ledger:
        kept_by_auditor = ledger.checkpoint()
    older = sign_checkpoint(Checkpoint(ORIGIN, 3, _root_of(path, 3)), Signer(ORIGIN, signer))
    frontier = _frontier_of(path, 3)
    last = leaf_hash(row(path, 2)[0]).hex()
    tamper(
        path,
        ("DELETE FROM ledger_entries WHERE seq >= 3",),
        (
            "UPDATE ledger_state SET size = 3, frontier = ?, last_hash = ?, checkpoint = ?",
            [frontier, last, older],
        ),
    )
    assert verify(path, signer).ok
    report = verify(path, signer, trusted_checkpoint=kept_by_auditor)
    assert_caught(report, 3, "truncated")


def test_reordered_entries(path, signer):
    tamper(
        path,
        ("UPDATE ledger_entries SET seq = 100 WHERE seq = 1",),
        ("UPDATE ledger_entries SET seq = 1 WHERE seq = 3",),
        ("UPDATE ledger_entries SET seq = 3 WHERE seq = 100",),
    )
    assert_caught(
        verify(path, signer),
        1,
        "reordered",
        "entry 1: records sequence number 3 (entries were reordered or renumbered)",
    )


def test_entry_renumbered_out_of_range_is_named_by_what_it_records(path, signer):
    tamper(path, ("UPDATE ledger_entries SET seq = -5 WHERE seq = 4",))
    report = verify(path, signer)
    assert_caught(report, 4, "reordered")
    assert "entry 4 is stored under sequence number -5" in report.problem


def test_inserted_entry_at_the_end(path, signer):
    raw = (
        row(path, 4)[0]
        .replace(b'"seq":4', b'"seq":5')
        .replace(json.loads(row(path, 4)[0])["prev"].encode(), row(path, 4)[1].encode())
    )
    tamper(path, ("INSERT INTO ledger_entries VALUES (5, ?, ?, x'', '')", [raw, leaf_hash(raw).hex()]))
    report = verify(path, signer)
    assert_caught(report, 5, "inserted")
    assert "entries 5..5 are not covered by any signed checkpoint" in report.problem


def test_inserted_entry_in_the_middle_with_the_chain_rebuilt(path, signer):
    tamper(
        path,
        ("UPDATE ledger_entries SET seq = seq + 100 WHERE seq >= 2",),
        ("UPDATE ledger_entries SET seq = seq - 99 WHERE seq >= 100",),
    )
    raw = row(path, 1)[0]
    tamper(path, ("INSERT INTO ledger_entries VALUES (2, ?, '', x'', '')", [raw.replace(b"op-1", b"op-9")]))
    rechain(path, 2)
    report = verify(path, signer)
    assert_caught(report, 5, "inserted")


# --- forks and signatures -----------------------------------------------------------------------


def test_forked_history_against_a_checkpoint_the_auditor_kept(path, signer, tmp_path):
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    with Ledger.open(path, signer) as ledger:
        ledger.append("token.returned", {"serial": 1000}, actor="op-1", at=T0 + timedelta(seconds=10))
        seen_by_auditor = ledger.checkpoint()
    # The station is restored from the backup (or someone holding the key rewrites it) and goes on
    # with a different history of the same length.
    shutil.copy(backup, path)
    with Ledger.open(path, signer) as ledger:
        ledger.append("token.lost", {"serial": 1000}, actor="op-1", at=T0 + timedelta(seconds=10))
    assert verify(path, signer).ok  # consistent in itself
    report = verify(path, signer, trusted_checkpoint=seen_by_auditor)
    assert_caught(report, None, "forked")


def test_checkpoint_altered_in_the_file(path, signer):
    conn = sqlite3.connect(path)
    note = conn.execute("SELECT checkpoint FROM ledger_state").fetchone()[0]
    conn.close()
    lines = note.split("\n")
    lines[2] = "A" * 43 + "="
    tamper(path, ("UPDATE ledger_state SET checkpoint = ?", ["\n".join(lines)]))
    report = verify(path, signer)
    assert not report.ok and report.kind == "modified"


def test_history_rewritten_and_resigned_with_another_key(path, signer):
    attacker = generate_key()
    rewrite(path, 4, row(path, 4)[0].replace(b"op-1", b"op-9"))
    forged = sign_checkpoint(Checkpoint(ORIGIN, SIZE, _root_of(path, SIZE)), Signer(ORIGIN, attacker))
    tamper(path, ("UPDATE ledger_state SET checkpoint = ?", [forged]))
    report = verify(path, signer)
    assert_caught(report, None, "signature", "the latest checkpoint is not signed by a key you trust")


def test_checkpoint_signed_by_a_retired_key_is_refused(path, signer):
    new_key = generate_key()
    with Ledger.open(path, signer) as ledger:
        ledger.rotate_key(new_key, actor="admin", at=T0 + timedelta(seconds=20))
        ledger.append("a.b", {}, actor="op", at=T0 + timedelta(seconds=21))
    # Someone still holding the old key signs the current tree with it.
    forged = sign_checkpoint(Checkpoint(ORIGIN, SIZE + 2, _root_of(path, SIZE + 2)), Signer(ORIGIN, signer))
    tamper(path, ("UPDATE ledger_state SET checkpoint = ?", [forged]))
    report = verify(path, signer, new_key)
    assert_caught(report, None, "signature")
    assert (
        report.problem
        == f"the latest checkpoint (size {SIZE + 2}) is not signed by the log key valid at that size"
    )
    both = _note_with_both(forged, new_key, ORIGIN)
    tamper(path, ("UPDATE ledger_state SET checkpoint = ?", [both]))
    report = verify(path, signer, new_key)
    assert_caught(report, None, "signature")
    assert report.problem.endswith(f"is signed by key {ORIGIN} after its retirement at entry {SIZE}")


def test_no_trusted_key_at_all(path):
    with Ledger.open(path) as auditor:
        report = auditor.verify([])
    assert_caught(report, None, "signature")


def test_reading_a_tampered_entry_raises_integrity_error(path):
    raw = row(path, 2)[0].replace(b'"serial":1002', b'"serial":9002')
    tamper(path, ("UPDATE ledger_entries SET entry = ? WHERE seq = 2", [raw]))
    with Ledger.open(path) as auditor:
        entries = auditor.entries()
        assert [next(entries).seq, next(entries).seq] == [0, 1]
        with pytest.raises(LedgerIntegrityError) as info:
            next(entries)
        assert info.value.seq == 2
        assert info.value.hint


def test_appending_after_tamper_is_refused(path, signer):
    rewrite(path, 4, row(path, 4)[0].replace(b'"serial":1004', b'"serial":9004'))
    with Ledger.open(path, signer) as ledger:
        with pytest.raises(LedgerIntegrityError, match="do not match the signed tree"):
            ledger.append("token.issued", {"serial": 1}, actor="op-1", at=T0)
    assert_caught(verify(path, signer), None, "modified")


def test_appending_after_the_tree_state_was_altered_is_refused(path, signer):
    tamper(
        path,
        (
            "UPDATE ledger_state SET frontier = ?",
            [_frontier_of(path, 4)[:8] + b"\x00" * 8 + _frontier_of(path, 4)[16:]],
        ),
    )
    with Ledger.open(path, signer) as ledger:
        with pytest.raises(LedgerIntegrityError):
            ledger.append("token.issued", {"serial": 1}, actor="op-1", at=T0)


def test_auditor_open_never_writes_the_file(path, signer):
    before = path.read_bytes(), path.stat().st_mtime_ns
    assert verify(path, signer).ok
    with Ledger.open(path) as ledger:
        list(ledger.entries())
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


# --- helpers ----------------------------------------------------------------------------------


def _forge(path, signer, raws):
    """Make ``path`` hold exactly the rows ``raws``, with matching hash column, tree state and a
    checkpoint signed by ``signer``: what a station holding its key could write."""
    from ledger.merkle import Frontier

    frontier = Frontier()
    for raw in raws:
        frontier, _ = frontier.append(leaf_hash(raw))
    note = sign_checkpoint(Checkpoint(ORIGIN, len(raws), frontier.root()), Signer(ORIGIN, signer))
    tamper(
        path,
        ("DELETE FROM ledger_entries",),
        *(
            ("INSERT INTO ledger_entries VALUES (?, ?, ?, x'', '')", [seq, raw, leaf_hash(raw).hex()])
            for seq, raw in enumerate(raws)
        ),
        (
            "UPDATE ledger_state SET size = ?, frontier = ?, last_hash = ?, checkpoint = ?",
            [len(raws), frontier.to_bytes(), leaf_hash(raws[-1]).hex(), note],
        ),
    )



def _leaves(path, size):
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT entry FROM ledger_entries WHERE seq < ? ORDER BY seq", (size,)).fetchall()
    conn.close()
    return [leaf_hash(r[0]) for r in rows]


def _root_of(path, size):
    from ledger.merkle import root_from_leaf_hashes

    return root_from_leaf_hashes(_leaves(path, size))


def _frontier_of(path, size):
    from ledger.merkle import Frontier

    frontier = Frontier()
    for leaf in _leaves(path, size):
        frontier, _ = frontier.append(leaf)
    return frontier.to_bytes()


def _note_with_both(note, key, origin):
    from ledger.note import add_signatures, parse_note

    extra = Signer(origin, key).sign(parse_note(note).text)
    return add_signatures(note, [extra])


def test_sha256_is_what_v1_entries_chain_with():
    assert hashlib.sha256(b"").hexdigest().startswith("e3b0c442")
