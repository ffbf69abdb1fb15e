"""What happens when a token is bound to its owner (``token.issued``), in the same transaction.

- The owner's temporary access codes are revoked: they were a stand-in until this token.
- If the token replaces a lost or damaged one, the owner's recovery codes are rotated (a new set is
  returned to show once), or, when nobody is there to see them (a write settled by reconcile),
  revoked, to be issued again at the desk.

The replacement's four-eyes approval is checked before the token is written (issue flows use
`approve_replacement` on the intent or on the issue event itself).
"""

from __future__ import annotations

from datetime import datetime

from .access.recovery import RecoveryIssue, active_set, rotate_on_replacement
from .access.temporary import revoke_for_owner
from .core import Station
from .inventory.owners import replaces
from .inventory.roles import require_second
from .operators.approvals import append_two_person
from .operators.sessions import Session


def append_approved(
    tx: object,
    station: Station,
    event: str,
    body: dict,
    *,
    operator: Session,
    approver: Session | None,
    at: datetime,
) -> object:
    """Append an issue event; a replacement carries the approver's sign-off and both endorsements."""
    old = replaces(tx.db, body["owner"])
    if old is None:
        return tx.append(event, body, actor=operator.operator, at=at)
    require_second(tx.db, operator, approver, "approve_supervisor", at, owner=body["owner"])
    return append_two_person(
        tx, station, event, {**body, "replaces": old["serial"]}, first=operator, second=approver, at=at
    )


def on_bound(
    tx: object,
    station: Station,
    owner: str,
    *,
    actor: str,
    at: datetime,
    replacement: bool,
    show_codes: bool = True,
) -> RecoveryIssue | None:
    """Run after ``token.issued`` is appended in `tx`."""
    revoke_for_owner(tx, owner, actor=actor, at=at, reason="new token bound")
    if not replacement:
        return None
    if show_codes:
        return rotate_on_replacement(tx, station, owner, actor=actor)
    old = active_set(tx.db, owner)
    if old is not None:
        tx.append(
            "recovery.revoked",
            {"owner": owner, "set": old["set_id"], "reason": "token replaced; issue a new set at the desk"},
            actor=actor,
            at=at,
        )
    return None
