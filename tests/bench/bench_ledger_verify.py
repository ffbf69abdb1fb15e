"""Benchmark: verifying a 1,000,000-event ledger, against the floor of reading and hashing its bytes.

Run: .venv/bin/python tests/bench/bench_ledger_verify.py [N [REPEATS]]

Builds an N-event ledger file (default 1,000,000) the way the ledger writes one, in large
transactions: the same entry encoding, tree nodes, state and signed checkpoint; then, in this one run:

- floor: read every entry's bytes from the same file, in order, and hash each once with SHA-256
  (one process; the least any verifier of this file must do);
- ``Ledger.verify``: the full check (canonical form, links, the Merkle tree, stored tree nodes, the
  checkpoint signature), with the default workers (one per usable CPU) and with one;
- both REPEATS times (default 3), each time next to a fresh floor, and the median ratio; also the
  CPU seconds each used (process and workers), which other work on a shared machine barely moves;
- peak memory of a verification of N/10 and of N events, each in a fresh process with its workers:
  a streaming verifier uses the same memory for both.

Targets (issue 4): verify within 2x of the floor and under 10 s for 1,000,000 events on this 2-core
machine; memory flat.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from ledger import merkle, store
from ledger.entry import GENESIS_PREV, encode_entry
from ledger.keys import generate_key, key_id
from ledger.log import Ledger
from ledger.note import Checkpoint, Signer, Verifier, sign_note
from ledger.verify import default_workers

ORIGIN = "tokens.example.org/bench"
T = TypeVar("T")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def body(i: int) -> dict:
    return {
        "intent_id": f"7f3c2a1e-5b6d-4e8f-9a0b-{i:012d}",
        "serial": 10_000_000 + i,
        "model": "YubiKey 5 NFC",
        "firmware": "5.4.3",
        "credential_id": f"Token Station:user{i}",
        "owner": f"user{i}",
        "custodian": "carol",
        "issuer": "Token Station",
        "algorithm": "SHA1",
        "digits": 6,
        "period": 30,
        "seed_fingerprint": f"{i:032x}",
        "vault_record": f"totp/{10_000_000 + i}/abc",
    }


def build(path: Path, n: int) -> object:
    """An n-event ledger, written as Ledger writes it (checked by the verification below)."""
    signer = generate_key()
    Ledger.open(path, signer, origin=ORIGIN).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # a build step, not what is measured
    frontier, prev = merkle.Frontier(), GENESIS_PREV
    conn.execute("BEGIN")
    batch, nodes = [], []
    for i in range(n):
        raw = encode_entry(
            seq=i, at=T0 + timedelta(seconds=i), type="token.issued", actor="carol", body=body(i), prev=prev
        )
        leaf = merkle.leaf_hash(raw)
        prev = leaf.hex()
        batch.append((i, raw, prev, b"", ""))
        frontier, completed = frontier.append(leaf)
        nodes.extend((c.level, c.index, c.hash) for c in completed if c.level and c.level % 8 == 0)
        if len(batch) == 50_000:
            conn.executemany("INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?)", batch)
            batch = []
    conn.executemany("INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?)", batch)
    conn.executemany("INSERT INTO ledger_tree VALUES (?, ?, ?)", nodes)
    note = sign_note(Checkpoint(ORIGIN, n, frontier.root()).body(), [Signer(ORIGIN, signer)])
    store.write_state(
        conn, store.State(ORIGIN, n, frontier, prev, note, Verifier(ORIGIN, signer.public_key()).vkey())
    )
    conn.execute("COMMIT")
    conn.close()
    return signer


def floor(path: Path) -> float:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    sha = hashlib.sha256
    start = time.perf_counter()
    for (raw,) in conn.execute("SELECT entry FROM ledger_entries ORDER BY seq"):
        sha(raw).digest()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (the verifier's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """(result, CPU seconds): unlike wall time, barely moved by other work on a shared machine."""
    start = _cpu()
    result = call()
    return result, _cpu() - start


def timed_wall(call: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


_PEAK = """
import resource, sys
from ledger.log import Ledger
with Ledger.open(sys.argv[1]) as ledger:
    report = ledger.verify()
assert report.ok, report
usage = resource.getrusage
print(max(usage(resource.RUSAGE_SELF).ru_maxrss, usage(resource.RUSAGE_CHILDREN).ru_maxrss))
"""


def peak_kib(path: Path) -> int:
    out = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def main(n: int = 1_000_000, repeats: int = 3) -> None:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        path, small = Path(tmp) / "big.db", Path(tmp) / "small.db"
        t = time.perf_counter()
        signer = build(path, n)
        build(small, n // 10)
        print(f"built {n:,} events in {time.perf_counter() - t:.0f} s ({path.stat().st_size / 1e6:.0f} MB)")
        floor(path)  # warm the page cache for both sides alike
        workers = default_workers()
        keys = {key_id(signer): signer.public_key()}
        print("wall seconds (x floor), then CPU seconds of this process and its workers (x floor's CPU)")
        print(f"run  floor                 verify, {workers} workers          verify, 1 worker")
        ratios: list[float] = []
        for run in range(repeats):
            base, base_cpu = timed(lambda: floor(path))
            with Ledger.open(path) as ledger:
                (report, ours), ours_cpu = timed(lambda: timed_wall(lambda: ledger.verify(keys)))  # type: ignore[arg-type]
                (single, one), one_cpu = timed(lambda: timed_wall(lambda: ledger.verify(keys, workers=1)))  # type: ignore[arg-type]
            assert report.ok and single.ok and report.size == n, report
            ratios.append(ours / base)
            print(
                f"{run + 1:3d}  {base:5.2f} / {base_cpu:5.2f} cpu"
                f"   {ours:5.2f} ({ours / base:.2f}x) / {ours_cpu:5.2f} cpu ({ours_cpu / base_cpu:.2f}x)"
                f"   {one:5.2f} ({one / base:.2f}x) / {one_cpu:5.2f} cpu ({one_cpu / base_cpu:.2f}x)"
            )
        small_peak, big_peak = peak_kib(small), peak_kib(path)
    cores = os.cpu_count()
    print(
        f"verify with the default {workers} workers: median {statistics.median(ratios):.2f}x the floor"
        " (target <= 2x, and < 10 s)"
    )
    print(f"CPU throughput of {cores} busy processes vs 1 (what the cores give now): {throughput(cores):.2f}")
    print(
        f"peak memory verifying {n // 10:,}: {small_peak / 1024:.0f} MiB, {n:,}: {big_peak / 1024:.0f} MiB, "
        f"ratio {big_peak / small_peak:.2f} (flat: about 1)"
    )


def _burn(_: int) -> float:
    start = time.perf_counter()
    hashlib.sha256(b"x" * 50_000_000).digest()
    return time.perf_counter() - start


def throughput(workers: int) -> float:
    """How much more CPU work ``workers`` processes get done than one (what "cores" are worth here)."""
    import multiprocessing

    alone = _burn(0)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        start = time.perf_counter()
        pool.map(_burn, range(workers))
        together = time.perf_counter() - start
    return workers * alone / together


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
