"""Text encodings of secrets: hex, base32 (RFC 4648) and modhex, and telling hex from base32.

A secret written with only the characters 2-7 and A-F is valid hex and valid base32 and decodes to
different bytes; guessing would import wrong seeds silently. So the encoding is decided for the whole
file: the one encoding every secret fits; if both fit every secret, the caller must say which.
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import Enum

from .model import MODHEX_ALPHABET

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_B32 = re.compile(r"^[A-Za-z2-7]+=*$")
_SPACES = re.compile(r"[\s-]+")


class SecretEncoding(Enum):
    AUTO = "auto"
    HEX = "hex"
    BASE32 = "base32"


def compact(text: str) -> str:
    """Secrets are often printed in groups ("ABCD EFGH" or "abcd-efgh"): drop the separators."""
    return _SPACES.sub("", text)


def hex_decode(text: str) -> bytes | None:
    text = compact(text)
    if not _HEX.match(text) or len(text) % 2:
        return None
    return bytes.fromhex(text)


def base32_decode(text: str) -> bytes | None:
    text = compact(text).upper()
    if not _B32.match(text):
        return None
    body = text.rstrip("=")
    if len(body) % 8 in (1, 3, 6):
        return None
    try:
        return base64.b32decode(body + "=" * (-len(body) % 8))
    except binascii.Error:
        return None


def base32_encode(data: bytes) -> str:
    """Upper-case base32 without padding: what Entra and otpauth URIs expect."""
    return base64.b32encode(data).decode().rstrip("=")


def fits(text: str) -> set[SecretEncoding]:
    found = set()
    if hex_decode(text) is not None:
        found.add(SecretEncoding.HEX)
    if base32_decode(text) is not None:
        found.add(SecretEncoding.BASE32)
    return found


def decide_encoding(secrets: list[str], wanted: SecretEncoding) -> SecretEncoding:
    """The encoding of a file's secrets; raises ValueError (with the reason) when it cannot tell."""
    if wanted is not SecretEncoding.AUTO:
        return wanted
    candidates = [fits(s) for s in secrets if s.strip()]
    if not candidates:
        return SecretEncoding.HEX
    all_fit = [e for e in (SecretEncoding.HEX, SecretEncoding.BASE32) if all(e in c for c in candidates)]
    if len(all_fit) == 1:
        return all_fit[0]
    if len(all_fit) == 2:
        raise ValueError("every secret in the file reads both as hex and as base32, which decode differently")
    some_fit = [e for e in (SecretEncoding.HEX, SecretEncoding.BASE32) if any(e in c for c in candidates)]
    if len(some_fit) == 1:
        return some_fit[0]
    raise ValueError("some secrets are only valid hex and others only valid base32")


def decode(text: str, encoding: SecretEncoding) -> bytes | None:
    return hex_decode(text) if encoding is SecretEncoding.HEX else base32_decode(text)


def modhex_decode(text: str) -> bytes | None:
    text = compact(text).lower()
    if len(text) % 2 or any(c not in MODHEX_ALPHABET for c in text):
        return None
    return bytes.fromhex("".join("0123456789abcdef"[MODHEX_ALPHABET.index(c)] for c in text))


def modhex_encode(data: bytes) -> str:
    return "".join(MODHEX_ALPHABET[int(c, 16)] for c in data.hex())


def serial_from_public_id(public_id: str) -> str:
    """The serial a public id encodes when it was made from it (`ykman otp yubiotp -S`: ff 00 + serial).

    Returns "" for any other public id.
    """
    raw = modhex_decode(public_id)
    if raw is None or len(raw) != 6 or raw[:2] != b"\xff\x00":
        return ""
    return str(int.from_bytes(raw[2:], "big"))
