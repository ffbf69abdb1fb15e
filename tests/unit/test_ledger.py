"""Ledger file behaviour: append, read, transactions, durability settings, modes, persistence."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from ledger import (
    GENESIS_PREV,
    InvalidEventError,
    Ledger,
    LedgerError,
    LedgerReadOnlyError,
    LedgerTransactionError,
    canonical_bytes,
    generate_key,
    key_id,
)
from ledger.merkle import leaf_hash, node_hash
from ledger.note import Verifier, open_checkpoint

T0 = datetime(2025, 1, 31, 9, 15, tzinfo=UTC)


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=i)


@pytest.fixture
def signer():
    return generate_key()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "station.db"


@pytest.fixture
def ledger(path, signer):
    with Ledger.open(path, signer) as opened:
        yield opened


def trusted(*keys):
    return {key_id(k): k.public_key() for k in keys}


def test_append_and_read_back(ledger, signer):
    first = ledger.append("token.issued", {"serial": 1}, actor="op-1", at=at(0))
    second = ledger.append("token.returned", {"serial": 1}, actor="op-2", at=at(1))

    assert (first.seq, first.prev) == (0, GENESIS_PREV)
    assert (second.seq, second.prev) == (1, first.hash)
    assert first.raw == canonical_bytes(
        {
            "v": 2,
            "seq": 0,
            "at": "2025-01-31T09:15:00.000000Z",
            "type": "token.issued",
            "actor": "op-1",
            "body": {"serial": 1},
            "prev": GENESIS_PREV,
            "sigs": [],
        }
    )
    # v2: the hash is the RFC 6962 leaf hash, and entries are covered by the signed checkpoint
    # instead of one signature each.
    assert first.hash == leaf_hash(first.raw).hex()
    assert (first.signature, first.key_id, first.version) == (b"", "", 2)
    checkpoint, _ = open_checkpoint(
        ledger.checkpoint(), ledger.origin, [Verifier(ledger.origin, signer.public_key())]
    )
    assert (checkpoint.size, checkpoint.root_hash) == (
        2,
        node_hash(leaf_hash(first.raw), leaf_hash(second.raw)),
    )
    assert ledger.key_id == key_id(signer)
    assert first.at_datetime == T0

    assert list(ledger.entries()) == [first, second]
    assert list(ledger.entries(1)) == [second]
    assert ledger.head() == second
    assert len(ledger) == ledger.size() == 2
    assert ledger.verify(trusted(signer)) == ledger.verify(trusted(signer))
    report = ledger.verify(trusted(signer))
    assert (report.ok, report.checked, report.first_bad_seq, report.problem) == (
        True,
        2,
        None,
        None,
    )


def test_empty_ledger(ledger, signer):
    assert ledger.head() is None
    assert len(ledger) == 0
    assert list(ledger.entries()) == []
    assert ledger.verify(trusted(signer)).ok


def test_entry_body_is_a_copy_of_what_was_recorded(ledger):
    body = {"items": [1, 2]}
    entry = ledger.append("a.b", body, actor="op", at=at(0))
    body["items"].append(3)
    assert entry.body == {"items": [1, 2]}
    assert ledger.head().body == {"items": [1, 2]}


def test_wal_and_synchronous_full_are_in_effect(ledger, path):
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    ledger.close()
    with Ledger.open(path) as auditor:
        assert auditor.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert auditor.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_naive_datetime_is_rejected_and_nothing_written(ledger):
    with pytest.raises(InvalidEventError, match="naive") as info:
        ledger.append("a.b", {}, actor="op", at=datetime(2025, 1, 31, 9, 15))
    assert info.value.hint
    assert len(ledger) == 0
    assert not ledger.db.conn.in_transaction


@pytest.mark.parametrize(
    ("event_type", "body", "actor"),
    [("Bad", {}, "op"), ("a.b", {"x": 0.5}, "op"), ("a.b", {}, ""), ("a.b", ["list"], "op")],
)
def test_invalid_events_are_rejected(ledger, event_type, body, actor):
    with pytest.raises(InvalidEventError):
        ledger.append(event_type, body, actor=actor, at=at(0))
    assert len(ledger) == 0


def test_atomic_commits_entries_and_caller_rows_together(ledger, signer, path):
    with ledger.atomic() as tx:
        tx.db["tokens"].insert({"serial": 1, "holder": "alice"}, pk="serial")
        a = tx.append("token.issued", {"serial": 1}, actor="op", at=at(0))
        b = tx.append("token.tagged", {"serial": 1}, actor="op", at=at(1))
        assert tx.appended == (a, b)
    assert b.prev == a.hash
    ledger.close()
    with Ledger.open(path) as reopened:
        assert [e.seq for e in reopened.entries()] == [0, 1]
        assert list(reopened.db["tokens"].rows) == [{"serial": 1, "holder": "alice"}]
        assert reopened.verify(trusted(signer)).ok


def test_atomic_rolls_back_entries_and_caller_rows_on_exception(ledger, signer):
    ledger.db["tokens"].create({"serial": int, "holder": str}, pk="serial")
    ledger.append("station.initialised", {}, actor="admin", at=at(0))

    with pytest.raises(RuntimeError, match="device removed"):
        with ledger.atomic() as tx:
            tx.db["tokens"].insert({"serial": 1, "holder": "alice"})
            tx.append("token.issued", {"serial": 1}, actor="op", at=at(1))
            tx.append("token.tagged", {"serial": 1}, actor="op", at=at(2))
            raise RuntimeError("device removed")

    assert ledger.db["tokens"].count == 0
    assert len(ledger) == 1
    assert not ledger.db.conn.in_transaction
    # The chain continues from the last committed entry, not the rolled-back ones.
    retry = ledger.append("token.issued", {"serial": 1}, actor="op", at=at(3))
    assert retry.seq == 1
    assert ledger.verify(trusted(signer)).ok


def test_atomic_rolls_back_when_the_callers_write_fails(ledger):
    ledger.db["tokens"].insert({"serial": 1}, pk="serial")
    with pytest.raises(sqlite3.IntegrityError):
        with ledger.atomic() as tx:
            tx.append("token.issued", {"serial": 1}, actor="op", at=at(0))
            tx.db.execute("INSERT INTO tokens (serial) VALUES (1)")
    assert len(ledger) == 0


def test_atomic_does_not_nest(ledger):
    with ledger.atomic() as tx:
        with pytest.raises(LedgerTransactionError) as info:
            with ledger.atomic():
                pass
        assert info.value.hint
        with pytest.raises(LedgerTransactionError):
            ledger.append("a.b", {}, actor="op", at=at(0))
        tx.append("a.b", {}, actor="op", at=at(1))
    assert [e.at for e in ledger.entries()] == ["2025-01-31T09:15:01.000000Z"]


def test_atomic_refuses_a_transaction_opened_outside_it(ledger):
    ledger.db.conn.execute("BEGIN")
    with pytest.raises(LedgerTransactionError):
        ledger.append("a.b", {}, actor="op", at=at(0))
    ledger.db.conn.execute("ROLLBACK")


def test_transaction_cannot_be_used_after_its_block(ledger):
    with ledger.atomic() as tx:
        pass
    with pytest.raises(LedgerTransactionError):
        tx.append("a.b", {}, actor="op", at=at(0))
    assert len(ledger) == 0


def test_commit_inside_atomic_is_reported(ledger):
    with pytest.raises(LedgerTransactionError, match="committed or rolled back"):
        with ledger.atomic() as tx:
            tx.append("a.b", {}, actor="op", at=at(0))
            tx.db.conn.commit()
    assert not ledger.db.conn.in_transaction


def test_commit_inside_atomic_is_reported_even_after_later_writes(ledger):
    ledger.db["notes"].create({"id": int}, pk="id")
    with pytest.raises(LedgerTransactionError, match="committed or rolled back"):
        with ledger.atomic() as tx:
            tx.db.conn.commit()
            tx.db.conn.execute("INSERT INTO notes (id) VALUES (1)")  # opens a new implicit transaction
            tx.append("a.b", {}, actor="op", at=at(0))
    # What followed the stray commit was rolled back with the block.
    assert len(ledger) == 0
    assert ledger.db["notes"].count == 0


def test_read_only_mode_refuses_append(path, signer):
    Ledger.open(path, signer).close()
    with Ledger.open(path) as auditor:
        assert auditor.read_only and auditor.key_id is None
        with pytest.raises(LedgerReadOnlyError) as info:
            auditor.append("a.b", {}, actor="op", at=at(0))
        assert isinstance(info.value, LedgerError)
        assert str(info.value) == info.value.message
        assert info.value.hint
        with pytest.raises(LedgerReadOnlyError):
            with auditor.atomic() as tx:
                tx.append("a.b", {}, actor="op", at=at(0))
        assert len(auditor) == 0


def test_read_only_open_does_not_create_a_file(tmp_path):
    missing = tmp_path / "nothing.db"
    with pytest.raises(LedgerError, match="no ledger"):
        Ledger.open(missing)
    assert not missing.exists()


def test_read_only_open_refuses_a_database_without_a_ledger(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(LedgerError, match="not a ledger"):
        Ledger.open(other)


def test_open_refuses_a_file_that_is_not_a_database(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="cannot open"):
        Ledger.open(junk, generate_key())


def test_reopen_persists_and_continues_the_chain(path, signer):
    with Ledger.open(path, signer) as first:
        a = first.append("a.b", {"n": 1}, actor="op", at=at(0))
    with Ledger.open(path, signer) as second:
        assert list(second.entries()) == [a]
        b = second.append("a.b", {"n": 2}, actor="op", at=at(1))
        assert (b.seq, b.prev) == (1, a.hash)
        assert second.verify(trusted(signer)).ok


def test_key_rotation_verifies_with_both_keys(path, signer):
    new_key = generate_key()
    with Ledger.open(path, signer) as old:
        old.append("a.b", {}, actor="op", at=at(0))
        rotation = old.rotate_key(new_key, actor="admin", at=at(1))
        assert rotation.type == "ledger.key_rotated" and len(rotation.sigs) == 2
        # The checkpoint that first holds the rotation is signed by both keys, and kept.
        assert old.checkpoint().count("\u2014 ") == 2 and old.kept_checkpoints()[0][0] == 2
        old.append("a.c", {}, actor="op", at=at(2))  # this ledger object now signs with the new key
    with pytest.raises(LedgerError, match="retired"):
        Ledger.open(path, signer)
    with Ledger.open(path, new_key) as new:
        new.append("a.d", {}, actor="op", at=at(3))
        assert new.verify(trusted(signer, new_key)).ok
        assert new.verify(trusted(new_key)).ok  # the new key signs the latest checkpoint over all history
        assert new.verify(trusted(signer)).ok  # the old key vouched for the new one in the rotation
        report = new.verify(trusted(generate_key()))
        assert not report.ok and report.kind == "signature"


def test_two_connections_append_in_turn(path, signer):
    with Ledger.open(path, signer) as one, Ledger.open(path, signer) as two:
        for i in range(3):
            one.append("a.b", {"i": i}, actor="one", at=at(2 * i))
            two.append("a.b", {"i": i}, actor="two", at=at(2 * i + 1))
        assert [e.seq for e in one.entries()] == list(range(6))
        assert one.verify(trusted(signer)).ok


def test_triggers_refuse_update_delete_and_out_of_order_insert(ledger):
    ledger.append("a.b", {}, actor="op", at=at(0))
    ledger.append("a.b", {}, actor="op", at=at(1))
    for sql in (
        "UPDATE ledger_entries SET key_id = 'x'",
        "DELETE FROM ledger_entries WHERE seq = 1",
        "INSERT OR REPLACE INTO ledger_entries VALUES (0, x'00', 'h', x'00', 'k')",
        "INSERT INTO ledger_entries VALUES (5, x'00', 'h', x'00', 'k')",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            ledger.db.execute(sql)
    assert len(ledger) == 2


def test_verify_rejects_a_mislabelled_trusted_key(ledger, signer):
    with pytest.raises(LedgerError, match="not the Ed25519 public key"):
        ledger.verify({"0000000000000000": signer.public_key()})


def test_entries_is_a_stable_view_while_the_caller_appends(ledger):
    with ledger.atomic() as tx:
        for i in range(600):  # more than one read batch
            tx.append("a.b", {"i": i}, actor="op", at=at(i))
    seen = []
    for entry in ledger.entries(590):
        seen.append(entry.seq)
        ledger.append("a.c", {"after": entry.seq}, actor="op", at=at(1000))
    assert seen == list(range(590, 600))
    assert [e.body["i"] for e in ledger.entries() if e.type == "a.b"] == list(range(600))
    assert len(ledger) == 610
