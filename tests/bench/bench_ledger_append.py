"""Benchmark: cost of a signed, chained, durable ledger append against a plain durable SQLite insert.

Run: .venv/bin/python tests/bench/bench_ledger_append.py [N]
Prints the ratio measured in this one run, so machine speed cancels out. Both sides use WAL with
synchronous=FULL and one transaction per event, as the station does at the desk.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ledger.keys import generate_key
from ledger.log import Ledger

BODY = {
    "serial": 12345678,
    "owner": "alice",
    "custodian": "carol",
    "credential_id": "Token Station:alice",
    "seed_fingerprint": "0" * 32,
}


def raw_sqlite(path: Path, n: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, entry BLOB)")
    start = time.perf_counter()
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO events VALUES (?, ?)", [i, json.dumps(BODY).encode()])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def ledger_appends(path: Path, n: int) -> float:
    ledger = Ledger.open(path, signer=generate_key())
    at = datetime(2026, 12, 3, tzinfo=UTC)
    start = time.perf_counter()
    for _ in range(n):
        ledger.append("token.issued", BODY, actor="carol", at=at)
    elapsed = time.perf_counter() - start
    ledger.close()
    return elapsed


def main(n: int = 500) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = raw_sqlite(Path(tmp) / "raw.db", n)
        ours = ledger_appends(Path(tmp) / "ledger.db", n)
    print(
        f"{n} durable appends: raw SQLite {base * 1e3 / n:.3f} ms/event, ledger {ours * 1e3 / n:.3f} "
        f"ms/event, ratio {ours / base:.2f}x"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
