"""Benchmark: audit reconciliation and every report on 100,000 tokens and 1,000,000 ledger events.

Run: .venv/bin/python tests/bench/bench_reports.py [DIR]
The station is built in DIR (default /tmp/token-station-bench) the first time (several minutes; see
inventory_data.py) and reused after. Each report must answer in under 1 s; the ratio to a plain SQL
query over the same tables (the bare aggregate, no Python around it) is printed, measured in this run.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import inventory_data  # noqa: E402

from station.core import Station  # noqa: E402
from station.inventory.audits import count, reconcile_audit, start_audit  # noqa: E402
from station.inventory.reports import REPORTS, Options, run_report  # noqa: E402

LIMIT = 1.0
ON = date(2027, 3, 1)
AT_DESK = "('in_stock', 'returned', 'damaged', 'blocked')"
PLAIN = {
    "holdings-by-owner": "SELECT owner, count(*), group_concat(serial, ' ') FROM tokens"
    " WHERE owner IS NOT NULL GROUP BY owner",
    "holdings-by-custodian": "SELECT custodian, status, count(*) FROM tokens GROUP BY custodian, status",
    "holdings-by-site": "SELECT site, status, count(*) FROM tokens GROUP BY site, status",
    "holdings-by-location": "SELECT site, location, status, count(*) FROM tokens"
    " GROUP BY site, location, status",
    "spares": "SELECT site, location, kind, count(*) FROM tokens WHERE status IN ('in_stock', 'returned')"
    " GROUP BY site, location, kind",
    "lost-damaged-blocked": "SELECT * FROM tokens WHERE status IN ('lost', 'damaged', 'blocked')",
    "contractor-expiries": "SELECT t.owner, e.access_end FROM tokens t JOIN employees e ON e.id = t.owner"
    " WHERE e.access_end <= '2027-03-31' OR e.status = 'left'",
    "audit-results": "SELECT * FROM audits",
    "audit-exceptions": "SELECT * FROM audit_results",
    "audits-due": "SELECT * FROM locations WHERE audit_every_days IS NOT NULL",
    "rollout-departments": "SELECT department, count(*), sum(id IN (SELECT owner FROM tokens)) FROM employees"
    " WHERE status = 'active' GROUP BY department",
    "rollout-sites": "SELECT site, count(*), sum(id IN (SELECT owner FROM tokens)) FROM employees"
    " WHERE status = 'active' GROUP BY site",
    "rollout-summary": "SELECT kind, count(*), avg(julianday(replaced_at) - julianday(reported_at))"
    " FROM incidents GROUP BY kind",
}


def best(fn: Callable[[], object], runs: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(where: Path) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        return run(inventory_data.open_copy(where, Path(scratch)))


def run(station: Station) -> int:
    db = station.ledger.db
    tokens = db.execute("SELECT count(*) FROM tokens").fetchone()[0]
    print(f"station: {tokens} tokens, {station.ledger.size()} ledger events\n")
    print(f"{'':<24}{'rows':>8}{'ours ms':>10}{'plain SQL ms':>14}{'ratio':>8}  under 1 s")
    failures = 0

    def line(name: str, rows: int, ours: float, plain: float) -> None:
        nonlocal failures
        ok = ours < LIMIT
        failures += not ok
        verdict = "yes" if ok else "NO"
        print(f"{name:<24}{rows:>8}{ours * 1e3:>10.1f}{plain * 1e3:>14.1f}{ours / plain:>8.2f}  {verdict}")

    for name in REPORTS:
        ours, report = best(lambda n=name: run_report(db, n, Options(on=ON)))
        plain, _ = best(lambda n=name: db.execute(PLAIN[n]).fetchall())
        line(name, len(report.rows), ours, plain)

    # A count of the big store: all but 1,000 present, 300 from elsewhere, 50 unknown serials.
    store = [
        r[0]
        for r in db.execute(
            f"SELECT serial FROM tokens WHERE location = ? AND status IN {AT_DESK}", [inventory_data.BIG]
        )
    ]
    elsewhere = [
        r[0]
        for r in db.execute(
            "SELECT serial FROM tokens WHERE location != ? AND status = 'in_stock' LIMIT 300",
            [inventory_data.BIG],
        )
    ]
    aud = inventory_data.sign_in(station, "aud")
    audit = start_audit(station, operator=aud, location=inventory_data.BIG)
    count(station, audit, store[1000:] + elsewhere + [f"NOPE-{i}" for i in range(50)], operator=aud)
    ours, result = best(lambda: reconcile_audit(db, audit))
    plain, _ = best(
        lambda: (
            db.execute(
                f"SELECT serial FROM tokens WHERE location = ? AND status IN {AT_DESK}", [inventory_data.BIG]
            ).fetchall(),
            db.execute(
                "SELECT c.serial, t.location FROM audit_counts c LEFT JOIN tokens t"
                " ON t.serial = c.serial WHERE c.audit_id = ?",
                [audit],
            ).fetchall(),
        )
    )
    assert (len(result.missing), len(result.wrong_place), len(result.unexpected)) == (1000, 300, 50), result
    line(f"audit ({len(store)} here)", len(result.found), ours, plain)
    station.close()
    print("\nall under 1 s" if not failures else f"\n{failures} over 1 s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/token-station-bench")))
