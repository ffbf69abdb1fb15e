"""Seed files into stock: every format the station reads, through the one intake path.

A desk meets vendor seed files (PSKC, CSV), privacyIDEA exports, YubiKey Personalization Tool and
`ykman otp yubiotp -O` logs (tokens programmed elsewhere, taken over here), and this station's own
exports (a PSKC file, or a 7z archive around a CSV or JSON). Each is parsed by station.seedfiles, then
received by `receive_seed_file`: seeds to the vault, the ledger names serials and keyed fingerprints.
A YubiKey's key (Yubico OTP, or an OATH credential from an export of YubiKeys) makes the token a
YubiKey in stock; any other seed a classic OATH token.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from ..core import Station
from ..errors import InputError
from ..inventory.intake import ReceiveReport
from ..inventory.intake import Reject as IntakeReject
from ..inventory.seed_intake import receive_seed_file
from ..operators.sessions import Session
from ..seedfiles import (
    HashAlgorithm,
    ImportMode,
    ImportResult,
    OtpKind,
    SecretEncoding,
    TokenSeed,
    parse_graph_hardware_oath_body,
    parse_otpauth_uris,
    parse_privacyidea_csv,
    parse_pskc,
    parse_serial_secret_csv,
    parse_vendor_csv,
    parse_yubico_log,
)
from .archive import open_seven_zip

SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
FORMATS = (
    "auto",
    "pskc",
    "privacyidea-csv",
    "vendor-csv",
    "entra-graph",
    "serial-secret",
    "duo",
    "yubico-log",
    "otpauth",
)
_DUO_TYPE = re.compile(r"^(h|t)(6|8)(?:-(30|60))?$")
_YUBICO_LINE = re.compile(r"^\d+,[cbdefghijklnrtuv]*,[0-9a-fA-F]*,[0-9a-fA-F]{32,40},")
_SKIPPED_MEMBERS = ("README.txt", "WARNING.txt")


@dataclass(frozen=True)
class ImportOptions:
    """How to read the file: format, keys, and what a format that does not say must be told."""

    format: str = "auto"
    password: str | None = field(default=None, repr=False)
    preshared_key: bytes | None = field(default=None, repr=False)
    kind: str | None = None  # serial-secret: totp or hotp
    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"
    secret_encoding: str = "auto"  # noqa: S105 - an encoding's name
    duo_type: str | None = None  # duo: h6, h8, t6-30, t8-60 ...
    assume_hotp: bool = False


@dataclass(frozen=True)
class IntakeSeed:
    """A parsed seed as the stock intake takes it (station.inventory.intake.TokenSeed, and more)."""

    serial: str
    secret: bytes = field(repr=False)
    oath_type: str
    algorithm: str
    digits: int
    period: int | None
    counter: int | None
    public_id: str = ""
    private_id: bytes = field(default=b"", repr=False)
    slot: int | None = None
    token_kind: str = "oath"  # noqa: S105 - a kind of token


def _is_yubikey(seed: TokenSeed) -> bool:
    yubico = seed.kind is OtpKind.YUBICO_OTP or seed.manufacturer.lower() in ("yubico", "oath.ub")
    return yubico and seed.serial.isdigit()


def to_intake(seed: TokenSeed) -> IntakeSeed:
    kind = seed.kind.value.upper().replace("-", "_")
    return IntakeSeed(
        serial=seed.serial,
        secret=seed.secret,
        oath_type=kind,
        algorithm=seed.algorithm.value,
        digits=seed.digits,
        period=seed.period if seed.kind is OtpKind.TOTP else None,
        counter=seed.counter if seed.kind is OtpKind.HOTP else None,
        public_id=seed.public_id,
        private_id=seed.private_id,
        slot=seed.slot,
        token_kind="yubikey" if _is_yubikey(seed) else "oath",
    )


def detect(data: bytes) -> str:
    """The format of a seed file from its content, or an error asking the operator to say it."""
    if data.startswith(SEVEN_ZIP_MAGIC):
        return "7z"
    text = data.lstrip(b"\xef\xbb\xbf").lstrip()
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    low = first.lower()
    if text.startswith(b"<"):
        return "pskc"
    if text.startswith(b"{"):
        return "entra-graph"
    if low.startswith("# version:"):
        return "privacyidea-csv"
    if low.startswith("otpauth://"):
        return "otpauth"
    if low.startswith("logging start") or _YUBICO_LINE.match(first):
        return "yubico-log"
    if "serial number" in low or "secret key" in low or "serialnumber" in low:
        return "vendor-csv"
    raise InputError(
        "Cannot tell the seed file's format from its content.",
        f"Say it with --format ({', '.join(FORMATS[1:])}).",
    )


def _duo_kind(duo_type: str) -> dict:
    match = _DUO_TYPE.match(duo_type or "")
    if not match:
        raise InputError(
            f"{duo_type!r} is not a Duo OATH token type.",
            "Use h6, h8 (HOTP) or t6-30, t6-60, t8-30, t8-60 (TOTP); Duo's YubiKey rows (yk)"
            " carry no public id, so import those keys from the Yubico log or PSKC instead.",
        )
    kind = OtpKind.HOTP if match.group(1) == "h" else OtpKind.TOTP
    return {"kind": kind, "digits": int(match.group(2)), "period": int(match.group(3) or 30)}


def parse(data: bytes, fmt: str, options: ImportOptions, mode: ImportMode, member: str = "") -> ImportResult:
    """One file (or archive member) in a named format, with the import policy's mode."""
    if fmt == "pskc":
        return parse_pskc(data, password=options.password, preshared_key=options.preshared_key, mode=mode)
    if fmt == "privacyidea-csv":
        return parse_privacyidea_csv(data, mode=mode)
    if fmt == "vendor-csv":
        wanted = SecretEncoding(options.secret_encoding)
        encoding = SecretEncoding.BASE32 if wanted is SecretEncoding.AUTO else wanted
        return parse_vendor_csv(
            data,
            digits=options.digits,
            algorithm=HashAlgorithm(options.algorithm),
            secret_encoding=encoding,
            mode=mode,
        )
    if fmt == "entra-graph":
        return parse_graph_hardware_oath_body(data, mode=mode)
    if fmt == "yubico-log":
        return parse_yubico_log(data, hotp_digits=options.digits, assume_hotp=options.assume_hotp, mode=mode)
    if fmt == "otpauth":
        return parse_otpauth_uris(data, mode=mode)
    if fmt in ("duo", "serial-secret"):
        if fmt == "duo":
            duo_type = options.duo_type or re.sub(r"^duo-|\.csv$", "", member)
            shape = _duo_kind(duo_type)
            encoding = SecretEncoding.HEX  # Duo's rows are hex
        else:
            if options.kind not in ("totp", "hotp"):
                raise InputError(
                    "A serial,secret file does not say whether its tokens are TOTP or HOTP.",
                    "Say it with --kind totp or --kind hotp (and --digits, --period).",
                )
            shape = {"kind": OtpKind(options.kind), "digits": options.digits, "period": options.period}
            encoding = SecretEncoding(options.secret_encoding)
        return parse_serial_secret_csv(
            data, **shape, algorithm=HashAlgorithm(options.algorithm), secret_encoding=encoding, mode=mode
        )
    raise _unknown(fmt)


