"""The rollout metrics a 2FA programme is judged by, from the projection (never by re-reading the ledger).

- coverage: share of current employees holding a hardware token, by department and by site;
- lost or damaged tokens per 100 holders, and support requests (replacements, resets) per 100 users,
  over a period;
- time to replace a lost token: from the loss report to the next token issued to the same owner
  (issue 7's guided replacement ends in exactly that issue), average and 90th percentile.
A holder is an employee (or, without a directory, any owner) holding an issued or blocked token; an
active holder holds a token that is active at the identity provider (its export confirmed, see
station/idp/schema.py): until then the token cannot be used to sign in, so it does not count as cover.
"""

from __future__ import annotations

import math

import sqlite_utils

from ..idp.schema import active

HOLDERS = "SELECT DISTINCT owner FROM tokens WHERE owner IS NOT NULL"
ACTIVE_HOLDERS = f"SELECT DISTINCT owner FROM tokens t WHERE {active('t')}"  # noqa: S608 - fixed SQL


def coverage(db: sqlite_utils.Database, by: str) -> list[dict]:
    """Employees, holders and the share holding a token, per department or site."""
    column = {"department": "department", "site": "site"}[by]
    rows = db.execute(
        f"SELECT e.{column}, count(*), sum(EXISTS (SELECT 1 FROM tokens t WHERE t.owner = e.id)),"  # noqa: S608
        f" sum(EXISTS (SELECT 1 FROM tokens t WHERE t.owner = e.id AND {active('t')}))"
        f" FROM employees e WHERE e.status = 'active' GROUP BY e.{column} ORDER BY e.{column}"
    )
    return [
        {by: key or "(none)", "employees": n, "holders": held, "share_pct": round(100 * held / n, 1),
         "active_holders": live, "active_share_pct": round(100 * live / n, 1)}
        for key, n, held, live in rows.fetchall()
    ]


def _period(since: str | None, until: str | None, column: str) -> tuple[str, list[str]]:
    clauses, params = [], []
    if since:
        clauses.append(f"{column} >= ?")
        params.append(since)
    if until:
        clauses.append(f"{column} < ?")
        params.append(until)
    return (" AND " + " AND ".join(clauses) if clauses else ""), params


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least pct% of values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summary(db: sqlite_utils.Database, since: str | None = None, until: str | None = None) -> list[dict]:
    """One row per metric: name, value and what it is made of."""
    holders = db.execute(f"SELECT count(*) FROM ({HOLDERS})").fetchone()[0]  # noqa: S608
    active_holders = db.execute(f"SELECT count(*) FROM ({ACTIVE_HOLDERS})").fetchone()[0]  # noqa: S608
    awaiting = db.execute(
        f"SELECT count(*) FROM tokens t WHERE t.status = 'issued' AND NOT {active('t')}"  # noqa: S608
    ).fetchone()[0]
    pending = db.execute("SELECT count(*) FROM idp_exports WHERE status = 'pending'").fetchone()[0]
    employees = db.execute("SELECT count(*) FROM employees WHERE status = 'active'").fetchone()[0]
    users = employees or holders
    where, params = _period(since, until, "reported_at")
    incidents = db.execute(f"SELECT count(*) FROM incidents WHERE 1=1{where}", params).fetchone()[0]  # noqa: S608
    where_s, params_s = _period(since, until, "at")
    support = db.execute(
        f"SELECT count(*) FROM support_requests WHERE 1=1{where_s}",  # noqa: S608
        params_s,
    ).fetchone()[0]
    lost = "FROM incidents WHERE kind = 'lost' AND owner IS NOT NULL" + where
    took = "(julianday(replaced_at) - julianday(reported_at)) * 1440"
    minutes = [r[0] for r in db.execute(f"SELECT {took} {lost} AND replaced_at IS NOT NULL", params)]  # noqa: S608
    waiting = db.execute(f"SELECT count(*) {lost} AND replaced_at IS NULL", params).fetchone()[0]  # noqa: S608

    def per100(n: int, base: int) -> float | None:
        return round(100 * n / base, 2) if base else None

    avg = round(sum(minutes) / len(minutes), 1) if minutes else None
    p90 = percentile(minutes, 90)
    return [
        {"metric": "employees", "value": employees, "detail": "in the directory, not left"},
        {"metric": "holders", "value": holders, "detail": "people holding an issued token"},
        {
            "metric": "coverage_pct",
            "value": per100(min(holders, employees), employees),
            "detail": "share of employees holding a token",
        },
        {"metric": "active_holders", "value": active_holders,
         "detail": "people holding a token the identity provider confirmed it has"},
        {
            "metric": "active_coverage_pct",
            "value": per100(min(active_holders, employees), employees),
            "detail": "share of employees holding a token active at the identity provider",
        },
        {"metric": "issued_awaiting_idp", "value": awaiting,
         "detail": "issued tokens whose export the identity provider has not confirmed"},
        {"metric": "idp_exports_pending", "value": pending, "detail": "exports awaiting confirmation"},
        {
            "metric": "lost_or_damaged_per_100_holders",
            "value": per100(incidents, holders),
            "detail": f"{incidents} lost or damaged reports",
        },
        {
            "metric": "support_requests_per_100_users",
            "value": per100(support, users),
            "detail": f"{support} replacements and resets",
        },
        {"metric": "replace_lost_avg_minutes", "value": avg, "detail": f"{len(minutes)} replacements"},
        {
            "metric": "replace_lost_p90_minutes",
            "value": None if p90 is None else round(p90, 1),
            "detail": "90th percentile, nearest rank",
        },
        {"metric": "lost_awaiting_replacement", "value": waiting, "detail": "owners without a new token yet"},
    ]
