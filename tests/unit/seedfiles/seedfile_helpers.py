"""Test helpers: sample seeds, codes from any seed (pyotp; Yubico OTP by its spec), fixed randomness."""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import UTC, datetime
from pathlib import Path

import pyotp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drivers.emulator.otp import crc16, modhex
from station.seedfiles import HashAlgorithm, OtpKind, TokenSeed

DATA = Path(__file__).parent / "data"
WHEN = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
# RFC 4226 / RFC 6238 test secrets (Appendix B of RFC 6238 gives 20, 32 and 64-byte ASCII seeds).
RFC_SHA1 = b"12345678901234567890"
RFC_SHA256 = b"12345678901234567890123456789012"
RFC_SHA512 = b"1234567890123456789012345678901234567890123456789012345678901234"


def yubikey_public_id(serial: int) -> str:
    """ykman otp yubiotp --serial-public-id: modhex of ff 00 and the 4-byte serial."""
    return modhex(b"\xff\x00" + serial.to_bytes(4, "big"))


TOTP_ALICE = TokenSeed(
    "60123456", OtpKind.TOTP, RFC_SHA1, owner="alice@example.com", manufacturer="Token2", model="C202"
)
TOTP_BOB_60 = TokenSeed(
    "2600124809778",
    OtpKind.TOTP,
    bytes(range(100, 120)),
    period=60,
    owner="bob@example.com",
    manufacturer="Feitian Technology Co.,Ltd",
    model="c200",
)
HOTP_CAROL = TokenSeed(
    "1000133508267",
    OtpKind.HOTP,
    bytes(range(1, 21)),
    counter=7,
    owner="carol@example.com",
    manufacturer="Feitian Technology Co.,Ltd",
    model="c100",
)
HOTP_8 = TokenSeed("1000133508268", OtpKind.HOTP, bytes(range(21, 41)), digits=8, counter=0, owner="dave")
TOTP_SHA256_8 = TokenSeed(
    "TS-0001",
    OtpKind.TOTP,
    RFC_SHA256,
    digits=8,
    algorithm=HashAlgorithm.SHA256,
    owner="erin@example.com",
    manufacturer="Yubico",
    model="YubiKey 5 NFC",
)
TOTP_SHA512 = TokenSeed(
    "TS-0002",
    OtpKind.TOTP,
    RFC_SHA512,
    algorithm=HashAlgorithm.SHA512,
    owner="frank@example.com",
    manufacturer="Yubico",
    model="YubiKey 5C",
)
YUBIOTP = TokenSeed(
    "20261203",
    OtpKind.YUBICO_OTP,
    bytes.fromhex("ecde18dbe76fbd0c33330f1c354871db"),
    public_id=yubikey_public_id(20261203),
    private_id=bytes.fromhex("ca62baca62ba"),
    slot=1,
    manufacturer="Yubico",
    owner="gina@example.com",
)
OATH_SEEDS = (TOTP_ALICE, TOTP_BOB_60, HOTP_CAROL, HOTP_8, TOTP_SHA256_8, TOTP_SHA512)
ALL_SEEDS = (*OATH_SEEDS, YUBIOTP)

TIMES = (0, 59, 1111111109, 1234567890, 2000000000, 20000000000)


def oath(seed: TokenSeed) -> pyotp.OTP:
    b32 = base64.b32encode(seed.secret).decode()
    digest = {"SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}[seed.algorithm.value]
    if seed.kind is OtpKind.TOTP:
        return pyotp.TOTP(b32, digits=seed.digits, digest=getattr(hashlib, digest), interval=seed.period)
    return pyotp.HOTP(b32, digits=seed.digits, digest=getattr(hashlib, digest), initial_count=seed.counter)


def yubico_otp(seed: TokenSeed, use: int, timestamp: int, session: int, rnd: int) -> str:
    """A Yubico OTP for fixed counters (Yubico OTP spec; the ticket layout is in drivers/emulator/otp.py)."""
    body = seed.private_id + struct.pack("<H", use) + struct.pack("<I", timestamp)[:3] + bytes([session])
    body += struct.pack("<H", rnd)
    ticket = body + struct.pack("<H", 0xFFFF & ~crc16(body))
    enc = Cipher(algorithms.AES(seed.secret), modes.ECB()).encryptor()  # noqa: S305 - Yubico OTP is ECB
    return seed.public_id + modhex(enc.update(ticket) + enc.finalize())


def codes(seed: TokenSeed) -> list[str]:
    """Codes that only the same secret and parameters reproduce."""
    if seed.kind is OtpKind.YUBICO_OTP:
        return [yubico_otp(seed, u, t, s, r) for u, t, s, r in ((1, 0, 0, 0), (7, 0x123456, 3, 0xBEEF))]
    otp = oath(seed)
    if seed.kind is OtpKind.TOTP:
        return [otp.at(t) for t in TIMES]
    return [otp.at(seed.counter + i) for i in range(4)]


class FixedRandom:
    """Deterministic bytes for golden files (IVs, MAC keys, salts): never for real exports."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, size: int) -> bytes:
        out = bytes((self.n + i) % 256 for i in range(size))
        self.n += size
        return out
