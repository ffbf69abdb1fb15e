"""Projection handlers for sites, locations, operators, the employee directory and spare levels."""

from __future__ import annotations

import sqlite_utils

from ledger.entry import Entry


def on_station_initialised(db: sqlite_utils.Database, e: Entry) -> None:
    # The station's home site and its first admin come with the genesis event.
    b = e.body
    db.execute(
        "INSERT OR REPLACE INTO sites (id, name, added_at) VALUES (?, ?, ?)", [b["site"], b["site"], e.at]
    )
    admin = b.get("admin", e.actor)
    db.execute(
        "INSERT OR REPLACE INTO operators (id, name, roles, status, enrolled_by, enrolled_at, updated_at)"
        " VALUES (?, ?, 'admin', 'active', ?, ?, ?)",
        [admin, admin, e.actor, e.at, e.at],
    )


def on_site_added(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "INSERT OR REPLACE INTO sites (id, name, region, audit_every_days, added_at) VALUES (?, ?, ?, ?, ?)",
        [b["site"], b["name"], b.get("region"), b.get("audit_every_days"), e.at],
    )


def on_site_changed(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "UPDATE sites SET name = ?, region = ?, audit_every_days = ? WHERE id = ?",
        [b["name"], b.get("region"), b.get("audit_every_days"), b["site"]],
    )


def on_location_added(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "INSERT OR REPLACE INTO locations (id, site, kind, name, audit_every_days, added_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [b["location"], b["site"], b["kind"], b["name"], b.get("audit_every_days"), e.at],
    )


def on_location_changed(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "UPDATE locations SET kind = ?, name = ?, audit_every_days = ? WHERE id = ?",
        [b["kind"], b["name"], b.get("audit_every_days"), b["location"]],
    )


def on_operator_enrolled(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "INSERT OR REPLACE INTO operators (id, name, roles, status, enrolled_by, enrolled_at, updated_at,"
        " break_glass) VALUES (?, ?, ?, 'active', ?, ?, ?, ?)",
        [
            b["operator"],
            b["name"],
            ",".join(sorted(b["roles"])),
            e.actor,
            e.at,
            e.at,
            int(b.get("break_glass", 0)),
        ],
    )


def on_operator_changed(db: sqlite_utils.Database, e: Entry) -> None:
    # A change of roles reactivates a deactivated operator, but never unlocks a locked one: that
    # takes two operators (operator.unlocked).
    b = e.body
    db.execute(
        "UPDATE operators SET name = ?, roles = ?, updated_at = ?,"
        " status = CASE status WHEN 'deactivated' THEN 'active' ELSE status END WHERE id = ?",
        [b["name"], ",".join(sorted(b["roles"])), e.at, b["operator"]],
    )


def on_operator_deactivated(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE operators SET status = 'deactivated', updated_at = ? WHERE id = ?", [e.at, e.body["operator"]]
    )


EMPLOYEE_FIELDS = ("name", "department", "site", "group", "contractor", "access_end")


def _employee_row(b: dict, at: str) -> list:
    return [
        b["id"],
        b["name"],
        b["department"],
        b["site"],
        b["group"],
        int(b["contractor"]),
        b["access_end"],
        at,
    ]


def on_employee_added(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "INSERT OR REPLACE INTO employees (id, name, department, site, grp, contractor, access_end, status,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?)",
        _employee_row(e.body, e.at),
    )


def on_employee_changed(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "UPDATE employees SET name = ?, department = ?, site = ?, grp = ?, contractor = ?, access_end = ?,"
        " status = 'active', updated_at = ? WHERE id = ?",
        _employee_row(b, e.at)[1:] + [b["id"]],
    )
    # Tokens carry their holder's access end date; a new date in the directory moves with it.
    db.execute("UPDATE tokens SET access_end = ? WHERE owner = ?", [b["access_end"], b["id"]])


def on_employee_left(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute("UPDATE employees SET status = 'left', updated_at = ? WHERE id = ?", [e.at, e.body["id"]])


def on_directory_imported(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "INSERT INTO directory_imports (seq, at, actor, source, sha256, added, changed, removed)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [e.seq, e.at, e.actor, b["source"], b["sha256"], b["added"], b["changed"], b["removed"]],
    )


def on_spare_level_set(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    key = [b["site"], b.get("location") or "", b.get("kind") or ""]
    if b["minimum"] == 0:
        db.execute("DELETE FROM spare_levels WHERE site = ? AND location = ? AND kind = ?", key)
        return
    db.execute(
        "INSERT OR REPLACE INTO spare_levels (site, location, kind, minimum, set_by, set_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        key + [b["minimum"], e.actor, e.at],
    )


HANDLERS = {
    "station.initialised": on_station_initialised,
    "site.added": on_site_added,
    "site.changed": on_site_changed,
    "location.added": on_location_added,
    "location.changed": on_location_changed,
    "operator.enrolled": on_operator_enrolled,
    "operator.changed": on_operator_changed,
    "operator.deactivated": on_operator_deactivated,
    "employee.added": on_employee_added,
    "employee.changed": on_employee_changed,
    "employee.left": on_employee_left,
    "directory.imported": on_directory_imported,
    "spares.level_set": on_spare_level_set,
}
