"""HOTP verification (RFC 4226) with a look-ahead window and resynchronisation by two codes in a row.

The station keeps the counter of the next code it expects. A code is accepted if it matches that
counter or one of the next `look_ahead` (RFC 4226 section 7.4: a button pressed away from the desk
moves the token ahead). Further ahead, the holder resynchronises with two consecutive codes, looked
for within `resync_window` counters (section 7.4's "ask for another value"). Either way the counter
only moves forward, past the code accepted, so no code is ever accepted twice, whatever resync does.
A counter that reached 2**64 - 1 is spent: the token never wraps back to codes already used.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from . import normalise
from .oath import MAX_COUNTER, HotpToken
from .results import Accepted, Malformed, Rejected, RejectReason, Result, older, replay, wrong_code

LOOK_AHEAD = 10
RESYNC_WINDOW = 1000
_RESYNC_HINT = ("If the key's button was pressed many times away from the desk, resynchronise it with two "
                "codes in a row.")


@dataclass(frozen=True)
class HotpState:
    """The counter of the next code the station expects (0 to 2**64; 2**64 means spent)."""

    next_counter: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.next_counter <= MAX_COUNTER + 1:
            raise ValueError("an HOTP token's next counter is 0 to 2**64")


def _spent() -> Rejected:
    return Rejected(RejectReason.EXHAUSTED, "This token has used every counter value it has.",
                    "Replace the token; it can produce no new code.")


def _typed(token: HotpToken, code: object) -> str | Malformed:
    return normalise.digits(code, range(token.digits, token.digits + 1))


def _matches(token: HotpToken, counter: int, typed: str) -> bool:
    return hmac.compare_digest(token.code_at(counter), typed)


def _used_before(token: HotpToken, state: HotpState, typed: str, span: int) -> Rejected | None:
    """Say 'already used' for a code from just before the expected counter, rather than 'wrong'."""
    for counter in range(state.next_counter - 1, max(0, state.next_counter - span) - 1, -1):
        if counter <= MAX_COUNTER and _matches(token, counter, typed):
            return replay() if counter == state.next_counter - 1 else older()
    return None


def verify_hotp(token: HotpToken, state: HotpState, code: object, *, look_ahead: int = LOOK_AHEAD
                ) -> Result[HotpState]:
    """Accept `code` if it matches the expected counter or one of the next `look_ahead`."""
    if look_ahead < 0:
        raise ValueError("look_ahead must be 0 or more")
    typed = _typed(token, code)
    if isinstance(typed, Malformed):
        return typed
    if state.next_counter > MAX_COUNTER:
        return _spent()
    for counter in range(state.next_counter, min(state.next_counter + look_ahead, MAX_COUNTER) + 1):
        if _matches(token, counter, typed):
            skipped = counter - state.next_counter
            note = "" if skipped == 0 else f" ({skipped} code{'s' if skipped > 1 else ''} skipped)"
            return Accepted(HotpState(counter + 1), f"Code accepted{note}.")
    return _used_before(token, state, typed, look_ahead + 1) or wrong_code(_RESYNC_HINT)


def resync_hotp(token: HotpToken, state: HotpState, first: object, second: object, *,
                window: int = RESYNC_WINDOW) -> Result[HotpState]:
    """Accept two consecutive codes found within `window` counters ahead; the counter moves past both."""
    if window < 1:
        raise ValueError("window must be 1 or more")
    a, b = _typed(token, first), _typed(token, second)
    if isinstance(a, Malformed):
        return a
    if isinstance(b, Malformed):
        return b
    if state.next_counter > MAX_COUNTER - 1:
        return _spent()
    if a == b:
        return Rejected(RejectReason.NOT_CONSECUTIVE, "The two codes are the same.",
                        "Press the key's button twice and type the two codes it shows, in order.")
    first_seen = False
    for counter in range(state.next_counter, min(state.next_counter + window, MAX_COUNTER - 1) + 1):
        if _matches(token, counter, a):
            first_seen = True
            if _matches(token, counter + 1, b):
                return Accepted(HotpState(counter + 2), "Token resynchronised; both codes accepted.")
    if first_seen:
        return Rejected(RejectReason.NOT_CONSECUTIVE,
                        "The two codes are not consecutive codes of this token.",
                        "Press the key's button twice in a row and type both codes, in order.")
    return _used_before(token, state, a, window) or wrong_code(
        "Check the codes were read from this token; if they were, the token is further out of step than "
        f"{window} codes and must be replaced.")
