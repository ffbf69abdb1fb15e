"""OATH tokens (RFC 4226 HOTP, RFC 6238 TOTP): the secret and parameters a code is computed from.

Codes are computed by pyotp. Its HOTP takes the counter as an unbounded integer, so a counter past
2**64 - 1 would be hashed as nine bytes instead of wrapping or failing; the verifiers never ask for
one (MAX_COUNTER). pyotp refuses secrets under 112 bits (NIST SP 800-63B); the token values refuse
them first, with a message that says so.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

import pyotp

from ..errors import InputError

MAX_COUNTER = 2**64 - 1  # RFC 4226: the moving factor is an 8-byte counter
MIN_SECRET_BYTES = 14  # 112 bits, pyotp's floor; RFC 4226 asks for 128 and recommends 160
DIGIT_LENGTHS = range(6, 9)


class Algorithm(StrEnum):
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"


_DIGESTS = {Algorithm.SHA1: hashlib.sha1, Algorithm.SHA256: hashlib.sha256, Algorithm.SHA512: hashlib.sha512}


def _check(secret: bytes, algorithm: str, digits: int) -> None:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise InputError(
            f"The token's secret is under {MIN_SECRET_BYTES * 8} bits: its codes cannot be checked safely.",
            "Replace the token with one whose secret is at least 128 bits (RFC 4226).",
        )
    if algorithm not in Algorithm.__members__:
        raise InputError(f"The token's algorithm {algorithm!r} is not SHA1, SHA256 or SHA512.",
                         "Check the token's record; it was stored damaged.")
    if digits not in DIGIT_LENGTHS:
        raise InputError(f"The token shows {digits}-digit codes; an OATH token shows 6 to 8 digits.",
                         "Check the token's record; it was stored damaged.")


@dataclass(frozen=True)
class HotpToken:
    """An event-based OATH token. The secret never appears in repr or in any result."""

    secret: bytes = field(repr=False)
    algorithm: str = "SHA1"
    digits: int = 6

    def __post_init__(self) -> None:
        _check(self.secret, self.algorithm, self.digits)

    @cached_property
    def _otp(self) -> pyotp.HOTP:
        key = base64.b32encode(self.secret).decode()
        return pyotp.HOTP(key, digits=self.digits, digest=_DIGESTS[Algorithm(self.algorithm)])

    def code_at(self, counter: int) -> str:
        """The code for one counter value (0 to MAX_COUNTER)."""
        if not 0 <= counter <= MAX_COUNTER:
            raise ValueError("an HOTP counter is 0 to 2**64 - 1")
        return self._otp.generate_otp(counter)


@dataclass(frozen=True)
class TotpToken:
    """A time-based OATH token: HOTP over the number of `period`-second steps since `t0` (Unix time)."""

    secret: bytes = field(repr=False)
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30
    t0: int = 0

    def __post_init__(self) -> None:
        _check(self.secret, self.algorithm, self.digits)
        if not isinstance(self.period, int) or not 1 <= self.period <= 600:
            raise InputError(f"The token's time step of {self.period} s is not 1 to 600 seconds.",
                             "Check the token's record; it was stored damaged.")

    @cached_property
    def _hotp(self) -> HotpToken:
        return HotpToken(self.secret, self.algorithm, self.digits)

    def code_at(self, step: int) -> str:
        """The code for one time step."""
        return self._hotp.code_at(step)
