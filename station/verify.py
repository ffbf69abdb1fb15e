"""Offline TOTP verification at the desk: the owner's active tokens, the code core, the ledger.

The check itself is `station.codes.verify_totp`: one time step either side of where the token's
clock is expected (RFC 6238 section 5.2), following the drift measured at its last accepted code, and
never a step at or before the last accepted one, so a code read over a shoulder is useless after its
owner used it. This module picks the owner's tokens, opens their seeds, and records each outcome as a
ledger event (the accepted step and drift, or the reason); the code itself is never recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codes import Accepted, Malformed, Rejected, RejectReason, TotpState, TotpToken
from .codes import verify_totp as check_totp
from .codes.normalise import digits
from .core import Station
from .errors import InputError, StationError, VerificationFailed

WINDOW = 1  # time steps either side of the expected one
CODE_LENGTHS = range(6, 9)


@dataclass(frozen=True)
class VerifyResult:
    owner: str
    serial: int
    credential_id: str
    step: int
    drift: int  # steps between the token's clock and ours when this code was accepted
    ledger_seq: int


def normalise_code(code: str) -> str:
    """Strip the spaces and dashes people type; anything else that is not a digit is malformed."""
    typed = digits(code, CODE_LENGTHS)
    if isinstance(typed, Malformed):
        raise InputError(typed.message, typed.hint)
    return typed


def _code_at(seed: bytes, algorithm: str, digits: int, step: int) -> str:
    return TotpToken(seed, algorithm, digits).code_at(step)


def verify_totp(station: Station, owner: str, code: str, *, operator: str) -> VerifyResult:
    """Accept a code once, or raise VerificationFailed (recorded) saying why."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    owner = (owner or "").strip()
    if not owner:
        raise InputError("The owner is empty.", "Type the owner's id.")
    code = normalise_code(code)
    rows = list(
        station.ledger.db.query(
            "SELECT * FROM credentials WHERE owner = ? AND status = 'active' AND oath_type = 'TOTP'",
            [owner],
        )
    )
    if not rows:
        station.append("otp.rejected", {"owner": owner, "reason": "no active token"}, actor=operator)
        raise VerificationFailed(
            f"{owner} has no active TOTP token at this station.",
            "Check the owner id, or issue a token first.",
        )
    now = station.now()
    used: list[tuple[dict, Rejected]] = []
    for row in rows:
        if len(code) != row["digits"]:
            continue
        token = TotpToken(station.secret(row["vault_record"]), row["algorithm"], row["digits"], row["period"])
        result = check_totp(token, TotpState(row["last_step"], row["drift"] or 0), code, now, window=WINDOW)
        ids = {"owner": owner, "serial": row["serial"], "credential_id": row["credential_id"]}
        if isinstance(result, Accepted):
            body = dict(ids, step=result.state.last_step, drift=result.state.drift)
            entry = station.append("otp.accepted", body, actor=operator)
            return VerifyResult(owner, row["serial"], row["credential_id"], result.state.last_step,
                                result.state.drift, entry.seq)
        if isinstance(result, Rejected) and result.reason in (RejectReason.REPLAY, RejectReason.OLDER):
            used.append((ids, result))
    if used:
        ids, result = used[0]
        station.append("otp.rejected", dict(ids, reason=str(result.reason)), actor=operator)
        raise VerificationFailed(result.message, result.hint)
    station.append("otp.rejected", {"owner": owner, "reason": "wrong code"}, actor=operator)
    raise VerificationFailed(
        f"The code does not match {owner}'s token.",
        "Check the owner id and that the code was read from the right key, then try the next code.",
    )
