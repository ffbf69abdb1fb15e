"""Rebuild the inventory from the ledger alone, or check that a rebuild equals the live tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import sqlite_utils

from .. import projection
from ..core import Station
from ..errors import StationError

SHOWN = 5  # differing rows named per table


def check_rebuild(station: Station) -> list[str]:
    """Replay the ledger into a scratch database and compare every table; one line per difference."""
    scratch = sqlite_utils.Database(sqlite3.connect(":memory:"))
    try:
        projection.rebuild(scratch, station.ledger.entries())
        live, rebuilt = projection.snapshot(station.ledger.db), projection.snapshot(scratch)
    finally:
        scratch.close()
    problems = []
    for name in projection.TABLES:
        have = {tuple(sorted(r.items())) for r in live[name]}
        want = {tuple(sorted(r.items())) for r in rebuilt[name]}
        for label, rows in (
            ("only in the live table", have - want),
            ("missing from the live table", want - have),
        ):
            for row in sorted(rows, key=repr)[:SHOWN]:
                problems.append(f"{name}: {label}: {dict(row)}")
            if len(rows) > SHOWN:
                problems.append(f"{name}: {len(rows) - SHOWN} more rows {label}")
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
