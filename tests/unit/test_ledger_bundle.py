"""The auditor's bundle (C2SP tlog-tiles layout), its verification, and the same attacks on it as on
the live file; also the parallel path, key rotation, endorsements and the upgrade of a v1 ledger."""

import base64
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from ledger import Ledger, LedgerError, generate_key, key_id, merkle
from ledger import verify as verify_module
from ledger.bundle import decode_bundle, encode_bundle, export, index_path, tile_path
from ledger.canonical import canonical_bytes
from ledger.errors import InvalidEventError
from ledger.keys import private_key_to_bytes
from ledger.merkle import leaf_hash
from ledger.note import Signer, parse_checkpoint, parse_note, parse_tlog_proof, verify_tlog_proof
from ledger.signers import endorse
from ledger.verify import verify_bundle

# Every test here runs on both verifier paths: the compiled core and the pure-Python reference.
pytestmark = pytest.mark.usefixtures("verify_core")

T0 = datetime(2025, 1, 31, 9, 15, tzinfo=UTC)
ORIGIN = "tokens.example.org/branch-07"
N = 600  # two full tiles and a partial one


def at(i):
    return T0 + timedelta(seconds=i)


@pytest.fixture
def signer():
    return generate_key()


@pytest.fixture
def path(tmp_path, signer):
    path = tmp_path / "station.db"
    with Ledger.open(path, signer, origin=ORIGIN) as ledger:
        with ledger.atomic() as tx:
            for i in range(N):
                tx.append(
                    "token.issued", {"serial": 10_000 + i, "owner": f"user-{i}"}, actor="op-1", at=at(i)
                )
    return path


@pytest.fixture
def bundle(path, tmp_path):
    out = tmp_path / "bundle"
    with Ledger.open(path) as ledger:
        export(ledger, out)
    return out


def vkeys(*keys):
    return [Signer(ORIGIN, k).verifier().vkey() for k in keys]


def check(bundle, *keys, **options):
    return verify_bundle(bundle, vkeys(*keys) if keys else None, **options)


def test_paths_are_c2sp_tlog_tiles():
    assert index_path(1234067) == "x001/x234/067"
    assert index_path(0) == "000" and index_path(1000) == "x001/000"
    assert tile_path(0, 1234067, 8) == "tile/0/x001/x234/067.p/8"
    assert tile_path("entries", 2) == "tile/entries/002"
    entries = [b"", b"a", b"x" * 300]
    assert decode_bundle(encode_bundle(entries)) == entries
    assert decode_bundle(b"\x00\x05abc") is None


def test_export_layout_and_verification(bundle, path, signer):
    assert sorted(p.name for p in bundle.iterdir()) == [
        "README.md",
        "checkpoint",
        "ledger.json",
        "log-keys",
        "tile",
        "witness-keys",
    ]
    assert (bundle / "tile/entries/000").stat().st_size > 0
    assert (bundle / "tile/entries/002.p/88").is_file()
    assert len((bundle / "tile/0/001").read_bytes()) == 256 * 32
    assert len((bundle / "tile/1/000.p/2").read_bytes()) == 2 * 32
    with Ledger.open(path) as ledger:
        assert (bundle / "checkpoint").read_text() == ledger.checkpoint()
        raws = [e.raw for e in ledger.entries()]
    assert decode_bundle((bundle / "tile/entries/001").read_bytes()) == raws[256:512]
    assert (bundle / "tile/0/002.p/88").read_bytes() == b"".join(leaf_hash(r) for r in raws[512:])
    meta = json.loads((bundle / "ledger.json").read_text())
    assert meta["origin"] == ORIGIN and meta["size"] == N
    report = check(bundle, signer)
    assert report.ok and report.size == N and not report.notes
    assert "trusting the log keys recorded" in check(bundle).notes[0]
    assert not check(bundle, generate_key()).ok


