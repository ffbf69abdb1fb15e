"""Custody moves: tokens change hands between custodians and places, both sides on the record.

The operator handing over acts; the custodian taking over is the second operator (unless they are the
same person moving their own stock between places). Tokens held by owners, lost or retired are not at
the desk and cannot be moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..core import Station
from ..errors import InputError
from ..operators.approvals import append_two_person
from ..operators.sessions import Session
from .common import clean_reason, clean_serial, get_token, resolve_place
from .roles import NotPermitted, Role, require, require_second
from .states import Action, check

MAX_BATCH = 5000


@dataclass(frozen=True)
class TransferResult:
    seq: int
    serials: tuple[str, ...]
    to_custodian: str
    site: str
    location: str | None


def transfer(
    station: Station,
    serials: Iterable[str | int],
    *,
    operator: Session,
    to_custodian: Session | None = None,
    location: str | None = None,
    site: str | None = None,
    reason: str | None = None,
) -> TransferResult:
    """Move tokens into another custodian's custody and/or another place, in one event."""
    wanted = list(dict.fromkeys(clean_serial(s) for s in serials))
    if not wanted:
        raise InputError("No serials to move.", "Give the serials of the tokens to move.")
    if len(wanted) > MAX_BATCH:
        raise InputError(
            f"{len(wanted)} tokens in one move is too many.", f"Move at most {MAX_BATCH} at once."
        )
    taker = to_custodian if to_custodian is not None and to_custodian.operator != operator.operator else None
    to_custodian_id = (to_custodian or operator).operator
    if location is None and site is None and taker is None:
        raise InputError(
            "Nothing would change: same custodian, no new place.",
            "Give --to CUSTODIAN, --location or --site.",
        )
    at = station.now()
    with station.record() as tx:
        actor = require(tx.db, operator, "transfer", at)
        if taker is not None:
            # The custodian taking over signs in to accept the tokens (they become answerable for them).
            require_second(tx.db, operator, taker, "transfer", at)
        to_site, to_location = (
            resolve_place(tx.db, station.config.site, site, location) if (location or site) else (None, None)
        )
        moves = []
        for serial in wanted:
            token = get_token(tx.db, serial)
            check(Action.TRANSFER, token)
            if token["custodian"] not in (actor.id, None) and Role.SUPERVISOR not in actor.roles:
                raise NotPermitted(
                    f"Token {serial} is in {token['custodian']}'s custody, not {actor.id}'s.",
                    f"{token['custodian']} hands it over, or a supervisor moves it.",
                )
            moves.append(
                {
                    "serial": serial,
                    "from_custodian": token["custodian"],
                    "from_site": token["site"],
                    "from_location": token["location"],
                }
            )
        if to_site is None:  # a change of hands only: each token stays where it is
            sites = {m["from_site"] for m in moves}
            places = {(m["from_site"], m["from_location"]) for m in moves}
            if len(places) > 1:
                raise InputError(
                    "These tokens are in different places; a move names one destination.",
                    "Give --location (or --site) for where they go.",
                )
            to_site, to_location = sites.pop(), moves[0]["from_location"]
        body = {
            "moves": moves,
            "to_custodian": to_custodian_id,
            "to_site": to_site,
            "to_location": to_location,
            "reason": clean_reason(reason, "custody move"),
        }
        if taker is not None:
            entry = append_two_person(
                tx, station, "token.transferred", body, first=operator, second=taker, at=at
            )
        else:
            entry = tx.append("token.transferred", body, actor=actor.id, at=at)
    return TransferResult(entry.seq, tuple(wanted), to_custodian_id, to_site, to_location)
