"""Reading the employee directory from an HR system's CSV export, refusing bad lines by name."""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from datetime import date

from ..errors import InputError
from .intake import EntriesRejected, Reject

MAX_BYTES = 50 * 1024 * 1024
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
