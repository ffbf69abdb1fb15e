"""Helpers for the IdP hand-off tests: a station with issued tokens of every kind, and export folders."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import operator_tokens as ot
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from ykman.otp import format_csv
from yubikit.yubiotp import SLOT, YubiOtpSession, YubiOtpSlotConfiguration

from drivers.emulator import VirtualConnection
from drivers.emulator.otp import crc16, modhex
from station.idp.imports import ImportOptions, import_seed_file
from station.inventory.classic import issue_classic
from station.issue import IssueRequest, issue_totp

PASSWORD = "correct horse battery staple 42"
RFC_SECRET = b"12345678901234567890"  # RFC 4226 / 6238 test secret
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
YK_SERIAL = 20261201
OTP_SERIAL = 20261202
PRIVATE_ID = bytes.fromhex("a1a2a3a4a5a6")
AES_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def drive(tmp_path: Path) -> Path:
    """A directory only this user can open: what a removable drive mounted for the operator looks like."""
    path = tmp_path / "usb"
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def sign_in_for(monkeypatch, desk, argv) -> None:
    """A CLI call naming `--operator WHO` signs WHO in as a script would: PIN and their next code."""
    if "--operator" in argv:
        who = argv[list(argv).index("--operator") + 1]
        monkeypatch.setenv("STATION_OPERATOR_PIN", ot.pin(who))
        monkeypatch.setenv("STATION_OPERATOR_OTP", desk.codes.next(who))


def public_id(serial: int) -> str:
    return modhex(b"\xff\x00" + serial.to_bytes(4, "big"))


def program_yubico_otp(key, serial: int) -> str:
    """Program slot 1 of a virtual key with Yubico OTP through yubikit (as ykman does); ykman's log line."""
    conn = VirtualConnection(key)
    session = YubiOtpSession(conn)
    pid = bytes.fromhex("ff00") + serial.to_bytes(4, "big")
    session.put_configuration(SLOT.ONE, YubiOtpSlotConfiguration(pid, PRIVATE_ID, AES_KEY))
    return format_csv(serial, pid, PRIVATE_ID, AES_KEY, None)


def make_otp(serial: int, usage: int, session: int = 0, key: bytes = AES_KEY, uid: bytes = PRIVATE_ID) -> str:
    """A Yubico OTP built from the spec (ticket, CRC, AES-128), independent of the station's checker."""
    body = uid + struct.pack("<H", usage) + (0x123456).to_bytes(3, "little") + bytes([session]) + b"\xef\xbe"
    ticket = body + struct.pack("<H", 0xFFFF & ~crc16(body))
    return public_id(serial) + modhex(Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(ticket))


def stock_classic(desk, serials=("FT0001",), kind: str = "totp") -> None:
    """Classic RFC-secret tokens from a serial,secret seed file, received by the import path."""
    data = "".join(f"{s},{RFC_SECRET.hex()}\n" for s in serials).encode()
    options = ImportOptions(format="serial-secret", kind=kind, secret_encoding="hex")
    import_seed_file(
        desk.station,
        data,
        options,
        operator=desk.op("carol"),
        source="vendor.csv",
        vendor="Feitian",
        model="c200",
    )


def populated(desk):
    """YubiKey TOTP issued to alice, classic HOTP issued to bob, a taken-over YubiKey OTP key in stock.

    Returns the two virtual keys (the issued one, the Yubico OTP one), both left in their readers.
    """
    yubikey = desk.only(YK_SERIAL)
    issue_totp(desk.station, IssueRequest(YK_SERIAL, "alice", desk.op("carol")))
    stock_classic(desk, ("FT0001",), kind="hotp")
    issue_classic(desk.station, "FT0001", owner="bob", operator=desk.op("carol"), code=RFC4226[0])
    key = desk.insert(OTP_SERIAL)
    line = program_yubico_otp(key, OTP_SERIAL)
    import_seed_file(
        desk.station, (line + "\n").encode(), ImportOptions(), operator=desk.op("carol"), source="ykman.csv"
    )
    return yubikey, key
