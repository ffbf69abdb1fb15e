"""The neutral token seed every reader produces and every writer consumes, and the import report.

A `TokenSeed` is one OTP credential of one token: an OATH HOTP or TOTP secret (RFC 4226, RFC 6238)
or a Yubico OTP key (AES-128 key, private id, public id). Formats drop fields they cannot carry; a
round trip keeps what the format holds. Secrets never appear in `repr`, so a seed in a log line or a
traceback shows the serial, never the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

MODHEX_ALPHABET = "cbdefghijklnrtuv"
_MODHEX = re.compile(f"^[{MODHEX_ALPHABET}]*$")


class OtpKind(Enum):
    HOTP = "hotp"
    TOTP = "totp"
    YUBICO_OTP = "yubico-otp"


class HashAlgorithm(Enum):
    """The HMAC hash of an OATH credential (RFC 6238 section 1.2 allows SHA-1, SHA-256, SHA-512)."""

    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"


class ImportMode(Enum):
    """ALL_OR_NOTHING: one bad entry rejects the file. GOOD_ONES: keep the good, list the rest."""

    ALL_OR_NOTHING = "all-or-nothing"
    GOOD_ONES = "good-ones"


@dataclass(frozen=True)
class TokenSeed:
    serial: str
    kind: OtpKind
    secret: bytes = field(repr=False)
    digits: int = 6
    algorithm: HashAlgorithm = HashAlgorithm.SHA1
    period: int = 30
    counter: int = 0
    t0: int = 0
    public_id: str = ""
    private_id: bytes = field(default=b"", repr=False)
    slot: int | None = None
    pin: bytes = field(default=b"", repr=False)
    key_id: str = ""
    manufacturer: str = ""
    model: str = ""
    issuer: str = ""
    owner: str = ""
    owner_resolver: str = ""
    owner_realm: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        problem = seed_problem(self)
        if problem:
            raise ValueError(problem)


def seed_problem(seed: TokenSeed) -> str:
    """Why these values cannot be a working credential ("" when they can); never names the secret."""
    if not seed.serial or seed.serial != seed.serial.strip():
        return "the serial number is empty or has surrounding spaces"
    if not seed.secret:
        return "the secret is empty"
    if len(seed.secret) > 256:
        return f"the secret is {len(seed.secret)} bytes, far longer than any OTP token's"
    if seed.kind is OtpKind.YUBICO_OTP:
        if len(seed.secret) != 16:
            return f"a Yubico OTP key is 16 bytes (AES-128), this one is {len(seed.secret)}"
        if len(seed.private_id) != 6:
            return f"a Yubico OTP private id is 6 bytes, this one is {len(seed.private_id)}"
        if not _MODHEX.match(seed.public_id) or len(seed.public_id) % 2 or len(seed.public_id) > 32:
            return "the Yubico OTP public id is not modhex of at most 16 bytes"
    else:
        if not 6 <= seed.digits <= 10:
            return f"{seed.digits} digits: OATH codes have 6 to 10 digits"
        if seed.counter < 0:
            return "the HOTP counter is negative"
        if not 1 <= seed.period <= 120:
            return f"a TOTP time step of {seed.period} s is outside 1-120 s (tokens use 30 or 60)"
    if seed.slot is not None and seed.slot not in (1, 2):
        return f"slot {seed.slot}: a YubiKey has OTP slots 1 and 2"
    return ""


@dataclass(frozen=True)
class Reject:
    """One bad entry: where it is (line or entry number), its serial if known, what is wrong."""

    position: int
    unit: str
    serial: str
    problem: str
    hint: str = ""

    def describe(self) -> str:
        who = f"serial {self.serial}" if self.serial else "no serial"
        text = f"{self.unit} {self.position} ({who}): {self.problem}"
        return f"{text} - {self.hint}" if self.hint else text


@dataclass(frozen=True)
class ImportResult:
    """What a reader accepted and what it rejected; `notes` say what was read but not checked."""

    format: str
    seeds: tuple[TokenSeed, ...]
    rejects: tuple[Reject, ...] = ()
    notes: tuple[str, ...] = ()
