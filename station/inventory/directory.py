"""The employee directory: imported from a CSV export, changed only after its diff has been seen.

`plan_directory` reads a file and compares it with the directory on record (nothing changes);
`apply_directory` records the plan's changes, refusing if the directory changed since the plan was
made, so what is applied is exactly what the operator saw. The file is the whole directory: an
employee missing from it has left (their record stays, marked left; tokens they hold are listed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from dataclasses import dataclass, replace
from datetime import date

import sqlite_utils

from ..core import Station
from ..errors import InputError, StationError
from .common import today
from .intake import EntriesRejected, Reject
from .roles import require

MAX_BYTES = 50 * 1024 * 1024
MASS_REMOVAL = 0.25  # an import that removes more than this share of employees needs a second look
COLUMNS = {
    "id": ("id", "employee_id", "employee id", "emp_id", "personnel_number"),
    "name": ("name", "full_name", "full name", "display_name"),
    "department": ("department", "dept"),
    "site": ("site", "branch"),
    "group": ("group", "role", "role_or_group"),
    "contractor": ("contractor", "is_contractor"),
    "access_end": ("access_end", "access_end_date", "access end date", "end_date"),
}
TRUE, FALSE = ("1", "yes", "y", "true", "x"), ("", "0", "no", "n", "false")


@dataclass(frozen=True)
class Employee:
    id: str
    name: str
    department: str
    site: str
    group: str
    contractor: bool
    access_end: str | None

    def body(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "department": self.department,
            "site": self.site,
            "group": self.group,
            "contractor": self.contractor,
            "access_end": self.access_end,
        }


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


def _cell(value: str) -> str:
    value = value.strip()
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError("contains control characters")
    if len(value) > 200:
        raise ValueError("is longer than 200 characters")
    return value


def _header(row: list[str]) -> dict[str, int]:
    names = [h.strip().lower().lstrip("\ufeff") for h in row]
    found = {}
    for field, aliases in COLUMNS.items():
        hits = [i for i, h in enumerate(names) if h in aliases]
        if len(hits) > 1:
            raise InputError(f"The directory file has two columns for {field}.", "Keep one of them.")
        if hits:
            found[field] = hits[0]
    missing = [f for f in ("id", "name") if f not in found]
    if missing:
        raise InputError(
            f"The directory file has no {' or '.join(missing)} column (header: {', '.join(row)[:200]}).",
            "The first line names the columns: id, name, department, site, group, contractor, access_end.",
        )
    return found


def _employee(row: list[str], cols: dict[str, int], width: int) -> Employee:
    if len(row) != width:
        raise ValueError(f"has {len(row)} fields, the header has {width}")
    get = {f: _cell(row[i]) for f, i in cols.items()}
    if not get["id"] or "," in get["id"]:
        raise ValueError("has an empty id" if not get["id"] else "has a ',' in its id")
    flag = get.get("contractor", "").lower()
    if flag not in TRUE + FALSE:
        raise ValueError(f"contractor {flag!r} is not yes or no")
    end = get.get("access_end") or None
    if end is not None:
        try:
            end = date.fromisoformat(end).isoformat()
        except ValueError:
            raise ValueError(f"access end {end!r} is not a date YYYY-MM-DD") from None
    return Employee(
        get["id"],
        get["name"] or get["id"],
        get.get("department", ""),
        get.get("site", ""),
        get.get("group", ""),
        flag in TRUE,
        end,
    )


def parse_directory(data: bytes, source: str) -> list[Employee]:
    """Every employee in a directory CSV export, or EntriesRejected naming every bad line."""
    if len(data) > MAX_BYTES:
        raise InputError(
            f"{source} is larger than {MAX_BYTES // 2**20} MiB.", "Check that it is the directory."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source} is not UTF-8 text (byte {exc.start}).", "Export the directory as UTF-8 CSV."
        ) from None
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows)
    except StopIteration:
        raise InputError(f"{source} is empty.", "Export the directory again.") from None
    except csv.Error as exc:
        raise InputError(f"{source} is not valid CSV: {exc}.", "Export the directory as CSV.") from None
    cols = _header(header)
    employees, rejected, seen = [], [], set()
    try:
        for row in rows:
            line = f"line {rows.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            try:
                employee = _employee(row, cols, len(header))
            except ValueError as exc:
                rejected.append(
                    Reject(line, row[cols["id"]].strip()[:40] if len(row) > cols["id"] else None, str(exc))
                )
                continue
            if employee.id in seen:
                rejected.append(Reject(line, employee.id, "id listed twice"))
                continue
            seen.add(employee.id)
            employees.append(employee)
    except csv.Error as exc:
        raise InputError(
            f"{source} line {rows.line_num} is not valid CSV: {exc}.",
            "Fix the quoting on that line, or export the directory again.",
        ) from None
    if rejected:
        raise EntriesRejected(
            f"The directory {source}",
            rejected,
            "Correct those lines (or ask HR for a clean export) and import again.",
        )
    return employees


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
    station: Station, plan: DirectoryPlan, *, operator: str, allow_mass_removal: bool = False
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
        require(tx.db, operator, "directory")
        if _digest(_current(tx.db)) != plan.base:
            raise StationError(
                "The directory changed since this diff was made; nothing was imported.",
                "Show the diff again and confirm the new one.",
            )
        at = station.now()
        for emp in plan.added:
            tx.append("employee.added", emp.body(), actor=operator, at=at)
        for change in plan.changed:
            tx.append(
                "employee.changed",
                {**change.after.body(), "changed": list(change.fields)},
                actor=operator,
                at=at,
            )
        for emp in plan.removed:
            tx.append("employee.left", {"id": emp.id}, actor=operator, at=at)
        tx.append(
            "directory.imported",
            {
                "source": plan.source,
                "sha256": plan.sha256,
                "added": len(plan.added),
                "changed": len(plan.changed),
                "removed": len(plan.removed),
            },
            actor=operator,
            at=at,
        )
    return len(plan.added) + len(plan.changed) + len(plan.removed)
