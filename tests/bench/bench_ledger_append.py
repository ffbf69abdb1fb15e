"""Benchmark: a durable station append against a bare durable SQLite insert, measured in one run.

Run: .venv/bin/python tests/bench/bench_ledger_append.py [N [ROUNDS]]

Our side is what the desk does per event: one transaction that appends the entry, updates the
Merkle tree (frontier, tile nodes), applies the event to the projection (a ``token.issue.started``
opens a device intent row), signs the C2SP checkpoint and commits. The baseline inserts the same
entry bytes into a table and commits, one transaction per event. All use WAL with synchronous=FULL
on the same disk.

Two projections are measured, because the projection is the station's code, not the ledger's:

- ``station``: the station's own ``record()`` transaction and its handler for the event
  (``station.inventory.handlers_tokens.on_issue_started``): it reads the token; these keys were
  never received into stock, so it records each as a token first (its path for ledgers from before
  stock intake); then it writes the intent row, sets the token's status and adds a history row.
  All prepared statements on the same connection, but five b-trees and the token's four indexes:
  it cannot be one insert;
- ``minimal``: the ledger's transaction with the same intent row written by one prepared
  ``INSERT OR REPLACE`` on the same connection: the ledger's share, with a one-row projection.

The three loops take turns in slices of 50 events, in a rotating order, so that a change in the
disk's fsync speed during the run (other work on the machine) falls on all of them alike; a round is
N events of each (default 1000), and there are ROUNDS rounds (default 5). Printed: each round's time per event
and both ratios (bare time / our time, i.e. our rate as a fraction of the bare rate), then the
median of the rounds. Target (issue 4): at least 0.5. Then, untimed, the WAL pages each loop writes
per commit (a bare commit writes one page and now and then a second).
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.entry import encode_entry
from station.clock import fixed_clock
from station.core import init_station

T0 = datetime(2026, 12, 3, tzinfo=UTC)

_INTENT = (
    "INSERT OR REPLACE INTO device_intents"
    " (intent_id, action, serial, credential_id, status, started_at, started_seq)"
    " VALUES (?, 'issue', ?, ?, 'open', ?, ?)"
)


def entry_bytes(i: int) -> bytes:
    """The bytes of event i as the station encodes them (its link aside, which has the same size)."""
    return encode_entry(
        seq=i, at=T0 + timedelta(seconds=i), type="token.issue.started", actor="carol", body=body(i),
        prev="0" * 64,
    )


def body(i: int) -> dict:
    return {"intent_id": f"bench-{i:08d}", "serial": 10_000_000 + i, "credential_id": "Token Station:alice",
            "owner": "alice", "custodian": "carol", "model": "YubiKey 5 NFC", "firmware": "5.4.3"}


class Appenders:
    """The three loops, each on its own file, each continuing where its last round stopped."""

    def __init__(self, tmp: Path) -> None:
        clock = fixed_clock(T0)
        self.station = init_station(tmp / "station", "bench", "bench passphrase", clock=clock)
        self.minimal_station = init_station(tmp / "minimal", "bench", "bench passphrase", clock=clock)
        self.bare_path = tmp / "bare.db"
        self.bare = sqlite3.connect(self.bare_path, isolation_level=None)
        self.bare.execute("PRAGMA journal_mode=WAL")
        self.bare.execute("PRAGMA synchronous=FULL")
        self.bare.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, entry BLOB)")
        self.next = {"station": 0, "minimal": 0, "bare": 0}

    def run_station(self, n: int) -> float:
        station, first = self.station, self.next["station"]
        start = time.perf_counter()
        for i in range(first, first + n):
            with station.record() as tx:
                tx.append("token.issue.started", body(i), actor="carol", at=T0 + timedelta(seconds=i))
        elapsed = time.perf_counter() - start
        self.next["station"] += n
        assert station.ledger.db["device_intents"].count == first + n  # the projection really ran
        return elapsed

    def run_minimal(self, n: int) -> float:
        ledger, first = self.minimal_station.ledger, self.next["minimal"]
        conn = ledger.db.conn
        start = time.perf_counter()
        for i in range(first, first + n):
            b = body(i)
            with ledger.atomic() as tx:
                entry = tx.append("token.issue.started", b, actor="carol", at=T0 + timedelta(seconds=i))
                conn.execute(_INTENT, (b["intent_id"], b["serial"], b["credential_id"], entry.at, entry.seq))
        elapsed = time.perf_counter() - start
        self.next["minimal"] += n
        assert conn.execute("SELECT count(*) FROM device_intents").fetchone()[0] == first + n
        return elapsed

    def run_bare(self, n: int) -> float:
        db, first = self.bare, self.next["bare"]
        raws = [entry_bytes(i) for i in range(first, first + n)]
        start = time.perf_counter()
        for i, raw in enumerate(raws, first):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO events VALUES (?, ?)", [i, raw])
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        self.next["bare"] += n
        return elapsed

    def wal_pages(self, n: int = 200) -> dict[str, float]:
        """WAL frames (pages) written per commit by each loop, counted over n commits from an empty WAL."""
        out = {}
        station, minimal = self.station.ledger, self.minimal_station.ledger
        for name, conn, path, run in (
            ("bare", self.bare, self.bare_path, self.run_bare),
            ("station", station.db.conn, station.path, self.run_station),
            ("minimal", minimal.db.conn, minimal.path, self.run_minimal),
        ):
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute("PRAGMA wal_autocheckpoint=0")  # no reset of the WAL while counting
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            run(n)
            size = Path(f"{path}-wal").stat().st_size
            out[name] = (size - 32) / (24 + page) / n  # a 32-byte header, then 24 bytes before each page
            conn.execute("PRAGMA wal_autocheckpoint=1000")
        return out

    def close(self) -> None:
        self.station.close()
        self.minimal_station.close()
        self.bare.close()


def main(n: int = 1000, rounds: int = 5) -> None:
    print(f"{n} durable appends per loop and round, one transaction each (WAL, synchronous=FULL), ms/event:")
    print("round  bare    station  minimal   ratio station  ratio minimal")
    ratios: dict[str, list[float]] = {"station": [], "minimal": []}
    cpu_totals = dict.fromkeys(("station", "minimal", "bare"), 0.0)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        apps = Appenders(Path(tmp))
        apps.run_station(50)  # warm-up of every file, not measured
        apps.run_minimal(50)
        apps.run_bare(50)
        loops: list[tuple[str, Callable[[int], float]]] = [
            ("station", apps.run_station), ("minimal", apps.run_minimal), ("bare", apps.run_bare)
        ]
        for r in range(rounds):
            # Slices of 50 events in turn, the order rotating: the disk's drift falls on all alike.
            totals = dict.fromkeys(("station", "minimal", "bare"), 0.0)
            for k in range(0, n, 50):
                shift = (k // 50 + r) % 3
                for name, run in loops[shift:] + loops[:shift]:
                    cpu = time.process_time()
                    totals[name] += run(min(50, n - k))
                    cpu_totals[name] += time.process_time() - cpu
            times = {name: total * 1e3 / n for name, total in totals.items()}
            for name in ratios:
                ratios[name].append(times["bare"] / times[name])
            print(
                f"{r + 1:5d}  {times['bare']:.3f}   {times['station']:.3f}    {times['minimal']:.3f}"
                f"     {ratios['station'][-1]:.2f}           {ratios['minimal'][-1]:.2f}"
            )
        pages = apps.wal_pages()
        apps.close()
    cpu = {name: total * 1e3 / (n * rounds) for name, total in cpu_totals.items()}
    print(
        f"CPU ms/event (the rest is waiting for the disk): bare {cpu['bare']:.3f},"
        f" station {cpu['station']:.3f}, minimal {cpu['minimal']:.3f}"
    )
    print(
        f"WAL pages per commit: bare {pages['bare']:.2f}, station {pages['station']:.2f},"
        f" minimal {pages['minimal']:.2f}"
    )
    print("rate ratio (bare time / ours), median of the rounds; target >= 0.5:")
    print(
        f"  station (entry, tree, the station's projection, signed checkpoint, commit)         "
        f"  {statistics.median(ratios['station']):.2f}"
    )
    print(
        f"  minimal (entry, tree, one prepared projection row, signed checkpoint, commit)      "
        f"  {statistics.median(ratios['minimal']):.2f}"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