def test_export_refuses_a_non_empty_directory(path, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with Ledger.open(path) as ledger, pytest.raises(LedgerError, match="not an empty directory"):
        export(ledger, tmp_path / "full")


# --- the attacks, on the bundle -----------------------------------------------------------------


def _entries(bundle, n, width=256):
    return decode_bundle((bundle / tile_path("entries", n, width)).read_bytes())


def _put(bundle, n, entries, width=256, tiles=False):
    (bundle / tile_path("entries", n, width)).write_bytes(encode_bundle(entries))
    if tiles:
        (bundle / tile_path(0, n, width)).write_bytes(b"".join(leaf_hash(e) for e in entries))


def test_bundle_modified_entry(bundle, signer):
    entries = _entries(bundle, 1)
    entries[5] = entries[5].replace(b"user-261", b"user-999")
    _put(bundle, 1, entries)
    report = check(bundle, signer)
    assert (report.kind, report.first_bad_seq) == ("modified", 261)
    assert report.problem == "entry 261: stored bytes do not match their hash"


def test_bundle_modified_entry_with_tiles_rebuilt(bundle, signer):
    entries = _entries(bundle, 1)
    entries[5] = entries[5].replace(b"user-261", b"user-999")
    _put(bundle, 1, entries, tiles=True)
    report = check(bundle, signer)
    assert (report.kind, report.first_bad_seq) == ("modified", 262)
    assert report.problem == "entry 262: link to entry 261 broken"


def test_bundle_deleted_entry_bundle(bundle, signer):
    (bundle / "tile/entries/001").unlink()
    report = check(bundle, signer)
    assert (report.kind, report.first_bad_seq) == ("deleted", 256)


def test_bundle_deleted_entry_inside_a_bundle(bundle, signer):
    entries = _entries(bundle, 0)
    del entries[7]
    _put(bundle, 0, entries)
    assert (check(bundle, signer).kind, check(bundle, signer).first_bad_seq) == ("modified", 7)
    _put(bundle, 0, entries, tiles=True)  # the tile's hashes rebuilt too
    report = check(bundle, signer)
    assert (report.kind, report.first_bad_seq) == ("reordered", 7)


def test_bundle_truncated(bundle, signer):
    shutil.rmtree(bundle / "tile/entries/002.p")
    report = check(bundle, signer)
    assert (report.kind, report.first_bad_seq) == ("truncated", 512)


def test_bundle_reordered(bundle, signer):
    entries = _entries(bundle, 0)
    entries[3], entries[4] = entries[4], entries[3]
    _put(bundle, 0, entries, tiles=True)
    report = check(bundle, signer)
    assert (report.kind, report.first_bad_seq) == ("reordered", 3)


def test_bundle_inserted_entry_at_the_end(bundle, signer):
    entries = _entries(bundle, 2, 88)
    document = json.loads(entries[-1])
    document.update(seq=N, prev=leaf_hash(entries[-1]).hex())
    entries.append(canonical_bytes(document))
    shutil.rmtree(bundle / "tile/entries/002.p")
    (bundle / "tile/entries/002.p").mkdir()
    _put(bundle, 2, entries, width=89, tiles=True)
    report = check(bundle, signer)
    assert (report.kind, report.first_bad_seq) == ("inserted", N)


def test_bundle_of_a_forked_history(path, signer, tmp_path):
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    with Ledger.open(path, signer) as ledger:
        ledger.append("token.returned", {"serial": 10_000}, actor="op-1", at=at(N))
        seen_by_head_office = ledger.checkpoint()
    shutil.copy(backup, path)
    with Ledger.open(path, signer) as ledger:
        ledger.append("token.lost", {"serial": 10_000}, actor="op-1", at=at(N))
        ledger.append("token.lost", {"serial": 10_001}, actor="op-1", at=at(N + 1))
        export(ledger, tmp_path / "forked")
    assert check(tmp_path / "forked", signer).ok
    report = check(tmp_path / "forked", signer, trusted_checkpoint=seen_by_head_office)
    assert report.kind == "forked" and "forked" in report.problem


def test_bundle_checkpoint_changed_by_one_byte(bundle, signer):
    text = (bundle / "checkpoint").read_text()
    (bundle / "checkpoint").write_text(text.replace(f"\n{N}\n", f"\n{N - 1}\n"))
    assert not check(bundle, signer).ok


# --- parallel verification ----------------------------------------------------------------------


def test_parallel_verification_agrees_with_the_serial_one(path, bundle, signer, monkeypatch):
    # Chunks of 256 entries make this small ledger take the multi-process path.
    monkeypatch.setattr(verify_module, "CHUNK", 256)
    with Ledger.open(path) as ledger:
        parallel = ledger.verify({key_id(signer): signer.public_key()}, workers=2)
    assert parallel.ok and parallel.size == N
    assert check(bundle, signer, workers=2).ok
    entries = _entries(bundle, 1)
    entries[5] = entries[5].replace(b"user-261", b"user-999")
    _put(bundle, 1, entries, tiles=True)
    report = check(bundle, signer, workers=2)
    assert (report.kind, report.first_bad_seq) == ("modified", 262)


def test_snapshots_at_every_size_give_the_roots_of_older_checkpoints(path, signer):
    with Ledger.open(path) as ledger:
        for size in (1, 255, 256, 257, 512, N):
            assert ledger.root_at(size) == merkle.root_from_leaf_hashes(
                [leaf_hash(e.raw) for e in ledger.entries() if e.seq < size]
            )


# --- proofs -------------------------------------------------------------------------------------


def test_tlog_proofs_and_consistency(path, signer):
    with Ledger.open(path) as ledger:
        verifier = Signer(ORIGIN, signer).verifier()
        for index in (0, 255, 256, 599):
            proof = ledger.prove(index)
            parsed = parse_tlog_proof(proof.format())
            assert parsed == proof
            raw = next(e.raw for e in ledger.entries(index))
            assert verify_tlog_proof(parsed, leaf_hash(raw), ORIGIN, [verifier]).size == N
            with pytest.raises(merkle.MerkleError):
                verify_tlog_proof(parsed, leaf_hash(raw + b" "), ORIGIN, [verifier])
        for old in (1, 100, 256, 599, N):
            proof = ledger.consistency(old)
            merkle.verify_consistency(old, N, ledger.root_at(old), ledger.root_at(N), proof)
        with pytest.raises(LedgerError, match="kept no signed checkpoint"):
            ledger.prove(3, size=10)


# --- keys and endorsements ----------------------------------------------------------------------


def test_rotation_is_in_the_bundle_and_verifies(path, signer, tmp_path):
    new_key = generate_key()
    with Ledger.open(path, signer) as ledger:
        ledger.rotate_key(new_key, actor="admin", at=at(N))
        ledger.append("a.b", {}, actor="op", at=at(N + 1))
        export(ledger, tmp_path / "rotated")
        assert ledger.verifier_key() == vkeys(new_key)[0]
    out = tmp_path / "rotated"
    assert (out / f"checkpoints/{N + 1}").is_file()
    assert [line.split()[0] for line in (out / "log-keys").read_text().splitlines()] == ["0", str(N + 1)]
    assert check(out, new_key).ok and check(out, signer).ok
    (out / f"checkpoints/{N + 1}").unlink()
    report = check(out, new_key)
    assert report.kind == "signature" and "key rotation" in report.problem


def test_endorsements_by_enrolled_keys(path, signer):
    operator = Signer("op-17", generate_key())
    vkey = operator.verifier().vkey()
    with Ledger.open(path, signer) as ledger:
        body = {"note": "custodian key", "key": vkey}
        proof = endorse(operator, ORIGIN, "ledger.signer_enrolled", "admin", at(N), body)
        with ledger.atomic() as tx:
            tx.enrol_signer(vkey, proof, actor="admin", at=at(N), details={"note": "custodian key"})
        event = {"serial": 10_001, "to": "carol"}
        approval = endorse(operator, ORIGIN, "token.custody_transferred", "op-17", at(N + 1), event)
        entry = ledger.append(
            "token.custody_transferred", event, actor="op-17", at=at(N + 1), signatures=[approval]
        )
        assert entry.sigs == ({"key": vkey, "sig": base64.b64encode(approval.signature).decode()},)
        with pytest.raises(InvalidEventError, match="does not verify"):
            ledger.append(
                "token.custody_transferred",
                {**event, "to": "mallory"},
                actor="op-17",
                at=at(N + 2),
                signatures=[approval],
            )
        stranger = endorse(Signer("op-99", generate_key()), ORIGIN, "a.b", "op-99", at(N + 2), {})
        with pytest.raises(InvalidEventError, match="not an enrolled signer"):
            ledger.append("a.b", {}, actor="op-99", at=at(N + 2), signatures=[stranger])
        with ledger.atomic() as tx:
            tx.retire_signer(vkey, actor="admin", at=at(N + 3))
        late = endorse(operator, ORIGIN, "a.b", "op-17", at(N + 4), {})
        with pytest.raises(InvalidEventError, match="retired"):
            ledger.append("a.b", {}, actor="op-17", at=at(N + 4), signatures=[late])
        assert ledger.verify(vkeys(signer)).ok
    # An endorsement slipped in after the retirement (by someone editing the file) is refused.
    conn = sqlite3.connect(path)
    (raw,) = conn.execute("SELECT entry FROM ledger_entries WHERE seq = ?", (N + 1,)).fetchone()
    conn.close()
    with Ledger.open(path, signer) as ledger:
        replay = json.loads(raw)
        ledger.append("token.custody_transferred", replay["body"], actor="op-17", at=at(N + 1))
    _forge_sigs(path, N + 3, replay["sigs"])
    with Ledger.open(path) as ledger:
        report = ledger.verify(vkeys(signer))
    assert report.kind == "signature"
    assert report.problem == f"entry {N + 3} is endorsed by key op-17 after its retirement at entry {N + 2}"


def _forge_sigs(path, seq, sigs):
    """Give entry ``seq`` the endorsements ``sigs`` and rebuild everything a forger can rebuild
    without the log key: the hash column, the tree, the state's frontier (not the checkpoint)."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER ledger_entries_no_update")
    (raw,) = conn.execute("SELECT entry FROM ledger_entries WHERE seq = ?", (seq,)).fetchone()
    document = json.loads(raw)
    document["sigs"] = sigs
    raw = canonical_bytes(document)
    conn.execute(
        "UPDATE ledger_entries SET entry = ?, hash = ? WHERE seq = ?", (raw, leaf_hash(raw).hex(), seq)
    )
    conn.commit()
    conn.close()


def test_reserved_event_types(path, signer):
    with Ledger.open(path, signer) as ledger, pytest.raises(InvalidEventError, match="reserved"):
        ledger.append("ledger.key_rotated", {}, actor="x", at=at(0))


def test_a_rotation_must_end_its_transaction(path, signer):
    with Ledger.open(path, signer) as ledger:
        with pytest.raises(Exception, match="last event"):
            with ledger.atomic() as tx:
                tx.rotate_key(generate_key(), actor="admin", at=at(N))
                tx.append("a.b", {}, actor="op", at=at(N))
        assert ledger.tree_size() == N


# --- upgrade of a v1 ledger ---------------------------------------------------------------------


def test_a_v1_ledger_is_upgraded_and_recorded(tmp_path, signer):
    path = tmp_path / "old.db"
    _write_v1(path, signer, 3)
    with Ledger.open(path) as auditor:
        legacy = auditor.verify({key_id(signer): signer.public_key()})
        assert legacy.ok and "predates signed checkpoints" in legacy.notes[0]
    with pytest.raises(LedgerError, match="needs the time"):
        Ledger.open(path, signer, origin=ORIGIN)
    with Ledger.open(path, signer, origin=ORIGIN, at=at(10)) as ledger:
        head = ledger.head()
        assert (head.seq, head.type, head.version) == (3, "ledger.upgraded", 2)
        assert head.body["v1_entries"] == 3 and head.prev == leaf_hash(next(ledger.entries(2)).raw).hex()
        ledger.append("a.b", {}, actor="op", at=at(11))
        assert ledger.kept_checkpoints()[0][0] == 4
        assert ledger.verify(vkeys(signer)).ok
        export(ledger, tmp_path / "b")
    assert check(tmp_path / "b", signer).ok


def test_a_damaged_v1_ledger_is_not_upgraded(tmp_path, signer):
    path = tmp_path / "old.db"
    _write_v1(path, signer, 3)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER ledger_entries_no_delete")
    conn.execute("DELETE FROM ledger_entries WHERE seq = 1")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="cannot upgrade the ledger: sequence gap"):
        Ledger.open(path, signer, origin=ORIGIN, at=at(10))


def _write_v1(path, signer, n):
    """A ledger as the station wrote it before this change: v1 entries, each signed."""
    import hashlib

    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE ledger_entries (seq INTEGER PRIMARY KEY, entry BLOB NOT NULL, hash TEXT NOT NULL,"
        " signature BLOB NOT NULL, key_id TEXT NOT NULL)"
    )
    conn.execute(
        "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries"
        " BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    prev = "0" * 64
    for i in range(n):
        doc = {
            "v": 1,
            "seq": i,
            "at": f"2025-01-31T09:15:0{i}.000000Z",
            "type": "a.b",
            "actor": "op",
            "body": {"i": i},
            "prev": prev,
        }
        raw = canonical_bytes(doc)
        prev = hashlib.sha256(raw).hexdigest()
        conn.execute(
            "INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?)",
            (i, raw, prev, signer.sign(raw), key_id(signer)),
        )
    conn.commit()
    conn.close()
    assert private_key_to_bytes(signer)


def test_checkpoint_text_is_a_c2sp_checkpoint(path, signer):
    with Ledger.open(path) as ledger:
        note = parse_note(ledger.checkpoint())
    cp = parse_checkpoint(note.text)
    assert (cp.origin, cp.size) == (ORIGIN, N) and note.signatures[0].name == ORIGIN
    assert note.signatures[0].key_id == Signer(ORIGIN, signer).key_id
