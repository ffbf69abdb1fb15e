"""TOTP verification (RFC 6238) with a remembered clock drift and no second use of a time step.

The station looks for the code within `window` steps either side of the step where it expects the
token to be: now plus the drift it measured at the token's last accepted code (RFC 6238 section 6: a
token's clock wanders, and the validator follows it). The drift is bounded by `max_drift`, so a
token can never walk the window arbitrarily far from real time. Once a step is accepted, that step
and every earlier one are refused for the token, whatever the drift, so a code read over a shoulder
is useless after its owner used it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from . import normalise
from .oath import TotpToken
from .results import Accepted, Malformed, Result, older, replay, wrong_code

WINDOW = 1  # steps either side: RFC 6238 section 5.2's allowance for network and typing delay
MAX_DRIFT = 10  # steps: five minutes for 30-second tokens
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TotpState:
    """What the station remembers of a TOTP token: its last accepted step (-1: none) and its drift.

    `drift` is how many steps the token's clock was ahead of the station's (negative: behind) when
    its last code was accepted.
    """

    last_step: int = -1
    drift: int = 0


def current_step(token: TotpToken, now: datetime) -> int:
    """The step the station's clock is in (exact integer arithmetic, no float rounding)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return (now - _EPOCH - timedelta(seconds=token.t0)) // timedelta(seconds=token.period)


def verify_totp(
    token: TotpToken,
    state: TotpState,
    code: object,
    now: datetime,
    *,
    window: int = WINDOW,
    max_drift: int = MAX_DRIFT,
) -> Result[TotpState]:
    """Accept `code` at most once, returning the token's new state, or say why not."""
    if not 0 <= window <= max_drift:
        raise ValueError("window must be 0 to max_drift")
    typed = normalise.digits(code, range(token.digits, token.digits + 1))
    if isinstance(typed, Malformed):
        return typed
    current = current_step(token, now)
    centre = current + max(-max_drift, min(max_drift, state.drift))
    # Nearest the expected step first, so the rare code that matches two steps takes the likelier one.
    offsets = sorted(range(-window, window + 1), key=lambda d: (abs(d), d))
    steps = [centre + d for d in offsets if centre + d >= 0 and abs(centre + d - current) <= max_drift]
    # Every candidate is computed and compared, so the time taken does not say which step matched.
    matched = [s for s in steps if hmac.compare_digest(token.code_at(s), typed)]
    fresh = [s for s in matched if s > state.last_step]
    if fresh:
        step = fresh[0]
        drift = step - current
        note = "" if drift == 0 else f" (the token's clock is {abs(drift) * token.period} s {_side(drift)})"
        return Accepted(TotpState(step, drift), f"Code accepted{note}.")
    if matched:
        return replay() if state.last_step in matched else older()
    return wrong_code()


def _side(drift: int) -> str:
    return "ahead" if drift > 0 else "behind"