def read_seed_file(data: bytes, options: ImportOptions, *, accept_partial: bool = False) -> ImportResult:
    """Parse a seed file, or each file inside one of our 7z exports, into one result."""
    mode = ImportMode.GOOD_ONES if accept_partial else ImportMode.ALL_OR_NOTHING
    fmt = detect(data) if options.format == "auto" else options.format
    if fmt not in FORMATS and fmt != "7z":
        raise _unknown(fmt)
    if fmt != "7z" and not data.startswith(SEVEN_ZIP_MAGIC):
        return parse(data, fmt, options, mode)
    if options.password is None:
        raise InputError(
            "The file is a password-protected 7z archive.",
            "Give the export's password (--password-file or STATION_EXPORT_PASSWORD).",
        )
    members = {n: d for n, d in open_seven_zip(data, options.password).items() if n not in _SKIPPED_MEMBERS}
    seeds, rejects, notes, names = [], [], [], []
    for name, content in sorted(members.items()):
        inner = (
            options.format
            if options.format not in ("auto", "7z")
            else ("duo" if name.startswith("duo-") else detect(content))
        )
        result = parse(content, inner, options, mode, member=name)
        seeds += result.seeds
        rejects += result.rejects
        notes += [f"{name}: {n}" for n in result.notes]
        names.append(result.format)
    name = " + ".join(dict.fromkeys(names)) + " (7z)"
    return ImportResult(name, tuple(seeds), tuple(rejects), tuple(notes))


def import_seed_file(
    station: Station,
    data: bytes,
    options: ImportOptions,
    *,
    operator: Session,
    source: str,
    vendor: str | None = None,
    model: str | None = None,
    location: str | None = None,
    site: str | None = None,
    reason: str | None = None,
    accept_partial: bool = False,
) -> tuple[ReceiveReport, ImportResult]:
    """Parse the file and receive its tokens into stock (all or nothing unless accept_partial)."""
    result = read_seed_file(data, options, accept_partial=accept_partial)
    makers = {s.manufacturer for s in result.seeds if s.manufacturer}
    vendor = vendor or (makers.pop() if len(makers) == 1 else None)
    rejects = [IntakeReject(f"{r.unit} {r.position}", r.serial or None, r.problem) for r in result.rejects]
    report = receive_seed_file(
        station,
        [to_intake(s) for s in result.seeds],
        rejects,
        operator=operator,
        source=source,
        sha256=hashlib.sha256(data).hexdigest(),
        vendor=vendor,
        model=model or _one({s.model for s in result.seeds}),
        location=location,
        site=site,
        reason=reason,
        accept_partial=accept_partial,
    )
    return report, result


def _unknown(fmt: str) -> InputError:
    return InputError(
        f"{fmt!r} is not a seed file format the station reads.", f"Formats: {', '.join(FORMATS)}."
    )


def _one(values: set[str]) -> str | None:
    values.discard("")
    return values.pop() if len(values) == 1 else None
