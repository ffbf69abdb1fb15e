"""The employee directory: imported from a CSV export, changed only after its diff has been seen.

`plan_directory` reads a file and compares it with the directory on record (nothing changes);
`apply_directory` records the plan's changes, refusing if the directory changed since the plan was
made, so what is applied is exactly what the operator saw. The file is the whole directory: an
employee missing from it has left (their record stays, marked left; tokens they hold are listed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import sqlite_utils

from ..core import Station
from ..errors import InputError, StationError
from ..operators.sessions import Session
from .common import today
from .directory_csv import Employee, parse_directory
from .roles import require

MASS_REMOVAL = 0.25  # an import that removes more than this share of employees needs a second look


@dataclass(frozen=True)
class Change:
    before: Employee
    after: Employee
    fields: tuple[str, ...]


@dataclass(frozen=True)
class DirectoryPlan:
    source: str
    sha256: str
    base: str  # digest of the directory on record this plan was compared with
    added: tuple[Employee, ...]
    changed: tuple[Change, ...]
    removed: tuple[Employee, ...]
    unchanged: int
    warnings: tuple[str, ...]
    leavers_holding: tuple[tuple[str, tuple[str, ...]], ...]  # (employee id, serials they hold)

    @property
    def id(self) -> str:
        """Names this exact diff: the same file against the same directory on record."""
        return hashlib.sha256(f"{self.base}:{self.sha256}".encode()).hexdigest()[:12]

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def mass_removal(self) -> bool:
        total = self.unchanged + len(self.changed) + len(self.removed)
        return len(self.removed) >= 10 and len(self.removed) > MASS_REMOVAL * total


def _current(db: sqlite_utils.Database) -> dict[str, tuple[Employee, str]]:
    rows = db.execute("SELECT id, name, department, site, grp, contractor, access_end, status FROM employees")
    return {r[0]: (Employee(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]), r[7]) for r in rows}


def _digest(current: dict[str, tuple[Employee, str]]) -> str:
    h = hashlib.sha256()
    for key in sorted(current):
        h.update(repr(current[key]).encode())
    return h.hexdigest()


def plan_directory(station: Station, data: bytes, source: str) -> DirectoryPlan:
    """Compare a directory file with the directory on record; nothing is changed."""
    employees = parse_directory(data, source)
    db = station.ledger.db
    current = _current(db)
    added, changed, unchanged = [], [], 0
    for emp in employees:
        old = current.get(emp.id)
        if old is None or old[1] != "active":
            added.append(emp)
            continue
        fields = tuple(
            f
            for f in ("name", "department", "site", "group", "contractor", "access_end")
            if getattr(old[0], f) != getattr(emp, f)
        )
        if fields:
            changed.append(Change(old[0], emp, fields))
        else:
            unchanged += 1
    listed = {e.id for e in employees}
    removed = [emp for emp, status in current.values() if status == "active" and emp.id not in listed]
    holding = []
    for emp in removed:
        serials = [
            r[0] for r in db.execute("SELECT serial FROM tokens WHERE owner = ? ORDER BY serial", [emp.id])
        ]
        if serials:
            holding.append((emp.id, tuple(serials)))
    warnings = [
        f"{e.id} is a contractor without an access end date"
        for e in employees
        if e.contractor and not e.access_end
    ]
    day = today(station.now()).isoformat()
    warnings += [
        f"{e.id}'s access ended on {e.access_end}"
        for e in employees
        if e.access_end and e.access_end < day and e.id in current
    ]
    plan = DirectoryPlan(
        source,
        hashlib.sha256(data).hexdigest(),
        _digest(current),
        tuple(added),
        tuple(changed),
        tuple(removed),
        unchanged,
        tuple(warnings),
        tuple(holding),
    )
    if plan.mass_removal:
        plan = replace(
            plan,
            warnings=(
                *plan.warnings,
                f"this import removes {len(removed)} employees of {len(removed) + len(changed) + unchanged}",
            ),
        )
    return plan


def apply_directory(
    station: Station, plan: DirectoryPlan, *, operator: Session, allow_mass_removal: bool = False
) -> int:
    """Record the plan's changes (one event per employee and a summary); the number of changes."""
    if plan.empty:
        return 0
    if plan.mass_removal and not allow_mass_removal:
        raise InputError(
            f"This import would remove {len(plan.removed)} employees at once.",
            "Check that the file is the whole directory; if it is, confirm the removals"
            " (--allow-mass-removal).",
        )
    with station.record() as tx:
        operator_id = require(tx.db, operator, "directory", station.now()).id
        if _digest(_current(tx.db)) != plan.base:
            raise StationError(
                "The directory changed since this diff was made; nothing was imported.",
                "Show the diff again and confirm the new one.",
            )
        at = station.now()
        for emp in plan.added:
            tx.append("employee.added", emp.body(), actor=operator_id, at=at)
        for change in plan.changed:
            tx.append(
                "employee.changed",
                {**change.after.body(), "changed": list(change.fields)},
                actor=operator_id,
                at=at,
            )
        for emp in plan.removed:
            tx.append("employee.left", {"id": emp.id}, actor=operator_id, at=at)
        tx.append(
            "directory.imported",
            {
                "source": plan.source,
                "sha256": plan.sha256,
                "added": len(plan.added),
                "changed": len(plan.changed),
                "removed": len(plan.removed),
            },
            actor=operator_id,
            at=at,
        )
    return len(plan.added) + len(plan.changed) + len(plan.removed)
