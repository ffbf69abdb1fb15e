"""Physical counts: an auditor counts the tokens at a site or location and the station reconciles.

Reconciliation compares the serials counted with what the inventory says should be there (tokens at
the desk in that place: in stock, returned, damaged, or blocked without a holder):
- found: expected and counted (in the place it was counted in);
- missing: expected, not counted;
- wrong place: counted, but recorded at another location or site;
- unexpected: counted, but unknown, or held by an owner, lost or retired on record.
Closing records the result, signed off by the auditor (and a second operator if present), as one
ledger event; the count of each place sets its last-audit date, from which the next one is due.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlite_utils

from ..core import Station
from ..errors import InputError
from ..operators.approvals import append_two_person
from ..operators.sessions import Session
from .common import NotFound, clean_serial, resolve_place, today
from .roles import require, require_second
from .states import describe

AT_DESK = ("in_stock", "returned", "damaged", "blocked")
MAX_COUNT = 100_000


@dataclass(frozen=True)
class AuditResult:
    audit: str
    site: str
    location: str | None
    found: tuple[str, ...]
    missing: tuple[dict, ...]
    wrong_place: tuple[dict, ...]
    unexpected: tuple[dict, ...]

    def exceptions(self) -> list[dict]:
        return [*self.missing, *self.wrong_place, *self.unexpected]


def _audit(db: sqlite_utils.Database, audit_id: str) -> dict:
    cur = db.execute("SELECT * FROM audits WHERE id = ?", [audit_id])
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"There is no audit {audit_id}.", "List audits with 'station report audit-results'.")
    return dict(zip([c[0] for c in cur.description], row, strict=True))


def _open(db: sqlite_utils.Database, audit_id: str) -> dict:
    audit = _audit(db, audit_id)
    if audit["status"] != "open":
        raise InputError(f"Audit {audit_id} was closed at {audit['closed_at']}.", "Start a new audit.")
    return audit


def start_audit(
    station: Station, *, operator: Session, site: str | None = None, location: str | None = None
) -> str:
    """Open a count for a whole site or one location; returns the audit id."""
    with station.record() as tx:
        operator_id = require(tx.db, operator, "audit", station.now()).id
        site, location = resolve_place(tx.db, station.config.site, site, location)
        clash = tx.db.execute(
            "SELECT id FROM audits WHERE status = 'open' AND site = ? AND"
            " (location IS ? OR location IS NULL OR ? IS NULL)",
            [site, location, location],
        )
        row = clash.fetchone()
        if row is not None:
            raise InputError(
                f"Audit {row[0]} is still open for this place.",
                f"Close it first: station audit close {row[0]}.",
            )
        audit_id = f"audit-{today(station.now()).strftime('%Y%m%d')}-{os.urandom(3).hex()}"
        tx.append(
            "audit.started",
            {"audit": audit_id, "site": site, "location": location},
            actor=operator_id,
            at=station.now(),
        )
    return audit_id


def count(
    station: Station, audit_id: str, serials: Iterable[str], *, operator: Session, location: str | None = None
) -> int:
    """Record serials scanned or typed during a count; a serial counted twice counts once."""
    wanted = list(dict.fromkeys(clean_serial(s) for s in serials))
    if not wanted:
        raise InputError("No serials were given.", "Scan or type the serials of the tokens present.")
    if len(wanted) > MAX_COUNT:
        raise InputError(
            f"{len(wanted)} serials at once is too many.", f"Count at most {MAX_COUNT} per batch."
        )
    with station.record() as tx:
        operator_id = require(tx.db, operator, "audit", station.now()).id
        audit = _open(tx.db, audit_id)
        if location is not None:
            site, location = resolve_place(tx.db, station.config.site, None, location)
            if site != audit["site"] or (audit["location"] and location != audit["location"]):
                raise InputError(
                    f"Location {location} is not part of audit {audit_id}.",
                    "Count tokens in the audited place only.",
                )
        else:
            location = audit["location"]
        tx.append(
            "audit.counted",
            {"audit": audit_id, "serials": wanted, "location": location},
            actor=operator_id,
            at=station.now(),
        )
    return len(wanted)


def reconcile_audit(db: sqlite_utils.Database, audit_id: str) -> AuditResult:
    """Compare the count with the inventory; changes nothing (closing records it)."""
    audit = _audit(db, audit_id)
    site, location = audit["site"], audit["location"]
    here = "t.site = ?" + (" AND t.location = ?" if location else "")
    params = [site, *([location] if location else [])]
    marks = ", ".join("?" * len(AT_DESK))
    expected_sql = f"t.status IN ({marks}) AND t.owner IS NULL AND {here}"
    missing = tuple(
        {"serial": r[0], "outcome": "missing", "expected": _place(site, r[1]), "counted": None, "note": None}
        for r in db.execute(
            f"SELECT t.serial, t.location FROM tokens t WHERE {expected_sql} AND NOT EXISTS"  # noqa: S608
            " (SELECT 1 FROM audit_counts c WHERE c.audit_id = ? AND c.serial = t.serial) ORDER BY t.serial",
            [*AT_DESK, *params, audit_id],
        )
    )
    found, wrong, unexpected = [], [], []
    cols = "c.serial, c.location, t.serial, t.status, t.owner, t.site, t.location, t.last_owner"
    rows = db.execute(
        f"SELECT {cols} FROM audit_counts c LEFT JOIN tokens t ON t.serial = c.serial"  # noqa: S608
        " WHERE c.audit_id = ? ORDER BY c.serial",
        [audit_id],
    )
    for serial, counted_at, known, status, owner, t_site, t_loc, _last in rows:
        counted = _place(site, counted_at)
        if known is None:
            unexpected.append(_item(serial, "unexpected", None, counted, "not in the inventory"))
        elif status not in AT_DESK or owner is not None:
            token = {"serial": serial, "status": status, "owner": owner, "site": t_site, "location": t_loc}
            unexpected.append(_item(serial, "unexpected", None, counted, f"on record as {describe(token)}"))
        elif t_site != site or (location and t_loc != location) or (counted_at and t_loc != counted_at):
            wrong.append(_item(serial, "wrong_place", _place(t_site, t_loc), counted, None))
        else:
            found.append(serial)
    return AuditResult(audit_id, site, location, tuple(found), missing, tuple(wrong), tuple(unexpected))


def _place(site: str, location: str | None) -> str:
    return f"{site}/{location}" if location else site


def _item(serial: str, outcome: str, expected: str | None, counted: str, note: str | None) -> dict:
    return {"serial": serial, "outcome": outcome, "expected": expected, "counted": counted, "note": note}


def close_audit(
    station: Station,
    audit_id: str,
    *,
    operator: Session,
    second_operator: Session | None = None,
    note: str | None = None,
) -> AuditResult:
    """Reconcile and sign off: one event with the counts and every exception."""
    with station.record() as tx:
        operator_id = require(tx.db, operator, "audit", station.now()).id
        _open(tx.db, audit_id)
        result = reconcile_audit(tx.db, audit_id)
        body = {
            "audit": audit_id,
            "found": len(result.found),
            "missing": len(result.missing),
            "wrong_place": len(result.wrong_place),
            "unexpected": len(result.unexpected),
            "exceptions": result.exceptions(),
            "note": note,
        }
        if second_operator is not None:
            require_second(tx.db, operator, second_operator, "witness", station.now())
            append_two_person(
                tx, station, "audit.closed", body, first=operator, second=second_operator, at=station.now()
            )
        else:
            tx.append("audit.closed", body, actor=operator_id, at=station.now())
    return result


@dataclass(frozen=True)
class AuditDue:
    site: str
    location: str | None
    every_days: int
    last_audit: str | None
    next_due: date
    overdue: bool


def audit_schedule(db: sqlite_utils.Database, on: date) -> list[AuditDue]:
    """Every place with an audit interval: when it was last counted, when the next count is due."""
    out = []
    rows = db.execute(
        "SELECT id, NULL, audit_every_days, audited_at, added_at FROM sites"
        " WHERE audit_every_days IS NOT NULL UNION ALL"
        " SELECT site, id, audit_every_days, audited_at, added_at FROM locations"
        " WHERE audit_every_days IS NOT NULL ORDER BY 1, 2"
    )
    for site, location, every, audited, added in rows.fetchall():
        since = date.fromisoformat((audited or added)[:10])
        due = since + timedelta(days=every)
        out.append(AuditDue(site, location, every, audited, due, due < on))
    return out
