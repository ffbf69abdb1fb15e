"""privacyIDEA's OATH CSV, version 2 (user columns first), for handing issued tokens to privacyIDEA.

Layout from privacyIDEA's documentation ("Import", OATH CSV and "Import format version 2") and its
reader (privacyidea/lib/importotp.py parseOATHcsv and the token classes' get_import_csv):
    # version: 2
    user,resolver,realm,serial,seed (hex),totp,otp length,time step
    user,resolver,realm,serial,seed (hex),hotp,otp length,counter
privacyIDEA takes the hash from the seed's length (64 hex digits SHA-256, 128 SHA-512, anything else
SHA-1), so a token whose hash does not match its seed length cannot be described in this format and
is refused; so are Yubico OTP keys (use the PSKC profile, `write_privacyidea_pskc`).
"""

from __future__ import annotations

from collections.abc import Sequence

from .csv_import import privacyidea_hash
from .errors import ExportRefused
from .model import OtpKind, TokenSeed
from .pskc_export import write_privacyidea_pskc

__all__ = ["refusal", "write_privacyidea_csv", "write_privacyidea_pskc"]


def refusal(seed: TokenSeed) -> str:
    if seed.kind is OtpKind.YUBICO_OTP:
        return "the OATH CSV holds HOTP and TOTP only; export Yubico OTP keys to privacyIDEA as PSKC"
    implied = privacyidea_hash(len(seed.secret) * 2)
    if implied is not seed.algorithm:
        return (
            f"privacyIDEA would read a {len(seed.secret)}-byte seed as {implied.value}, but this token uses "
            f"{seed.algorithm.value}; export it as PSKC, which names the hash"
        )
    if seed.kind is OtpKind.TOTP and seed.t0:
        return "the OATH CSV has no TOTP start time; this token does not start at the Unix epoch"
    if any("," in v for v in (seed.owner, seed.owner_resolver, seed.owner_realm, seed.serial)):
        return "privacyIDEA splits lines at every comma; a user, realm or serial here contains one"
    return ""


def write_privacyidea_csv(seeds: Sequence[TokenSeed]) -> bytes:
    refusals = tuple((s.serial, r) for s in seeds if (r := refusal(s)))
    if refusals:
        raise ExportRefused("privacyIDEA OATH CSV", refusals)
    lines = ["# version: 2"]
    for s in seeds:
        fifth = s.period if s.kind is OtpKind.TOTP else s.counter
        fields = [s.owner, s.owner_resolver, s.owner_realm, s.serial, s.secret.hex(), s.kind.value]
        lines.append(",".join([*fields, str(s.digits), str(fifth)]))
    return ("\n".join(lines) + "\n").encode("utf-8")
