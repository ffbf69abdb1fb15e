"""What a code check answers: Accepted with the token's new state, Rejected with a reason, or Malformed.

A verifier never raises on what a person typed: every input ends in one of the three values, each with
a sentence for the operator and a hint of what to do next. None of them carries the secret, the
expected code or the typed code, so a result can be shown, logged or recorded as it is; the reason's
value is the short word the ledger records.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S")


class RejectReason(StrEnum):
    WRONG_CODE = "wrong code"
    REPLAY = "replay"  # this very code (time step, counter) was accepted before
    OLDER = "older code"  # from before a code already accepted
    NOT_CONSECUTIVE = "not consecutive"  # HOTP resynchronisation needs two codes in a row
    EXHAUSTED = "counter exhausted"  # the token has no counter values left
    OTHER_KEY = "other key"  # a Yubico OTP whose public id names another key
    BAD_CHECKSUM = "bad checksum"  # a Yubico OTP that does not decrypt to a valid ticket with this key
    WRONG_PRIVATE_ID = "wrong private id"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    REVOKED = "revoked"


class MalformedReason(StrEnum):
    EMPTY = "empty"
    BAD_CHARACTERS = "bad characters"
    WRONG_LENGTH = "wrong length"
    TYPO = "typo"  # a check character says a character was mistyped


@dataclass(frozen=True)
class Accepted(Generic[S]):
    """The code is good. `state` replaces the token's stored state (record it with the acceptance)."""

    state: S
    message: str = "Code accepted."
    ok = True


@dataclass(frozen=True)
class Rejected:
    """The code is well formed and was checked, and it is refused."""

    reason: RejectReason
    message: str
    hint: str
    ok = False


@dataclass(frozen=True)
class Malformed:
    """The input cannot be a code of this kind; it was not checked against the token."""

    reason: MalformedReason
    message: str
    hint: str
    ok = False


Result = Accepted[S] | Rejected | Malformed


_NEXT_CODE = "Wait for the key to show the next code and type that one."


def replay(what: str = "code", hint: str = _NEXT_CODE) -> Rejected:
    return Rejected(RejectReason.REPLAY, f"This {what} was already used; a {what} is accepted only once.",
                    hint)


def older(what: str = "code", hint: str = _NEXT_CODE) -> Rejected:
    return Rejected(RejectReason.OLDER,
                    f"This {what} is older than one already used; codes are accepted only once and in order.",
                    hint)


_RIGHT_KEY = "Check that the code was read from the right key, then try the next code."


def wrong_code(hint: str = _RIGHT_KEY) -> Rejected:
    return Rejected(RejectReason.WRONG_CODE, "The code does not match this token.", hint)
