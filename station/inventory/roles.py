"""Operator roles and what each may do, and the check every state-changing function makes.

Every state-changing station function takes the acting operator's signed-in `Session` (station.operators)
and calls `require`, which proves the session live and then checks the role; a second operator of a
two-person action is a fresh approval session checked by `require_second`. An operator holds one or
more roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlite_utils

from ..errors import NotPermitted
from ..operators.sessions import NotSignedIn, Session
from ..operators.sessions import check as check_session
from ..operators.sessions import end as end_session


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
    # issue 6: operators, codes, vault
    "verify": DESK,
    "reconcile": DESK,
    "recovery": DESK,
    "reset": DESK,
    "temporary": frozenset({R.SUPERVISOR}),
    "unlock_operator": frozenset({R.ADMIN}),
    "lock_operator": frozenset({R.ADMIN, R.SUPERVISOR}),
    "review": frozenset({R.AUDITOR}),
    "vault": frozenset({R.ADMIN}),
    "export_vault": frozenset({R.ADMIN}),  # a PSKC of any tokens' secrets straight from the vault
    "ledger": frozenset({R.ADMIN, R.AUDITOR}),
    "rotate_key": frozenset({R.ADMIN}),
    # second operators of four-eyes actions
    "approve": DESK | {R.ADMIN},  # a temporary access grant: any other desk operator or admin
    "approve_supervisor": frozenset({R.SUPERVISOR, R.ADMIN}),  # reset, replacement, unlocking an operator
    # IdP hand-off: a deactivation list (serials only) or confirming an import is desk work; a file
    # with secrets takes a supervisor or admin.
    "export": DESK | {R.ADMIN},
    "export_secrets": frozenset({R.SUPERVISOR, R.ADMIN}),
}


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


def _entitled(db: sqlite_utils.Database, operator_id: str, action: str) -> Operator:
    """The operator, if enrolled, active and holding a role the action needs; else NotPermitted."""
    operator = find_operator(db, operator_id)
    if operator is None:
        raise NotPermitted(
            f"{operator_id} is not an enrolled operator of this station.",
            f"An admin enrols operators: station operator add {operator_id} --role custodian.",
        )
    if operator.status != "active":
        raise NotPermitted(
            f"Operator {operator_id} is {operator.status}.",
            "A locked or deactivated operator cannot act; an admin and a second operator unlock them.",
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


def require(db: sqlite_utils.Database, session: Session, action: str, at: datetime) -> Operator:
    """The signed-in operator of `session`, if the session is live and the operator may do `action`.

    This is the check every state-changing station function makes (inside its ledger transaction):
    the session proves the sign-in (sessions.check), the role table says what the operator may do.
    """
    check_session(db, session, at)
    return _entitled(db, session.operator, action)


def require_second(
    db: sqlite_utils.Database,
    first: Session,
    second: Session,
    action: str,
    at: datetime,
    *,
    owner: str | None = None,
) -> Operator:
    """The second operator of a two-person action: freshly signed in for it (an approval session),
    entitled, another person than the first, and not the person the action is about (`owner`).

    The approval is used up here: the same sign-in never approves a second action.
    """
    if not isinstance(second, Session):
        raise NotSignedIn(
            "This action needs a second operator, signed in to approve it.",
            "Ask a colleague to sign in as the second operator (id, PIN and a code).",
        )
    if not second.approval:
        raise NotPermitted(
            "The second operator must sign in for this approval, not lend an open session.",
            "Ask the second operator to sign in on the approval prompt with their PIN and a fresh code.",
        )
    if second.operator == getattr(first, "operator", None):
        raise NotPermitted(
            f"{second.operator} cannot be both operators of this action.",
            "A second operator must be a different person; ask a colleague.",
        )
    if owner is not None and owner in (second.operator, getattr(first, "operator", None)):
        raise NotPermitted(
            f"{owner} is the person this action is about, so cannot perform or approve it.",
            "Two other operators must do it.",
        )
    operator = require(db, second, action, at)
    end_session(db, second.id, at, "approval used")
    return operator
