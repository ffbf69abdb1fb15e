"""Rebuild the inventory from the ledger alone, or check that a rebuild equals the live tables.

The check replays the ledger into a scratch database beside nothing else and compares the tables in
SQL (EXCEPT both ways), so a station with a million events is checked without holding its tables in
memory.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from .. import projection
from ..core import Station
from ..errors import StationError

SHOWN = 5  # differing rows named per table and direction


def check_rebuild(station: Station) -> list[str]:
    """One line per difference between the live tables and a replay of the ledger (none: they agree)."""
    live = Path(station.ledger.path).resolve().as_uri() + "?mode=ro"
    with tempfile.TemporaryDirectory(prefix="station-rebuild-") as tmp:
        scratch = sqlite_utils.Database(sqlite3.connect(Path(tmp) / "rebuilt.db", uri=True))
        try:
            scratch.execute("PRAGMA synchronous=OFF")
            projection.rebuild(scratch, station.ledger.entries())
            scratch.execute("ATTACH DATABASE ? AS live", [live])
            return _differences(scratch)
        finally:
            scratch.close()


def _differences(db: sqlite_utils.Database) -> list[str]:
    problems = []
    for name in projection.TABLES:
        for label, a, b in (
            ("only in the live table", "live", "main"),
            ("missing from the live table", "main", "live"),
        ):
            query = f"SELECT * FROM {a}.[{name}] EXCEPT SELECT * FROM {b}.[{name}]"  # noqa: S608 - fixed names
            cur = db.execute(query + f" LIMIT {SHOWN}")
            columns = [c[0] for c in cur.description]
            for row in cur.fetchall():
                problems.append(f"{name}: {label}: {dict(zip(columns, row, strict=True))}")
            total = db.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]  # noqa: S608
            if total > SHOWN:
                problems.append(f"{name}: {total - SHOWN} more rows {label}")
    return problems


def rebuild_in_place(station: Station) -> int:
    """Drop the inventory tables and fill them again from the ledger; the number of entries read."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    read = 0

    def counted() -> Iterator:
        nonlocal read
        for entry in station.ledger.entries():
            read += 1
            yield entry

    projection.rebuild(station.ledger.db, counted())
    return read
