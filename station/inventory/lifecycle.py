"""A token's life after issue: return, loss, damage, blocks, finding it again, retirement.

Each function checks the operator (roles.py) and the token's state (states.py) inside the ledger
transaction it appends to, so two desks cannot both move the same token: the second one sees the
first one's event and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import Station
from ..errors import InputError
from ..operators.approvals import append_two_person
from ..operators.sessions import Session
from .common import TokenView, clean_reason, clean_serial, find_token, get_token, resolve_place
from .roles import NotPermitted, require, require_second
from .states import Action, check

RETIRE_HOW = ("destroyed", "sent_back", "written_off")


@dataclass(frozen=True)
class Transition:
    """What happened: the event recorded and the token as it is now."""

    event: str
    seq: int
    token: TokenView


def _move(
    station: Station,
    action: Action,
    serial: str | int,
    operator: Session,
    event: str,
    body: dict,
    *,
    second: Session | None = None,
    second_action: str = "witness",
    place: bool = False,
    own_token_ok: bool = True,
    owner_excluded: bool = False,
) -> Transition:
    serial = clean_serial(serial)
    at = station.now()
    with station.record() as tx:
        actor = require(tx.db, operator, action.value, at).id
        token = get_token(tx.db, serial)
        check(action, token)
        if not own_token_ok and actor in (token["owner"], token["last_owner"]):
            raise NotPermitted(
                f"{actor} cannot record this for their own token.", "Ask another custodian to do it."
            )
        body = {"serial": serial, "kind": token["kind"], "owner": token["owner"], **body}
        if place:
            body["site"], body["location"] = resolve_place(
                tx.db, station.config.site, body.pop("site", None) or token["site"], body.get("location")
            )
        if second is not None:
            owner = (token["owner"] or token["last_owner"]) if owner_excluded else None
            require_second(tx.db, operator, second, second_action, at, owner=owner)
            entry = append_two_person(tx, station, event, body, first=operator, second=second, at=at)
        else:
            entry = tx.append(event, body, actor=actor, at=at)
        now = find_token(tx.db, serial)
    return Transition(event, entry.seq, TokenView(**now))


def return_token(
    station: Station,
    serial: str | int,
    *,
    operator: Session,
    location: str | None = None,
    site: str | None = None,
    reason: str | None = None,
) -> Transition:
    """The owner hands the token back; it goes into the operator's custody at a place."""
    return _move(
        station,
        Action.RETURN,
        serial,
        operator,
        "token.returned",
        {"reason": clean_reason(reason, "returned by its owner"), "site": site, "location": location},
        place=True,
        own_token_ok=False,
    )


def report_lost(station: Station, serial: str | int, *, operator: Session, reason: str) -> Transition:
    """The token is missing: its codes stop verifying at once; the owner can be given a replacement."""
    return _move(
        station, Action.REPORT_LOST, serial, operator, "token.reported_lost", {"reason": clean_reason(reason)}
    )


def report_damaged(
    station: Station,
    serial: str | int,
    *,
    operator: Session,
    reason: str,
    location: str | None = None,
    site: str | None = None,
) -> Transition:
    """The token is broken and back at the desk; its codes stop verifying."""
    return _move(
        station,
        Action.REPORT_DAMAGED,
        serial,
        operator,
        "token.reported_damaged",
        {"reason": clean_reason(reason), "site": site, "location": location},
        place=True,
    )


def block(station: Station, serial: str | int, *, operator: Session, reason: str) -> Transition:
    """Suspend a token's codes while something is unclear (suspected theft, a leaver's token)."""
    return _move(station, Action.BLOCK, serial, operator, "token.blocked", {"reason": clean_reason(reason)})


def unblock(station: Station, serial: str | int, *, operator: Session, reason: str) -> Transition:
    """Lift a block: the token returns to the state it was in, its codes verify again if issued."""
    return _move(
        station,
        Action.UNBLOCK,
        serial,
        operator,
        "token.unblocked",
        {"reason": clean_reason(reason)},
        own_token_ok=False,
    )


def found(
    station: Station,
    serial: str | int,
    *,
    operator: Session,
    reason: str,
    location: str | None = None,
    site: str | None = None,
) -> Transition:
    """A lost token turned up: it is back at the desk (never straight back to its old owner)."""
    return _move(
        station,
        Action.FOUND,
        serial,
        operator,
        "token.found",
        {"reason": clean_reason(reason), "site": site, "location": location},
        place=True,
        own_token_ok=False,
    )


def retire(
    station: Station,
    serial: str | int,
    *,
    operator: Session,
    how: str,
    reason: str,
    witness: Session | None = None,
) -> Transition:
    """End a token's life: destroyed, sent back to the vendor, or written off after a loss."""
    if how not in RETIRE_HOW:
        raise InputError(f"{how!r} is not a way to retire a token.", f"Use one of: {', '.join(RETIRE_HOW)}.")
    return _move(
        station,
        Action.RETIRE,
        serial,
        operator,
        "token.retired",
        {"how": how, "reason": clean_reason(reason)},
        second=witness,
    )


def reset_token(
    station: Station, serial: str | int, *, operator: Session, approver: Session, reason: str
) -> Transition:
    """Reset an owner's token (forgotten, doubted, out of step): its codes stop at once and it comes back
    to the desk to be programmed again. Four-eyes: a supervisor or admin approves; the owner can be
    neither operator. The owner keeps their recovery codes (what they use meanwhile). Counts as a
    support request in the rollout metrics."""
    return _move(
        station,
        Action.RESET,
        serial,
        operator,
        "token.reset",
        {"reason": clean_reason(reason)},
        second=approver,
        second_action="approve_supervisor",
        own_token_ok=False,
        owner_excluded=True,
    )
