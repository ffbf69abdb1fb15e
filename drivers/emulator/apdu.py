"""Command APDUs, status words and the simple TLVs the YubiKey applets speak (ISO 7816-4).

The emulator parses the bytes it receives itself rather than trusting yubikit's encoder, so a
malformed APDU from any client gets the status word a real card would give.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# CLA bit 0x10 marks "more command data follows" (ISO 7816-4 command chaining).
CLA_CHAINING = 0x10
INS_SELECT = 0xA4
P1_SELECT_BY_AID = 0x04
# ISO GET RESPONSE; the OATH applet uses its own SEND REMAINING (0xA5) instead.
INS_GET_RESPONSE = 0xC0


class Sw(IntEnum):
    """Status words a YubiKey answers with."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
    SECURITY_CONDITION_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    DATA_INVALID = 0x6984  # YKOATH: "no such object" / "response does not match"
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    INCORRECT_PARAMETERS = 0x6A80  # YKOATH: "wrong syntax"
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    NO_SPACE = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    WRONG_PARAMETERS_P1P2 = 0x6B00
    INVALID_INSTRUCTION = 0x6D00
    CLASS_NOT_SUPPORTED = 0x6E00


SW1_MORE_DATA = 0x61


class ApduError(Exception):
    """An applet refuses a command; the card answers with this status word and no data."""

    def __init__(self, sw: int, why: str = "") -> None:
        super().__init__(f"SW {sw:04X}{': ' + why if why else ''}")
        self.sw = sw


@dataclass(frozen=True)
class CommandApdu:
    """One command APDU. `ne` is the number of response bytes the host accepts (Le decoded)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    ne: int
    extended: bool

    @property
    def chained(self) -> bool:
        """True if this is a non-final part of a command chain."""
        return bool(self.cla & CLA_CHAINING)

    @property
    def is_select(self) -> bool:
        return self.ins == INS_SELECT and self.p1 == P1_SELECT_BY_AID


def parse_apdu(raw: bytes) -> CommandApdu:
    """Decode the four ISO cases, short and extended; raise ApduError(6700) on bad lengths."""
    if len(raw) < 4:
        raise ApduError(Sw.WRONG_LENGTH, "APDU shorter than its header")
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    data, ne, extended = b"", 0, False
    if not body:  # case 1
        pass
    elif len(body) == 1:  # case 2 short; Le 00 means 256
        ne = body[0] or 256
    elif body[0] != 0:  # case 3/4 short
        lc = body[0]
        if len(body) == 1 + lc:
            data = body[1:]
        elif len(body) == 2 + lc:
            data, ne = body[1:-1], body[-1] or 256
        else:
            raise ApduError(Sw.WRONG_LENGTH, "Lc does not match the data")
    else:  # extended: a zero byte then two-byte lengths
        extended = True
        if len(body) == 3:  # case 2 extended
            ne = int.from_bytes(body[1:3], "big") or 65536
        else:
            lc = int.from_bytes(body[1:3], "big")
            if lc == 0:
                raise ApduError(Sw.WRONG_LENGTH, "extended Lc of zero")
            if len(body) == 3 + lc:
                data = body[3:]
            elif len(body) == 5 + lc:
                data, ne = body[3:-2], int.from_bytes(body[-2:], "big") or 65536
            else:
                raise ApduError(Sw.WRONG_LENGTH, "extended Lc does not match the data")
    return CommandApdu(cla, ins, p1, p2, bytes(data), ne, extended)


def response(data: bytes, sw: int) -> bytes:
    """A response APDU on the wire: data then SW1 SW2."""
    return bytes(data) + sw.to_bytes(2, "big")


def tlv(tag: int, value: bytes = b"") -> bytes:
    """BER-TLV with a one-byte tag, as every YubiKey applet here uses."""
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n <= 0xFF:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + value


def parse_tlvs(data: bytes) -> list[tuple[int, bytes]]:
    """Split data into (tag, value) pairs; raise ApduError(6A80) if it is not well formed."""
    items = []
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise ApduError(Sw.INCORRECT_PARAMETERS, "truncated TLV")
        tag, first = data[i], data[i + 1]
        i += 2
        if first < 0x80:
            n = first
        elif first in (0x81, 0x82):
            width = first - 0x80
            if i + width > len(data):
                raise ApduError(Sw.INCORRECT_PARAMETERS, "truncated TLV length")
            n = int.from_bytes(data[i : i + width], "big")
            i += width
        else:
            raise ApduError(Sw.INCORRECT_PARAMETERS, "unsupported TLV length form")
        if i + n > len(data):
            raise ApduError(Sw.INCORRECT_PARAMETERS, "TLV value runs past the data")
        items.append((tag, data[i : i + n]))
        i += n
    return items
