"""Seed files: read vendor and IdP token files, write IdP exports. Pure functions, no database.

Readers take the file's bytes and return an `ImportResult` (accepted `TokenSeed`s, `Reject`s naming
each bad entry by position and serial, notes on what was not checked). By default one bad entry
rejects the whole file (`SeedFileRejected` lists every bad entry); `ImportMode.GOOD_ONES` returns
the good entries with the rejects. Writers take `TokenSeed`s and return bytes, or raise
`ExportRefused` naming every token the target cannot take and why. Writing files, encrypting
archives, ledger events and confirmation tracking belong to the station's workflows.

| format | read | write |
| --- | --- | --- |
| RFC 6030 PSKC (plain, pre-shared AES, PBKDF2; HOTP, TOTP, PIN, Yubico OTP) | parse_pskc | write_pskc |
| privacyIDEA PSKC profile | parse_pskc | write_privacyidea_pskc |
| serial,secret CSV (hex or base32) | parse_serial_secret_csv | - |
| Entra-style vendor CSV (Token2, Deepnet) | parse_vendor_csv | write_entra_csv |
| Entra Graph hardwareOathDevices JSON | parse_graph_hardware_oath_body | graph_hardware_oath_body |
| privacyIDEA OATH CSV v1/v2 | parse_privacyidea_csv | write_privacyidea_csv (v2) |
| YubiKey Personalization Tool / ykman -O logs | parse_yubico_log | write_yubico_log |
| Okta YubiKey OTP seed file | parse_yubico_log | write_okta_yubikey_seeds |
| Duo hardware token import | parse_serial_secret_csv (HOTP/TOTP rows) | write_duo_batches |
| otpauth:// URIs (tests only) | parse_otpauth_uris | write_otpauth_uris |
"""

from __future__ import annotations

from .csv_import import parse_privacyidea_csv, parse_serial_secret_csv, parse_vendor_csv
from .duo import DuoBatch, write_duo_batches
from .encoding import SecretEncoding
from .entra import (
    entra_csv_problems,
    graph_hardware_oath_body,
    parse_graph_hardware_oath_body,
    write_entra_csv,
)
from .errors import ExportRefused, SeedFileError, SeedFileRejected, WrongKeyError
from .model import HashAlgorithm, ImportMode, ImportResult, OtpKind, Reject, TokenSeed
from .otpauth import parse_otpauth_uris, write_otpauth_uris
from .privacyidea import write_privacyidea_csv
from .pskc_export import Password, PresharedKey, write_privacyidea_pskc, write_pskc
from .pskc_import import parse_pskc
from .yubico_log import parse_yubico_log, write_okta_yubikey_seeds, write_yubico_log

__all__ = [
    "DuoBatch",
    "ExportRefused",
    "HashAlgorithm",
    "ImportMode",
    "ImportResult",
    "OtpKind",
    "Password",
    "PresharedKey",
    "Reject",
    "SecretEncoding",
    "SeedFileError",
    "SeedFileRejected",
    "TokenSeed",
    "WrongKeyError",
    "entra_csv_problems",
    "graph_hardware_oath_body",
    "parse_graph_hardware_oath_body",
    "parse_otpauth_uris",
    "parse_privacyidea_csv",
    "parse_pskc",
    "parse_serial_secret_csv",
    "parse_vendor_csv",
    "parse_yubico_log",
    "write_duo_batches",
    "write_entra_csv",
    "write_okta_yubikey_seeds",
    "write_otpauth_uris",
    "write_privacyidea_csv",
    "write_privacyidea_pskc",
    "write_pskc",
    "write_yubico_log",
]
