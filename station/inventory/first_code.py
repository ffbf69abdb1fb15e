"""The first code typed from a classic OATH token, checked offline against its sealed seed.

Kept to one function so the code-verification core (station/codes) can replace its body. TOTP: one
time step either side of now (RFC 6238 section 5.2). HOTP: the counter from the seed file and the next
LOOK_AHEAD values (RFC 4226 section 7.4), since a token's button may have been pressed in the box.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

import pyotp

from ..verify import normalise_code

TOTP_WINDOW = 1
LOOK_AHEAD = 10
_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def check_first_code(seed: dict, secret: bytes, code: str, at: datetime) -> int | None:
    """The moving factor (TOTP step or HOTP counter) the code matches, or None if it matches none.

    `seed` holds oath_type, algorithm, digits, period and counter as received.
    """
    code = normalise_code(code)
    if len(code) != seed["digits"]:
        return None
    key = base64.b32encode(secret).decode()
    digest = _DIGESTS[seed["algorithm"]]
    if seed["oath_type"] == "TOTP":
        otp: pyotp.OTP = pyotp.TOTP(key, digits=seed["digits"], digest=digest, interval=seed["period"])
        now = int(at.timestamp()) // seed["period"]
        candidates = sorted(range(now - TOTP_WINDOW, now + TOTP_WINDOW + 1), key=lambda s: abs(s - now))
    else:
        otp = pyotp.HOTP(key, digits=seed["digits"], digest=digest)
        candidates = list(range(seed["counter"], seed["counter"] + LOOK_AHEAD + 1))
    for factor in candidates:
        if hmac.compare_digest(otp.generate_otp(factor), code):
            return factor
    return None
