"""Benchmark: offline verifications per second for each kind of code, against pyotp's bare TOTP.verify.

Run: .venv/bin/python tests/bench/bench_codes.py [SECONDS_PER_CASE]
Every case runs in this one process for about the same time, so the ratios to the baseline (pyotp's
`TOTP.verify` of a good code at the current step, no window, no state) cancel out machine speed. Our
TOTP check does more by design: three steps (the window), replay and drift rules, input normalising.
Recovery and temporary codes are slow on purpose (Argon2id at OWASP's minimum cost): their rate is the
guessing rate an attacker with the station's hashes gets per core.
"""

from __future__ import annotations

import base64
import struct
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyotp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from yubikit.core.otp import calculate_crc, modhex_encode

from station.codes import (
    HotpState,
    HotpToken,
    TotpState,
    TotpToken,
    YubicoOtpKey,
    YubicoOtpState,
    grant_temporary_code,
    issue_recovery_codes,
    resync_hotp,
    verify_hotp,
    verify_recovery_code,
    verify_temporary_code,
    verify_totp,
    verify_yubico_otp,
)

SEED = b"12345678901234567890"
NOW = datetime(2026, 12, 3, 3, 0, 10, tzinfo=UTC)
UNIX = int(NOW.timestamp())


def rate(check: Callable[[], object], seconds: float) -> float:
    """Calls per second, timed over batches until `seconds` have passed."""
    check()  # warm caches
    calls, start, batch = 0, time.perf_counter(), 1
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            check()
        calls += batch
        batch = min(batch * 2, 4096)
    return calls / elapsed


def yubico_otp(key: YubicoOtpKey) -> str:
    body = key.private_id + struct.pack("<H", 7) + (0x1234).to_bytes(3, "little") + bytes([3]) + b"\x55\xaa"
    ticket = body + struct.pack("<H", 0xFFFF & ~calculate_crc(body))
    encrypted = Cipher(algorithms.AES(key.aes_key), modes.ECB()).encryptor().update(ticket)  # noqa: S305
    return modhex_encode(key.public_id + encrypted)


def main(seconds: float = 1.0) -> None:
    bare = pyotp.TOTP(base64.b32encode(SEED).decode())
    code = bare.at(UNIX)
    totp = TotpToken(SEED)
    hotp = HotpToken(SEED)
    hotp_code, far = hotp.code_at(0), (hotp.code_at(990), hotp.code_at(991))
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in {hotp.code_at(c) for c in range(11)})
    yubikey = YubicoOtpKey(bytes.fromhex("ff0000123456"), bytes.fromhex("a1a2a3a4a5a6"), bytes(range(16)))
    otp = yubico_otp(yubikey)
    recovery, kept = issue_recovery_codes(NOW)
    temporary, record = grant_temporary_code(NOW, NOW + timedelta(hours=8), single_use=False)

    def totp_fresh_token() -> object:  # as `station verify` does: a token value per check
        return verify_totp(TotpToken(SEED), TotpState(), code, NOW)

    baseline = rate(lambda: bare.verify(code, for_time=UNIX), seconds)
    cases = [
        ("TOTP, good code (window 1)", lambda: verify_totp(totp, TotpState(), code, NOW)),
        ("TOTP, good code, token built per check", totp_fresh_token),
        ("TOTP, wrong code (3 steps tried)", lambda: verify_totp(totp, TotpState(), wrong, NOW)),
        ("HOTP, good code at the expected counter", lambda: verify_hotp(hotp, HotpState(), hotp_code)),
        ("HOTP, wrong code (look-ahead 10 + look-back 11)", lambda: verify_hotp(hotp, HotpState(), wrong)),
        ("HOTP resync, two codes 990 ahead", lambda: resync_hotp(hotp, HotpState(), *far)),
        ("Yubico OTP, good OTP", lambda: verify_yubico_otp(yubikey, YubicoOtpState(), otp)),
        ("recovery code, Argon2id 19 MiB t=2", lambda: verify_recovery_code(kept, recovery[0], NOW)),
        ("temporary access code, Argon2id 19 MiB t=2", lambda: verify_temporary_code(record, temporary, NOW)),
    ]
    print(f"baseline pyotp TOTP.verify (1 step, no state): {baseline:12,.0f} /s")
    width = max(len(name) for name, _ in cases)
    for name, check in cases:
        r = rate(check, seconds)
        print(f"{name:<{width}}  {r:12,.1f} /s  ratio to baseline {r / baseline:8.4f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
