"""CSV seed files: `serial,secret`, the vendors' Entra-style layout, and privacyIDEA's OATH CSV.

Layouts (each cited where it is published):
- `serial,secret[,...]`: the plainest vendor hand-over (IBM uploadOath, PingID, Deepnet's two-column
  programming file, Duo's HOTP/TOTP rows). Secrets in hex or base32, decided for the whole file (see
  encoding.py); the file does not say HOTP or TOTP, digits or time step, so the caller does. For HOTP a
  numeric third column is the counter (PingID, Duo); other extra columns are ignored.
- The Entra-style header layout `[upn,]serial number,secret key,time interval,manufacturer,model`:
  what Token2 ("Azure MFA compatible CSV") and Deepnet SafeID ship, with or without the upn column
  (Deepnet also writes "timeinterval"). TOTP, base32 or hex secret (Deepnet's wiki allows both).
- privacyIDEA OATH CSV (privacyIDEA docs "Import", and privacyidea/lib/importotp.py parseOATHcsv):
  `serial, seed, type, otp length, time step` for TOTP, `serial, seed, hotp, otp length, counter` for
  HOTP, seed in hex, type HOTP by default; hash by seed length as privacyIDEA decides it (64 hex
  digits SHA-256, 128 SHA-512, otherwise SHA-1). Version 2 starts with the line `# version: 2` and
  puts `user, resolver, realm` first.
Feitian ships PSKC (see pskc_import); its plain text lists are the `serial,secret` layout.
"""

from __future__ import annotations

import csv
import io
import re

from .encoding import SecretEncoding, decide_encoding, decode, hex_decode
from .errors import SeedFileError
from .model import HashAlgorithm, ImportMode, ImportResult, OtpKind, Reject, TokenSeed
from .policy import DEFAULT_MAX_BYTES, check_size, finish

SERIAL_SECRET = "serial,secret CSV"  # noqa: S105 - a format name
VENDOR = "vendor (Entra-style) CSV"
PRIVACYIDEA = "privacyIDEA OATH CSV"
_SERIAL_HEADERS = {"serial", "serialnumber", "serialno", "sn", "serial_number", "tokenserial"}


def read_text(data: bytes, max_bytes: int, fmt: str) -> str:
    check_size(data, max_bytes, fmt)
    if b"\x00" in data:
        raise SeedFileError(
            f"The {fmt} file contains NUL bytes: it is not a text file (UTF-16 or a spreadsheet?).",
            "Save it as CSV, UTF-8, from the spreadsheet program, and import that.",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SeedFileError(
            f"The {fmt} file is not UTF-8 (byte {exc.start} cannot be read).",
            "Save it as CSV, UTF-8, and import that.",
        ) from None


def rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, stripped cells) of each non-empty, non-comment line."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = next(csv.reader(io.StringIO(line), skipinitialspace=True))
        found.append((number, [c.strip() for c in cells]))
    return found


def _norm(header: str) -> str:
    return re.sub(r"[\s_]+", "", header.lower())


def _encoding_or_fail(secrets: list[str], wanted: SecretEncoding, fmt: str) -> SecretEncoding:
    try:
        return decide_encoding(secrets, wanted)
    except ValueError as exc:
        raise SeedFileError(
            f"Cannot tell how the {fmt} file writes its secrets: {exc}.",
            "Say which it is (secret_encoding=hex or base32; the vendor's cover letter says) and import "
            "again.",
        ) from None


def _seed(position: int, serial: str, rejects: list[Reject], **fields: object) -> TokenSeed | None:
    try:
        return TokenSeed(serial=serial, **fields)  # type: ignore[arg-type]
    except ValueError as exc:
        rejects.append(Reject(position, "line", serial, str(exc)))
        return None


