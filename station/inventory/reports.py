"""Named reports over the inventory: each a title, columns and rows, for the screen, JSON and CSV.

Every report is one or two SQL queries over the projection tables (indexed for them), so it answers in
well under a second on a station with 100,000 tokens and a million events (tests/bench/bench_reports.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlite_utils

from ..errors import InputError
from ..idp.schema import active
from . import metrics
from .audits import audit_schedule
from .spares import spare_levels


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[dict]

    def as_json(self) -> dict:
        return {"report": self.name, "title": self.title, "columns": list(self.columns), "rows": self.rows}


@dataclass(frozen=True)
class Options:
    on: date
    within_days: int = 30
    since: str | None = None
    until: str | None = None


Table = tuple[tuple[str, ...], list[dict]]


def _rows(db: sqlite_utils.Database, sql: str, params: list | tuple = ()) -> Table:
    cur = db.execute(sql, params)
    names = tuple(c[0] for c in cur.description)
    return names, [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def holdings_by_owner(db: sqlite_utils.Database, o: Options) -> Table:
    return _rows(
        db,
        "SELECT t.owner, e.name, e.department, e.site AS owner_site, count(*) AS tokens,"  # noqa: S608
        f" sum({active('t')}) AS active,"
        " group_concat(t.serial, ' ') AS serials FROM tokens t LEFT JOIN employees e ON e.id = t.owner"
        " WHERE t.owner IS NOT NULL GROUP BY t.owner ORDER BY t.owner",
    )


def holdings_by_custodian(db: sqlite_utils.Database, o: Options) -> Table:
    return _rows(
        db,
        "SELECT custodian, sum(status IN ('in_stock', 'returned')) AS spares,"
        " sum(status IN ('damaged', 'blocked') AND owner IS NULL) AS held_back,"
        " sum(owner IS NOT NULL) AS issued_by_them FROM tokens"
        " WHERE custodian IS NOT NULL AND status NOT IN ('retired', 'lost')"
        " GROUP BY custodian ORDER BY custodian",
    )


STATUS_COLUMNS = ("in_stock", "returned", "issuing", "issued", "blocked", "damaged", "lost", "retired")


def _by_status(db: sqlite_utils.Database, keys: str) -> Table:
    # "issued" counts every token with an owner; "active" only those the IdP confirmed it has (an
    # export confirmed, nothing newer outstanding), "awaiting_idp" the rest of them.
    sums = ", ".join(f"sum(status = '{s}') AS {s}" for s in STATUS_COLUMNS)
    idp = f"sum({active('t')}) AS active, sum(status = 'issued' AND NOT {active('t')}) AS awaiting_idp"
    return _rows(
        db,
        f"SELECT {keys}, {sums}, {idp}, count(*) AS total FROM tokens t"  # noqa: S608 - fixed names
        f" GROUP BY {keys} ORDER BY {keys}",
    )


def holdings_by_site(db: sqlite_utils.Database, o: Options) -> Table:
    return _by_status(db, "site")


def holdings_by_location(db: sqlite_utils.Database, o: Options) -> Table:
    return _by_status(db, "site, location")


def spares(db: sqlite_utils.Database, o: Options) -> Table:
    cols = ("site", "location", "kind", "minimum", "available", "shortfall", "nearest")
    return cols, [
        {
            "site": s.site,
            "location": s.location,
            "kind": s.kind,
            "minimum": s.minimum,
            "available": s.available,
            "shortfall": s.shortfall,
            "nearest": "; ".join(f"{si}{f'/{lo}' if lo else ''} ({n})" for si, lo, n in s.nearest),
        }
        for s in spare_levels(db)
    ]


def lost_damaged_blocked(db: sqlite_utils.Database, o: Options) -> Table:
    return _rows(
        db,
        "SELECT t.serial, t.kind, t.status, coalesce(t.owner, t.last_owner) AS owner, t.site,"  # noqa: S608
        " t.location, t.status_since AS since, (SELECT h.reason FROM token_history h"
        " WHERE h.serial = t.serial ORDER BY h.seq DESC LIMIT 1) AS reason,"
        f" {IDP_STATE} AS idp FROM tokens t LEFT JOIN idp_tokens i ON i.serial = t.serial"
        " WHERE t.status IN ('lost', 'damaged', 'blocked') ORDER BY t.status, t.status_since",
    )


# What the identity provider has been told, in words, for a row of tokens t joined to idp_tokens i.
IDP_STATE = (
    "CASE WHEN i.need IS NOT NULL AND i.covered_by IS NOT NULL THEN 'to ' || i.need || ': export '"
    " || i.covered_by || ' awaits confirmation'"
    " WHEN i.need IS NOT NULL THEN 'to ' || i.need || ': not exported yet'"
    " WHEN i.idp_state = 'unknown' OR i.idp_state IS NULL THEN 'never at the IdP'"
    " ELSE i.idp_state || ' (export ' || i.state_export || ')' END"
)


def idp_hand_off(db: sqlite_utils.Database, o: Options) -> Table:
    return _rows(
        db,
        "SELECT t.serial, t.kind, t.status, coalesce(t.owner, t.last_owner) AS owner, t.site,"  # noqa: S608
        f" i.need, {IDP_STATE} AS idp, i.covered_by AS export FROM idp_tokens i"
        " JOIN tokens t ON t.serial = i.serial"
        " WHERE i.need IS NOT NULL ORDER BY i.covered_by IS NOT NULL, t.site, t.serial",
    )


def contractor_expiries(db: sqlite_utils.Database, o: Options) -> Table:
    horizon = (o.on + timedelta(days=o.within_days)).isoformat()
    cols, rows = _rows(
        db,
        "SELECT t.owner, e.name, e.department, e.contractor, e.status AS employee_status,"
        " coalesce(e.access_end, t.access_end) AS access_end, group_concat(t.serial, ' ') AS serials"
        " FROM tokens t LEFT JOIN employees e ON e.id = t.owner WHERE t.owner IS NOT NULL AND"
        " (e.status = 'left' OR coalesce(e.access_end, t.access_end) <= ?)"
        " GROUP BY t.owner ORDER BY access_end, t.owner",
        [horizon],
    )
    today = o.on.isoformat()
    for r in rows:
        r["contractor"] = bool(r["contractor"])
        r["action"] = (
            "recover: left"
            if r["employee_status"] == "left"
            else "recover: access ended"
            if r["access_end"] < today
            else "expires soon"
        )
    return (*cols, "action"), rows


def audit_results(db: sqlite_utils.Database, o: Options) -> Table:
    return _rows(
        db,
        "SELECT id AS audit, site, location, status, started_by, started_at, closed_by,"
        " second_operator, closed_at, found, missing, wrong_place, unexpected FROM audits"
        " ORDER BY started_at DESC",
    )


def audit_exceptions(db: sqlite_utils.Database, o: Options) -> Table:
    return _rows(
        db,
        "SELECT r.audit_id AS audit, a.closed_at, r.serial, r.outcome, r.expected, r.counted, r.note"
        " FROM audit_results r JOIN audits a ON a.id = r.audit_id ORDER BY a.closed_at DESC, r.serial",
    )


def audits_due(db: sqlite_utils.Database, o: Options) -> Table:
    cols = ("site", "location", "every_days", "last_audit", "next_due", "overdue")
    return cols, [
        {
            "site": d.site,
            "location": d.location,
            "every_days": d.every_days,
            "last_audit": d.last_audit,
            "next_due": d.next_due.isoformat(),
            "overdue": d.overdue,
        }
        for d in audit_schedule(db, o.on)
    ]


COVERAGE = ("employees", "holders", "share_pct", "active_holders", "active_share_pct")


def rollout_departments(db: sqlite_utils.Database, o: Options) -> Table:
    return (("department", *COVERAGE), metrics.coverage(db, "department"))


def rollout_sites(db: sqlite_utils.Database, o: Options) -> Table:
    return (("site", *COVERAGE), metrics.coverage(db, "site"))


def rollout_summary(db: sqlite_utils.Database, o: Options) -> Table:
    return (("metric", "value", "detail"), metrics.summary(db, o.since, o.until))


REPORTS: dict[str, tuple[str, Callable[[sqlite_utils.Database, Options], list[dict]]]] = {
    "holdings-by-owner": ("Tokens held, by owner", holdings_by_owner),
    "holdings-by-custodian": ("Tokens in each custodian's care", holdings_by_custodian),
    "holdings-by-site": ("Tokens by site and state", holdings_by_site),
    "holdings-by-location": ("Tokens by storage location and state", holdings_by_location),
    "spares": ("Spare levels and the nearest spares", spares),
    "lost-damaged-blocked": ("Lost, damaged and blocked tokens", lost_damaged_blocked),
    "idp-hand-off": ("Changes the identity provider has not confirmed yet", idp_hand_off),
    "contractor-expiries": ("Tokens to recover: leavers and access end dates", contractor_expiries),
    "audit-results": ("Audits and their results", audit_results),
    "audit-exceptions": ("Missing, misplaced and unexpected tokens found by audits", audit_exceptions),
    "audits-due": ("Next audit dates, overdue first", audits_due),
    "rollout-departments": ("Share of employees with a hardware token, by department", rollout_departments),
    "rollout-sites": ("Share of employees with a hardware token, by site", rollout_sites),
    "rollout-summary": ("Rollout metrics", rollout_summary),
}


def run_report(db: sqlite_utils.Database, name: str, options: Options) -> Report:
    if name not in REPORTS:
        raise InputError(f"There is no report {name!r}.", f"Reports: {', '.join(REPORTS)}.")
    title, fn = REPORTS[name]
    columns, rows = fn(db, options)
    return Report(name, title, columns, rows)


def _safe_cell(value: object) -> object:
    # A cell starting with = + - @ (or a tab/CR) is a formula to a spreadsheet: a name from the
    # directory must not become one (OWASP CSV injection), so it is quoted with a leading apostrophe.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_safe_cell(row[c]) for c in report.columns])
    return out.getvalue()
