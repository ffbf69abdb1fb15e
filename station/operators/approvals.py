"""Four-eyes events: the acting and the approving operator each endorse the event with their own key.

Who may approve what, and the refusal of one person in both roles or of the person the action is
about, is `station.inventory.roles.require_second`. This module adds the operators' own signatures
(ledger.signers endorsements) so the ledger itself proves both signed in: each key opens only with
its owner's PIN (pins.py), and `station ledger verify` checks every endorsement against the keys
enrolled when the operators got their credentials.
"""

from __future__ import annotations

from datetime import datetime

from ledger.signers import Endorsement, endorse

from ..core import Station
from ..errors import NotPermitted
from .sessions import Session


def endorsements(
    station: Station, event_type: str, body: dict, *, actor: str, at: datetime, people: tuple[Session, ...]
) -> tuple[Endorsement, ...]:
    """Each person's endorsement of exactly this event (type, actor, time, body)."""
    out = []
    for person in people:
        if person.signer is None:
            raise NotPermitted(
                f"{person.operator}'s sign-in carries no signing key.",
                "Sign in again with your PIN; an admin re-enrols operators without one.",
            )
        out.append(endorse(person.signer, station.ledger.origin, event_type, actor, at, body))
    return tuple(out)


def append_two_person(
    tx: object,
    station: Station,
    event_type: str,
    body: dict,
    *,
    first: Session,
    second: Session,
    at: datetime,
) -> object:
    """Append a four-eyes event naming the second operator, endorsed by both."""
    body = {**body, "second_operator": second.operator}
    sigs = endorsements(station, event_type, body, actor=first.operator, at=at, people=(first, second))
    return tx.append(event_type, body, actor=first.operator, at=at, signatures=sigs)