def parse_serial_secret_csv(
    data: bytes,
    *,
    kind: OtpKind,
    digits: int = 6,
    period: int = 30,
    counter: int = 0,
    algorithm: HashAlgorithm = HashAlgorithm.SHA1,
    secret_encoding: SecretEncoding = SecretEncoding.AUTO,
    manufacturer: str = "",
    model: str = "",
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportResult:
    """`serial,secret[,...]` lines; a first line naming the columns ("serial,...") is skipped."""
    if kind is OtpKind.YUBICO_OTP:
        raise SeedFileError(
            "A serial,secret file cannot hold Yubico OTP keys (they need a public and a private id).",
            "Import Yubico OTP keys from the YubiKey Personalization Tool or ykman log, or from PSKC.",
        )
    lines = rows(read_text(data, max_bytes, SERIAL_SECRET))
    if lines and _norm(lines[0][1][0]) in _SERIAL_HEADERS:
        lines = lines[1:]
    rejects: list[Reject] = []
    usable = []
    for number, cells in lines:
        if len(cells) < 2 or not cells[0] or not cells[1]:
            rejects.append(
                Reject(number, "line", cells[0] if cells else "", "the line needs a serial and a secret")
            )
            continue
        usable.append((number, cells))
    encoding = _encoding_or_fail([c[1] for _, c in usable], secret_encoding, SERIAL_SECRET)
    found = []
    for number, cells in usable:
        secret = decode(cells[1], encoding)
        if secret is None:
            rejects.append(Reject(number, "line", cells[0], f"the secret is not valid {encoding.value}"))
            continue
        # For HOTP a third column holds the token's counter (PingID's seed files, Duo's HOTP rows).
        third = cells[2] if len(cells) > 2 else ""
        seed = _seed(
            number,
            cells[0],
            rejects,
            kind=kind,
            secret=secret,
            digits=digits,
            period=period,
            counter=int(third) if kind is OtpKind.HOTP and third.isdigit() else counter,
            algorithm=algorithm,
            manufacturer=manufacturer,
            model=model,
        )
        if seed:
            found.append((number, seed))
    return finish(SERIAL_SECRET, found, rejects, mode, "line")


_VENDOR_COLUMNS = {
    "upn": "upn",
    "serialnumber": "serial",
    "serial": "serial",
    "secretkey": "secret",
    "secret": "secret",
    "timeinterval": "interval",
    "manufacturer": "manufacturer",
    "model": "model",
}


def parse_vendor_csv(
    data: bytes,
    *,
    digits: int = 6,
    algorithm: HashAlgorithm = HashAlgorithm.SHA1,
    secret_encoding: SecretEncoding = SecretEncoding.BASE32,
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportResult:
    """The header layout Token2 and Deepnet ship for Entra: TOTP seeds, the upn column optional.

    Secrets are base32 as Entra requires (Microsoft's own example secret reads as hex too, so no
    guessing here); Deepnet can write hex, which the caller states with `secret_encoding`.
    """
    lines = rows(read_text(data, max_bytes, VENDOR))
    if not lines:
        raise SeedFileError(f"The {VENDOR} file is empty.", "Check this is the seed file the vendor sent.")
    header = [_VENDOR_COLUMNS.get(_norm(h), "") for h in lines[0][1]]
    missing = {"serial", "secret"} - set(header)
    if missing:
        raise SeedFileError(
            f"The {VENDOR} file's first line is not the expected header (it lacks "
            f"{' and '.join(sorted(missing))}).",
            "The layout is 'upn,serial number,secret key,time interval,manufacturer,model' (upn optional); "
            "for a file without a header use the serial,secret layout.",
        )
    rejects: list[Reject] = []
    records = []
    for number, cells in lines[1:]:
        record = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(header) if name}
        if not record.get("serial") or not record.get("secret"):
            serial = record.get("serial", "")
            rejects.append(Reject(number, "line", serial, "the line has no serial or no secret"))
            continue
        records.append((number, record))
    encoding = _encoding_or_fail([r["secret"] for _, r in records], secret_encoding, VENDOR)
    found = []
    for number, record in records:
        secret = decode(record["secret"], encoding)
        interval = record.get("interval") or "30"
        if secret is None:
            problem = f"the secret is not valid {encoding.value}"
            hint = "if the vendor wrote the secrets in hex, import with secret_encoding=hex"
            rejects.append(Reject(number, "line", record["serial"], problem, hint))
            continue
        if not interval.isdigit():
            problem = f"the time interval {interval!r} is not a number"
            rejects.append(Reject(number, "line", record["serial"], problem))
            continue
        seed = _seed(
            number,
            record["serial"],
            rejects,
            kind=OtpKind.TOTP,
            secret=secret,
            digits=digits,
            period=int(interval),
            algorithm=algorithm,
            owner=record.get("upn", ""),
            manufacturer=record.get("manufacturer", ""),
            model=record.get("model", ""),
        )
        if seed:
            found.append((number, seed))
    return finish(VENDOR, found, rejects, mode, "line")


# privacyIDEA decides the hash from the hex seed's length (tokenclass.get_import_csv).
_PI_HASH_BY_HEX_LENGTH = {64: HashAlgorithm.SHA256, 128: HashAlgorithm.SHA512}
_PI_UNSUPPORTED_HEX_LENGTH = {56: "SHA-224", 96: "SHA-384"}


def privacyidea_hash(hex_length: int) -> HashAlgorithm:
    return _PI_HASH_BY_HEX_LENGTH.get(hex_length, HashAlgorithm.SHA1)


def parse_privacyidea_csv(
    data: bytes,
    *,
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImportResult:
    text = read_text(data, max_bytes, PRIVACYIDEA)
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    version = re.match(r"^#\s*version:\s*(\d+)", first)
    users = bool(version and version.group(1) == "2")
    if version and version.group(1) not in ("1", "2"):
        raise SeedFileError(
            f"The {PRIVACYIDEA} file is format version {version.group(1)}; versions 1 and 2 are known.",
            "Export it again from privacyIDEA in version 2, or ask which layout it uses.",
        )
    rejects: list[Reject] = []
    found = []
    for number, cells in rows(text):
        user = resolver = realm = ""
        if users:
            if len(cells) < 5:
                problem = "a version 2 line starts user, resolver, realm, serial, seed"
                rejects.append(Reject(number, "line", "", problem))
                continue
            user, resolver, realm, cells = cells[0], cells[1], cells[2], cells[3:]
        serial = cells[0]
        if len(cells) < 2 or not serial or not cells[1]:
            rejects.append(Reject(number, "line", serial, "the line needs a serial and a seed"))
            continue
        kind_name = (cells[2] if len(cells) > 2 and cells[2] else "hotp").lower()
        kind = {"hotp": OtpKind.HOTP, "totp": OtpKind.TOTP}.get(kind_name)
        if kind is None:
            rejects.append(
                Reject(
                    number,
                    "line",
                    serial,
                    f"token type {kind_name!r} is unknown to the station (HOTP and TOTP are imported)",
                    "OCRA, TAN and other privacyIDEA types have no seed the station can check",
                )
            )
            continue
        hex_seed = re.sub(r"\s+", "", cells[1])
        secret = hex_decode(hex_seed)
        if secret is None:
            problem = "the seed is not valid hex (privacyIDEA seeds are hex)"
            rejects.append(Reject(number, "line", serial, problem))
            continue
        if len(hex_seed) in _PI_UNSUPPORTED_HEX_LENGTH:
            rejects.append(
                Reject(
                    number,
                    "line",
                    serial,
                    f"a {len(hex_seed)}-digit seed means {_PI_UNSUPPORTED_HEX_LENGTH[len(hex_seed)]} to "
                    "privacyIDEA, which the station does not support",
                )
            )
            continue
        try:
            digits = int(cells[3]) if len(cells) > 3 and cells[3] else 6
            fifth = int(cells[4]) if len(cells) > 4 and cells[4] else None
        except ValueError:
            problem = "the OTP length or the time step/counter is not a number"
            rejects.append(Reject(number, "line", serial, problem))
            continue
        seed = _seed(
            number,
            serial,
            rejects,
            kind=kind,
            secret=secret,
            digits=digits,
            algorithm=privacyidea_hash(len(hex_seed)),
            period=fifth if kind is OtpKind.TOTP and fifth is not None else 30,
            counter=fifth if kind is OtpKind.HOTP and fifth is not None else 0,
            owner=user,
            owner_resolver=resolver,
            owner_realm=realm,
        )
        if seed:
            found.append((number, seed))
    return finish(PRIVACYIDEA, found, rejects, mode, "line")
