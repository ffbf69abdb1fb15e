"""Yubico OTP verification, offline: the station holds each key's AES key and private id.

A Yubico OTP is the key's public id (0 to 16 bytes) followed by one AES-128 block, both in modhex
(https://developers.yubico.com/OTP/OTPs_Explained.html). Decrypted, the block is the ticket

    private id (6) | usage counter (2, LE) | timestamp (3, LE) | session counter (1) | random (2) | crc (2)

whose CRC-16 (ISO 13239) over all 16 bytes leaves the residue 0xF0B8. The top bit of the usage
counter is a flag (the OTP was triggered by caps lock), not part of the count. An OTP is accepted
when its public id names the key, the ticket's checksum holds, the private id is the key's, and
(usage counter, session counter) is strictly above the last accepted pair: the usage counter moves at
each power-up and when the session counter wraps, so the pair only ever grows on a genuine key.

Input is normalised (spaces, line breaks, case) and may be modhex, as keys type it, or hex, as some
tools print it. A string of only b, c, d, e and f reads both ways; both readings are tried. Modhex and
the CRC come from yubikit (Yubico's own library); AES from cryptography.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from yubikit.core.otp import check_crc, modhex_decode, modhex_encode

from ..errors import InputError
from .normalise import strip_separators
from .results import Accepted, Malformed, MalformedReason, Rejected, RejectReason, Result

MODHEX = frozenset("cbdefghijklnrtuv")
HEX = frozenset("0123456789abcdef")
TICKET_CHARS = 32  # one AES block, two characters a byte
MAX_PUBLIC_ID = 16
USAGE_MAX = 0x7FFF  # 15 bits; the key stops counting there
PRIVATE_ID_SIZE, AES_KEY_SIZE = 6, 16
_TOUCH_AGAIN = "Touch the key again with the cursor in an empty field, and let it type the whole OTP."


@dataclass(frozen=True)
class YubicoOtpKey:
    """What the station holds for one key's Yubico OTP slot. Only the public id is not secret."""

    public_id: bytes
    private_id: bytes = field(repr=False)
    aes_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.public_id, bytes) or len(self.public_id) > MAX_PUBLIC_ID:
            raise InputError("A Yubico OTP public id is 0 to 16 bytes.", "Check the key's record.")
        if not isinstance(self.private_id, bytes) or len(self.private_id) != PRIVATE_ID_SIZE:
            raise InputError("A Yubico OTP private id is 6 bytes.", "Check the key's record.")
        if not isinstance(self.aes_key, bytes) or len(self.aes_key) != AES_KEY_SIZE:
            raise InputError("A Yubico OTP AES key is 16 bytes.", "Check the key's record.")

    @property
    def public_id_modhex(self) -> str:
        return modhex_encode(self.public_id)


@dataclass(frozen=True)
class YubicoOtpState:
    """The counters of the last accepted OTP (-1, -1: none yet)."""

    usage_counter: int = -1
    session_counter: int = -1


@dataclass(frozen=True)
class YubicoOtpReading:
    """One way to read a typed OTP: the public id, which names the key, and the encrypted ticket."""

    public_id: bytes
    ciphertext: bytes = field(repr=False)

    @property
    def public_id_modhex(self) -> str:
        return modhex_encode(self.public_id)


@dataclass(frozen=True)
class Ticket:
    """A decrypted, checksummed ticket (private id left out: it is secret)."""

    usage_counter: int
    timestamp: int
    session_counter: int
    caps_lock: bool


def parse_yubico_otp(text: object) -> tuple[YubicoOtpReading, ...] | Malformed:
    """The readings of a typed OTP (one, or two when it reads as modhex and as hex), or why it is none.

    The station looks the key up by a reading's public id before verifying.
    """
    cleaned = strip_separators(text, "OTP", _TOUCH_AGAIN)
    if isinstance(cleaned, Malformed):
        return cleaned
    cleaned = cleaned.lower() if cleaned.isascii() else cleaned
    chars = set(cleaned)
    encodings = [name for name, alphabet in (("modhex", MODHEX), ("hex", HEX)) if alphabet.issuperset(chars)]
    if not encodings:
        return Malformed(
            MalformedReason.BAD_CHARACTERS,
            "This is not a Yubico OTP: it has characters that are neither modhex nor hex.",
            "Touch the key again with the cursor in the field, on a US or UK keyboard layout.",
        )
    if len(cleaned) % 2 or not TICKET_CHARS <= len(cleaned) <= TICKET_CHARS + 2 * MAX_PUBLIC_ID:
        return Malformed(
            MalformedReason.WRONG_LENGTH,
            f"This is not a Yubico OTP: it is {len(cleaned)} characters; an OTP is 32 to 64 (usually 44).",
            _TOUCH_AGAIN,
        )
    readings = []
    for encoding in encodings:
        raw = modhex_decode(cleaned) if encoding == "modhex" else bytes.fromhex(cleaned)
        readings.append(YubicoOtpReading(raw[:-16], raw[-16:]))
    return tuple(readings)


