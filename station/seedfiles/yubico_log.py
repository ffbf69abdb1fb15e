"""YubiKey Personalization Tool and `ykman otp yubiotp -O` logs; Okta's YubiKey seed file.

Layouts, from Yubico's sources (yubikey-personalization-gui src/yubikeylogger.cpp, ykman's
ykman/otp.py format_csv):
- "Yubico format" (the tool's option, and what `ykman otp yubiotp -O FILE` appends), per mode:
    Yubico OTP:          serial,public id (modhex),private id (hex),AES key (hex),access code,timestamp,
    OATH-HOTP:           serial,token identifier,moving factor,HMAC key (hex),access code,timestamp,
    challenge-response:  serial,,0,HMAC key,access code,timestamp,
    static password:     serial,,,key,access code,timestamp,
  The timestamp is "yyyy-MM-ddThh:mm:ss"; the line ends with a comma. Okta's YubiKey OTP seed upload
  ("Configuration Secrets file", Yubico's "Programming YubiKeys for Okta") is exactly this format.
- "Traditional format": a "LOGGING START,<time>" line, then
    event type,local time,slot,public id,private id,secret key,current access code,new access code,
    oathFixedModhex1,oathFixedModhex2,oathFixedModhex,HOTP digits,moving factor,strongPw1,strongPw2,
    sendRef,chalBtnTrig,hmacLT64
  It records no serial number: a row is imported only when its public id encodes the serial
  (`ykman otp yubiotp --serial-public-id`, ff 00 + serial).

An OATH-HOTP row without a token identifier and with moving factor 0 looks exactly like a
challenge-response row; such rows are rejected unless the caller says the log holds HOTP keys.
Static-password and challenge-response rows hold no OTP seed; they are listed in the notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from .csv_import import read_text, rows
from .encoding import hex_decode, serial_from_public_id
from .errors import ExportRefused
from .model import HashAlgorithm, ImportMode, ImportResult, OtpKind, Reject, TokenSeed
from .policy import DEFAULT_MAX_BYTES, finish

FORMAT = "Yubico log"
_TRADITIONAL_SEEDLESS = ("static password", "challenge-response", "configuration")


class _Skip(Exception):
    """A row that is not an OTP seed: noted, not rejected."""


class _Bad(Exception):
    def __init__(self, serial: str, problem: str, hint: str = "") -> None:
        super().__init__(problem)
        self.serial, self.problem, self.hint = serial, problem, hint


def _yubico_row(cells: list[str], hotp_digits: int, assume_hotp: bool) -> TokenSeed:
    if len(cells) < 4:
        raise _Bad(cells[0], "a Yubico-format line has serial, public id, private id or counter, key, ...")
    serial, public_id, third, key_hex = cells[0], cells[1], cells[2], cells[3]
    key = hex_decode(key_hex)
    if key is None:
        raise _Bad(serial, "the key is not hex")
    if not public_id and not third:
        raise _Skip(f"serial {serial}: a static password configuration, which holds no OTP seed")
    if len(key) == 16:
        private_id = hex_decode(third)
        if private_id is None or len(private_id) != 6:
            raise _Bad(serial, "the private id is not 6 bytes of hex")
        return _make(serial, kind=OtpKind.YUBICO_OTP, secret=key, public_id=public_id, private_id=private_id)
    if len(key) == 20:
        if not third.isdigit():
            raise _Bad(serial, "the moving factor (HOTP counter) is not a number")
        if not public_id and third == "0" and not assume_hotp:
            raise _Bad(
                serial,
                "this line is either OATH-HOTP (no token identifier, counter 0) or HMAC-SHA1 "
                "challenge-response: the Yubico format writes both the same way",
                "if these keys were programmed with OATH-HOTP, import again saying so (assume_hotp)",
            )
        return _make(
            serial, kind=OtpKind.HOTP, secret=key, counter=int(third), digits=hotp_digits, key_id=public_id
        )
    raise _Bad(serial, f"a {len(key)}-byte key is neither Yubico OTP (16 bytes) nor OATH-HOTP (20 bytes)")


def _traditional_row(cells: list[str]) -> TokenSeed:
    event = cells[0].lower()
    if event.startswith(_TRADITIONAL_SEEDLESS):
        raise _Skip(f"{cells[0]} configuration (public id {cells[3] if len(cells) > 3 else ''}), no OTP seed")
    if len(cells) < 13:
        raise _Bad("", "a traditional-format line has 18 columns; this one is short")
    slot, public_id, private_hex, key_hex = cells[2], cells[3], cells[4], cells[5]
    serial = serial_from_public_id(public_id)
    if not serial:
        raise _Bad(
            "",
            f"the traditional log has no serial number, and public id {public_id!r} does not encode one",
            "log in 'Yubico format' (it records the serial), or program with ykman --serial-public-id",
        )
    key = hex_decode(key_hex)
    if key is None:
        raise _Bad(serial, "the secret key is not hex")
    slot_number = int(slot) if slot in ("1", "2") else None
    if event == "yubico otp":
        private_id = hex_decode(private_hex)
        if private_id is None:
            raise _Bad(serial, "the private id is not hex")
        return _make(
            serial,
            kind=OtpKind.YUBICO_OTP,
            secret=key,
            public_id=public_id,
            private_id=private_id,
            slot=slot_number,
        )
    if event == "oath-hotp":
        digits, factor = cells[11], cells[12]
        if not digits.isdigit() or not factor.isdigit():
            raise _Bad(serial, "the HOTP digits or moving factor is not a number")
        return _make(
            serial,
            kind=OtpKind.HOTP,
            secret=key,
            digits=int(digits),
            counter=int(factor),
            slot=slot_number,
            key_id=public_id,
        )
    raise _Bad(serial, f"event type {cells[0]!r} is unknown")


def _make(serial: str, **fields: object) -> TokenSeed:
    try:
        return TokenSeed(serial=serial, manufacturer="Yubico", **fields)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _Bad(serial, str(exc)) from None


def parse_yubico_log(
    data: bytes,
    *,
    hotp_digits: int = 6,
    assume_hotp: bool = False,
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportResult:
    """Both layouts, line by line (a log can hold both after a settings change)."""
    found = []
    rejects: list[Reject] = []
    notes = []
    for number, cells in rows(read_text(data, max_bytes, FORMAT)):
        if cells[0].upper() == "LOGGING START":
            continue
        try:
            if cells[0].isdigit():
                seed = _yubico_row(cells, hotp_digits, assume_hotp)
            else:
                seed = _traditional_row(cells)
        except _Skip as skip:
            notes.append(f"line {number}: {skip}")
            continue
        except _Bad as bad:
            rejects.append(Reject(number, "line", bad.serial, bad.problem, bad.hint))
            continue
        found.append((number, seed))
    return finish(FORMAT, found, rejects, mode, "line", tuple(notes))


def _yubico_line(seed: TokenSeed, stamp: str) -> str:
    if seed.kind is OtpKind.YUBICO_OTP:
        middle = [seed.public_id, seed.private_id.hex()]
    else:
        middle = [seed.key_id, str(seed.counter)]
    return ",".join([seed.serial, *middle, seed.secret.hex(), "", stamp, ""])


def _log_refusal(seed: TokenSeed, okta: bool) -> str:
    if okta and seed.kind is not OtpKind.YUBICO_OTP:
        return f"Okta's YubiKey seed upload takes Yubico OTP keys only, this is {seed.kind.value.upper()}"
    if seed.kind is OtpKind.TOTP:
        return "a YubiKey OTP slot holds no TOTP credential; the Yubico log has no TOTP line"
    if seed.kind is OtpKind.HOTP:
        if seed.algorithm is not HashAlgorithm.SHA1 or len(seed.secret) != 20:
            return "a YubiKey OTP slot's OATH-HOTP is HMAC-SHA1 with a 20-byte key"
        if seed.digits != 6:
            return "the Yubico format does not record HOTP digits, so only 6-digit HOTP round-trips"
        if not seed.serial.isdigit():
            return "the Yubico format's first column is the YubiKey's numeric serial"
    elif not seed.serial.isdigit():
        return "the Yubico format's first column is the YubiKey's numeric serial"
    return ""


def write_yubico_log(seeds: Sequence[TokenSeed], *, when: datetime, okta: bool = False) -> bytes:
    """Yubico-format lines as ykman -O writes them; `okta` refuses everything but Yubico OTP.

    `when` (from the station's clock) is written in UTC, in the format's "yyyy-MM-ddThh:mm:ss".
    """
    refusals = tuple((s.serial, r) for s in seeds if (r := _log_refusal(s, okta)))
    if refusals:
        raise ExportRefused("Okta YubiKey seed" if okta else "Yubico log", refusals)
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return "".join(_yubico_line(s, stamp) + "\n" for s in seeds).encode()


def write_okta_yubikey_seeds(seeds: Sequence[TokenSeed], *, when: datetime) -> bytes:
    """Okta's YubiKey OTP seed file: the Yubico format, Yubico OTP keys only."""
    return write_yubico_log(seeds, when=when, okta=True)
