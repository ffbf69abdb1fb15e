"""Operator roles and what each may do, and the check every state-changing function makes.

The check takes an operator id, not a session: issue 6's sign-in (PIN + OTP) proves the id before a
function is called, and the functions stay the same. An operator holds one or more roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlite_utils

from ..errors import StationError


class Role(StrEnum):
    CUSTODIAN = "custodian"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


R = Role
DESK = frozenset({R.CUSTODIAN, R.SUPERVISOR})

# What each action needs: any one of these roles.
NEEDS: dict[str, frozenset[Role]] = {
    "receive": DESK,
    "issue": DESK,
    "return": DESK,
    "transfer": DESK,
    "report_lost": DESK,
    "report_damaged": DESK,
    "found": DESK,
    "block": DESK,
    "unblock": frozenset({R.SUPERVISOR}),
    "retire": frozenset({R.SUPERVISOR}),
    "witness": DESK | {R.AUDITOR},
    "audit": frozenset({R.AUDITOR}),
    "directory": frozenset({R.ADMIN, R.SUPERVISOR}),
    "spares": frozenset({R.ADMIN, R.SUPERVISOR}),
    "configure": frozenset({R.ADMIN}),
    "enrol": frozenset({R.ADMIN}),
    # IdP hand-off: a deactivation list (serials only) or confirming an import is desk work; a file
    # with secrets takes a supervisor or admin.
    "export": DESK | {R.ADMIN},
    "export_secrets": frozenset({R.SUPERVISOR, R.ADMIN}),
}


class NotPermitted(StationError):
    """The operator is unknown, deactivated, or lacks the role the action needs; nothing was done."""


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    roles: frozenset[Role]
    status: str


def parse_roles(text: str | list[str] | tuple[str, ...]) -> frozenset[Role]:
    names = text.split(",") if isinstance(text, str) else list(text)
    roles = set()
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            raise NotPermitted(
                f"{name!r} is not a role.", f"Use one or more of: {', '.join(r.value for r in Role)}."
            ) from None
    return frozenset(roles)


def roles_text(roles: frozenset[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


def find_operator(db: sqlite_utils.Database, operator_id: str) -> Operator | None:
    row = db.execute("SELECT id, name, roles, status FROM operators WHERE id = ?", [operator_id]).fetchone()
    if row is None:
        return None
    return Operator(row[0], row[1], parse_roles(row[2]), row[3])


def require(db: sqlite_utils.Database, operator_id: str, action: str) -> Operator:
    """The operator, if enrolled, active and holding a role the action needs; else NotPermitted."""
    operator_id = (operator_id or "").strip()
    if not operator_id:
        raise NotPermitted("No operator given.", "Give your operator id (--operator or STATION_OPERATOR).")
    operator = find_operator(db, operator_id)
    if operator is None:
        raise NotPermitted(
            f"{operator_id} is not an enrolled operator of this station.",
            f"An admin enrols operators: station operator add {operator_id} --role custodian.",
        )
    if operator.status != "active":
        raise NotPermitted(
            f"Operator {operator_id} is deactivated.", "Ask an admin; a deactivated operator cannot act."
        )
    needed = NEEDS[action]
    if not operator.roles & needed:
        wanted = " or ".join(sorted(r.value for r in needed))
        held = ", ".join(sorted(r.value for r in operator.roles)) or "none"
        raise NotPermitted(
            f"{operator_id} ({held}) may not {action.replace('_', ' ')}: that needs the {wanted} role.",
            f"Ask an operator with the {wanted} role to do it.",
        )
    return operator


def require_second(db: sqlite_utils.Database, first: str, second: str, action: str) -> Operator:
    """A second person for a two-person action: enrolled, entitled, and not the first one."""
    if (second or "").strip() == (first or "").strip():
        raise NotPermitted(
            f"{first} cannot be both operators of this action.",
            "A second operator must be a different person; ask a colleague.",
        )
    return require(db, second, action)
