"""An independent Yubico OTP decoder for the tests: written from Yubico's description of the format, sharing
no code with the emulator (drivers/emulator/otp.py) nor with yubikit.

Source: Yubico, "OTPs Explained" (developers.yubico.com/OTP/OTPs_Explained.html) and the YubiKey manual's
"Yubico OTP" chapter: the OTP is the public id followed by 32 modhex characters, the modhex of the 16-byte
token AES-128 encrypted under the slot's key (ECB, one block). The token is the 6-byte private id, the
usage counter (2 bytes, little endian), a timestamp (3 bytes, little endian, 8 Hz), the session counter
(1 byte), 2 random bytes, and a CRC-16 (ISO 13239) chosen so that the CRC over all 16 bytes is 0xF0B8.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MODHEX_ALPHABET = "cbdefghijklnrtuv"  # modhex digit n stands for hex digit n
CRC_RESIDUAL = 0xF0B8


def from_modhex(text: str) -> bytes:
    if len(text) % 2 or any(ch not in MODHEX_ALPHABET for ch in text):
        raise ValueError(f"{text!r} is not modhex")
    return bytes.fromhex("".join("0123456789abcdef"[MODHEX_ALPHABET.index(ch)] for ch in text))


def to_modhex(data: bytes) -> str:
    return "".join(MODHEX_ALPHABET[int(h, 16)] for h in data.hex())


def crc16_iso13239(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True)
class Token:
    public_id: bytes
    private_id: bytes
    usage_counter: int
    timestamp: int
    session_counter: int


def decode(otp: str, aes_key: bytes) -> Token:
    """Split, decrypt and check one Yubico OTP; ValueError if the CRC is wrong."""
    public, encrypted = otp[:-32], from_modhex(otp[-32:])
    decryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()  # noqa: S305 - the format
    token = decryptor.update(encrypted) + decryptor.finalize()
    if crc16_iso13239(token) != CRC_RESIDUAL:
        raise ValueError("CRC check failed: wrong key or damaged OTP")
    return Token(
        public_id=from_modhex(public),
        private_id=token[:6],
        usage_counter=int.from_bytes(token[6:8], "little"),
        timestamp=int.from_bytes(token[8:11], "little"),
        session_counter=token[11],
    )
