"""Token states, the actions that move a token between them, and the refusal of illegal moves.

A token is received into stock, issued to an owner, and comes back (returned, found), goes missing
(lost), breaks (damaged), is blocked while in doubt, and ends retired. `check` is the single place
that decides whether an action is allowed from a token's current state; its refusals say what the
token's state is and what to do instead.
"""

from __future__ import annotations

from enum import StrEnum

from ..errors import StationError


class TokenState(StrEnum):
    IN_STOCK = "in_stock"  # received, never issued (a spare)
    ISSUING = "issuing"  # a YubiKey write is in progress or was interrupted (see reconcile)
    ISSUED = "issued"  # held by its owner
    RETURNED = "returned"  # back at the desk from an owner (a spare again)
    LOST = "lost"
    DAMAGED = "damaged"
    BLOCKED = "blocked"  # codes refused while in doubt; unblocking restores the earlier state
    RETIRED = "retired"  # destroyed, sent back or written off: final


class Action(StrEnum):
    ISSUE = "issue"
    RETURN = "return"
    REPORT_LOST = "report_lost"
    REPORT_DAMAGED = "report_damaged"
    BLOCK = "block"
    UNBLOCK = "unblock"
    FOUND = "found"
    RETIRE = "retire"
    TRANSFER = "transfer"
    RESET = "reset"


S = TokenState
# Where a token physically sits at the desk (not with an owner, not missing, not gone).
AT_DESK = frozenset({S.IN_STOCK, S.RETURNED, S.DAMAGED})
SPARE = frozenset({S.IN_STOCK, S.RETURNED})

ALLOWED: dict[Action, frozenset[TokenState]] = {
    Action.ISSUE: SPARE,
    Action.RETURN: frozenset({S.ISSUED}),
    Action.REPORT_LOST: frozenset({S.ISSUED, S.IN_STOCK, S.RETURNED, S.BLOCKED, S.DAMAGED}),
    Action.REPORT_DAMAGED: frozenset({S.ISSUED, S.IN_STOCK, S.RETURNED, S.BLOCKED}),
    Action.BLOCK: frozenset({S.ISSUED, S.IN_STOCK, S.RETURNED}),
    Action.UNBLOCK: frozenset({S.BLOCKED}),
    Action.FOUND: frozenset({S.LOST}),
    Action.RETIRE: frozenset({S.IN_STOCK, S.RETURNED, S.DAMAGED, S.LOST, S.BLOCKED}),
    Action.TRANSFER: AT_DESK | {S.BLOCKED},
    Action.RESET: frozenset({S.ISSUED, S.BLOCKED}),
}

_VERB = {
    Action.ISSUE: "issued",
    Action.RETURN: "returned",
    Action.REPORT_LOST: "reported lost",
    Action.REPORT_DAMAGED: "reported damaged",
    Action.BLOCK: "blocked",
    Action.UNBLOCK: "unblocked",
    Action.FOUND: "reported found",
    Action.RETIRE: "retired",
    Action.TRANSFER: "moved to another custodian or place",
    Action.RESET: "reset",
}


class IllegalTransition(StationError):
    """The action is not allowed from the token's current state; nothing was recorded."""


def describe(token: dict) -> str:
    """The token's state in words: 'issued to alice', 'reported lost', 'in stock at branch-07/safe-1'."""
    state = TokenState(token["status"])
    place = token["site"] + (f"/{token['location']}" if token.get("location") else "")
    if state is S.ISSUED:
        return f"issued to {token['owner']}"
    if state is S.BLOCKED:
        return f"blocked (held by {token['owner']})" if token.get("owner") else f"blocked at {place}"
    return {
        S.IN_STOCK: f"in stock at {place}",
        S.ISSUING: "being programmed (a key write is not settled yet)",
        S.RETURNED: f"returned, at {place}",
        S.LOST: "reported lost",
        S.DAMAGED: f"reported damaged, at {place}",
        S.RETIRED: "retired",
    }[state]


def _hint(action: Action, state: TokenState, serial: str) -> str:
    if state is S.ISSUING:
        return f"Insert key {serial} and run 'station reconcile' to settle the interrupted write first."
    if state is S.RETIRED:
        return "A retired token never comes back into use; take another token from stock."
    if action is Action.ISSUE and state is S.LOST:
        return f"Take another token from stock. If {serial} turned up, record it first: station found."
    if action is Action.ISSUE:
        return "Take another token from stock for this owner."
    if action is Action.RETURN:
        return "Only a token held by an owner can be returned; check the serial."
    if action is Action.RESET:
        return "Only a token held by its owner (issued, or blocked while with them) is reset."
    if action is Action.UNBLOCK:
        return "Only a blocked token can be unblocked."
    if action is Action.FOUND:
        return "Only a token reported lost can be reported found."
    if action is Action.TRANSFER and state is S.ISSUED:
        return "Its owner holds it: record the return first (station return), then move it."
    return "Check the serial and the token's history (station token show SERIAL)."


def check(action: Action, token: dict) -> None:
    """Refuse the action unless the token's state allows it."""
    state = TokenState(token["status"])
    serial = token["serial"]
    if action is Action.TRANSFER and token.get("owner"):  # blocked, but still in its owner's hands
        raise IllegalTransition(
            f"Token {serial} cannot be {_VERB[action]}: it is {describe(token)}.",
            "Its owner holds it: record the return first (station return), then move it.",
        )
    if action is Action.RESET and not token.get("owner"):
        raise IllegalTransition(
            f"Token {serial} cannot be reset: it is {describe(token)}, with no owner.",
            _hint(action, state, serial),
        )
    if state in ALLOWED[action]:
        return
    raise IllegalTransition(
        f"Token {serial} cannot be {_VERB[action]}: it is {describe(token)}.", _hint(action, state, serial)
    )
