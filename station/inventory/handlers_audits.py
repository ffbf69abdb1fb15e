"""Projection handlers for physical counts: start, counted serials, and the signed-off result."""

from __future__ import annotations

import sqlite_utils

from ledger.entry import Entry


def on_started(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "INSERT INTO audits (id, site, location, status, started_by, started_at)"
        " VALUES (?, ?, ?, 'open', ?, ?)",
        [b["audit"], b["site"], b.get("location"), e.actor, e.at],
    )


def on_counted(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.conn.executemany(
        "INSERT OR IGNORE INTO audit_counts (audit_id, serial, location, counted_by, counted_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [(b["audit"], s, b.get("location"), e.actor, e.at) for s in b["serials"]],
    )


def on_closed(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "UPDATE audits SET status = 'closed', closed_by = ?, second_operator = ?, closed_at = ?, found = ?,"
        " missing = ?, unexpected = ?, wrong_place = ? WHERE id = ?",
        [
            e.actor,
            b.get("second_operator"),
            e.at,
            b["found"],
            b["missing"],
            b["unexpected"],
            b["wrong_place"],
            b["audit"],
        ],
    )
    db.conn.executemany(
        "INSERT OR REPLACE INTO audit_results (audit_id, serial, outcome, expected, counted, note)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (b["audit"], r["serial"], r["outcome"], r.get("expected"), r.get("counted"), r.get("note"))
            for r in b["exceptions"]
        ],
    )
    site, location = db.execute("SELECT site, location FROM audits WHERE id = ?", [b["audit"]]).fetchone()
    if location is None:  # a whole-site count covers every location of the site
        db.execute("UPDATE sites SET audited_at = ? WHERE id = ?", [e.at, site])
        db.execute("UPDATE locations SET audited_at = ? WHERE site = ?", [e.at, site])
    else:
        db.execute("UPDATE locations SET audited_at = ? WHERE id = ?", [e.at, location])


HANDLERS = {
    "audit.started": on_started,
    "audit.counted": on_counted,
    "audit.closed": on_closed,
}