def decrypt_ticket(key: YubicoOtpKey, ciphertext: bytes) -> tuple[bytes, Ticket] | None:
    """The private id and ticket, or None when the CRC says this is not a ticket under this AES key."""
    decryptor = Cipher(algorithms.AES(key.aes_key), modes.ECB()).decryptor()  # noqa: S305 - the OTP's format
    plain = decryptor.update(ciphertext) + decryptor.finalize()
    if not check_crc(plain):
        return None
    usage, = struct.unpack_from("<H", plain, 6)
    ticket = Ticket(usage & USAGE_MAX, int.from_bytes(plain[8:11], "little"), plain[11], bool(usage & 0x8000))
    return plain[:6], ticket


def verify_yubico_otp(key: YubicoOtpKey, state: YubicoOtpState, otp: object) -> Result[YubicoOtpState]:
    """Accept `otp` from `key` once, returning the new counters, or say why not."""
    readings = parse_yubico_otp(otp)
    if isinstance(readings, Malformed):
        return readings
    expected = TICKET_CHARS + 2 * len(key.public_id)
    length = 2 * (len(readings[0].public_id) + 16)
    if length != expected:
        return Malformed(
            MalformedReason.WRONG_LENGTH,
            f"The OTP is {length} characters; an OTP from this key is {expected}.",
            _TOUCH_AGAIN,
        )
    mine = [r for r in readings if r.public_id == key.public_id]
    if not mine:
        return Rejected(
            RejectReason.OTHER_KEY,
            f"This OTP comes from another key (public id {readings[0].public_id_modhex}, this key's is "
            f"{key.public_id_modhex}).",
            "Check that the owner touched their own key.",
        )
    for reading in mine:
        opened = decrypt_ticket(key, reading.ciphertext)
        if opened is not None:
            return _check_ticket(key, state, *opened)
    return Rejected(
        RejectReason.BAD_CHECKSUM,
        "The OTP does not decrypt to a valid ticket with this key's AES key.",
        "Touch the key again; if it is refused again, the slot was reprogrammed and the key must be "
        "re-registered.",
    )


def _check_ticket(key: YubicoOtpKey, state: YubicoOtpState, private_id: bytes, ticket: Ticket
                  ) -> Result[YubicoOtpState]:
    if not hmac.compare_digest(private_id, key.private_id):
        return Rejected(
            RejectReason.WRONG_PRIVATE_ID,
            "The OTP decrypts but carries another private id than this key's.",
            "Do not accept it: the slot was reprogrammed or the OTP forged; a supervisor must check the key.",
        )
    seen = (state.usage_counter, state.session_counter)
    got = (ticket.usage_counter, ticket.session_counter)
    if got > seen:
        return Accepted(YubicoOtpState(*got), "OTP accepted.")
    if got == seen:
        return Rejected(RejectReason.REPLAY, "This OTP was already used; an OTP is accepted only once.",
                        "Touch the key again for a new OTP.")
    if ticket.usage_counter == USAGE_MAX:
        return Rejected(RejectReason.EXHAUSTED,
                        "The key's usage counter is at its maximum (32767): its OTPs cannot be ordered.",
                        "Reprogram the key's Yubico OTP slot with a new AES key and register it again.")
    return Rejected(
        RejectReason.OLDER,
        "This OTP is older than one already used (its counters are lower); it is refused.",
        "Touch the key again for a new OTP. If a fresh OTP is refused too, someone may have used a copy of "
        "the key's OTPs: tell a supervisor.",
    )
