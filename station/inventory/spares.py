"""Spare levels: the minimum number of ready tokens per site or storage location, and where to find more.

A spare is a token ready to issue (in stock, or returned). A level is set per site (all its
locations together) or per location, optionally per kind of token. When a place falls under its level
the station warns and names the nearest spares: other locations of the same site first, then sites of
the same region, then the rest, fullest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from ..core import Station
from ..errors import InputError
from ..operators.sessions import Session
from .common import clean_id, resolve_place
from .roles import require

KINDS = ("yubikey", "oath")
MAX_LEVEL = 100_000
SPARE_STATES = ("in_stock", "returned")


@dataclass(frozen=True)
class SpareLevel:
    site: str
    location: str | None
    kind: str | None
    minimum: int
    available: int
    nearest: tuple[tuple[str, str | None, int], ...] = ()  # (site, location, spares) when short

    @property
    def shortfall(self) -> int:
        return max(0, self.minimum - self.available)


def set_spare_level(
    station: Station,
    *,
    minimum: int,
    operator: Session,
    site: str | None = None,
    location: str | None = None,
    kind: str | None = None,
) -> SpareLevel:
    """Set (or with 0, remove) the minimum number of spares for a site or location."""
    if not 0 <= minimum <= MAX_LEVEL:
        raise InputError(
            f"A spare level of {minimum} is out of range.", f"Give 0 to {MAX_LEVEL} (0 removes it)."
        )
    if kind is not None and kind not in KINDS:
        raise InputError(f"{kind!r} is not a kind of token.", f"Use one of: {', '.join(KINDS)}.")
    if site is None and location is None:
        raise InputError("A spare level needs a site or a location.", "Give --site or --location.")
    with station.record() as tx:
        operator_id = require(tx.db, operator, "spares", station.now()).id
        site, location = resolve_place(tx.db, station.config.site, site and clean_id("site", site), location)
        tx.append(
            "spares.level_set",
            {"site": site, "location": location, "kind": kind, "minimum": minimum},
            actor=operator_id,
            at=station.now(),
        )
    return next(
        (
            s
            for s in spare_levels(station.ledger.db)
            if (s.site, s.location, s.kind) == (site, location, kind)
        ),
        SpareLevel(site, location, kind, 0, 0),
    )


def _spares(db: sqlite_utils.Database) -> dict[tuple[str, str | None, str], int]:
    rows = db.execute(
        "SELECT site, location, kind, count(*) FROM tokens WHERE status IN (?, ?)"
        " GROUP BY site, location, kind",
        SPARE_STATES,
    )
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def _nearest(
    db: sqlite_utils.Database, counts: dict, site: str, location: str | None, kind: str | None
) -> tuple[tuple[str, str | None, int], ...]:
    regions = dict(db.execute("SELECT id, region FROM sites").fetchall())
    places: dict[tuple[str, str | None], int] = {}
    for (s, loc, k), n in counts.items():
        if (kind is None or k == kind) and not (s == site and (location is None or loc == location)):
            places[(s, loc)] = places.get((s, loc), 0) + n

    def rank(item: tuple[tuple[str, str | None], int]) -> tuple:
        (s, _loc), n = item
        same_region = regions.get(s) is not None and regions.get(s) == regions.get(site)
        return (s != site, not same_region, -n, s, _loc or "")

    return tuple((s, loc, n) for (s, loc), n in sorted(places.items(), key=rank)[:5])


def spare_levels(db: sqlite_utils.Database) -> list[SpareLevel]:
    """Every level set, with the spares available now and, when short, the nearest spares elsewhere."""
    counts = _spares(db)
    out = []
    levels = db.execute(
        "SELECT site, location, kind, minimum FROM spare_levels ORDER BY site, location, kind"
    )
    for site, location, kind, minimum in levels.fetchall():
        location, kind = location or None, kind or None
        available = sum(
            n
            for (s, loc, k), n in counts.items()
            if s == site and (location is None or loc == location) and (kind is None or k == kind)
        )
        nearest = _nearest(db, counts, site, location, kind) if available < minimum else ()
        out.append(SpareLevel(site, location, kind, minimum, available, nearest))
    return out


def spare_warnings(db: sqlite_utils.Database) -> list[str]:
    """One sentence per place under its level, naming where the nearest spares are."""
    lines = []
    for level in spare_levels(db):
        if not level.shortfall:
            continue
        place = level.site + (f"/{level.location}" if level.location else "")
        what = f"{level.kind} spares" if level.kind else "spares"
        near = (
            ", ".join(f"{s}{f'/{loc}' if loc else ''} ({n})" for s, loc, n in level.nearest)
            or "none anywhere"
        )
        lines.append(
            f"{place} has {level.available} {what}, under its minimum of {level.minimum}; nearest: {near}"
        )
    return lines

