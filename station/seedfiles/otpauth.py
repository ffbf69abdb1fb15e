"""`otpauth://` URIs (the Key Uri Format of Google Authenticator) for test setups only.

A URI carries the secret in clear and is meant to become a QR code, so the writer refuses unless the
caller acknowledges that the export is for testing. URIs are made and read by pyotp, the library the
station verifies codes with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyotp

from .encoding import base32_encode
from .errors import ExportRefused
from .model import HashAlgorithm, ImportMode, ImportResult, OtpKind, Reject, TokenSeed
from .policy import finish

WARNING = (
    "otpauth:// URIs carry each secret in clear text and end up as QR codes: they are for test setups, "
    "never for tokens in use."
)
_DIGESTS = {
    HashAlgorithm.SHA1: hashlib.sha1,
    HashAlgorithm.SHA256: hashlib.sha256,
    HashAlgorithm.SHA512: hashlib.sha512,
}
_BY_NAME = {"sha1": HashAlgorithm.SHA1, "sha256": HashAlgorithm.SHA256, "sha512": HashAlgorithm.SHA512}


def refusal(seed: TokenSeed) -> str:
    if seed.kind is OtpKind.YUBICO_OTP:
        return "a Yubico OTP key has no otpauth:// form"
    if seed.kind is OtpKind.TOTP and seed.t0:
        return "otpauth:// URIs have no TOTP start time; this token does not start at the Unix epoch"
    return ""


def write_otpauth_uris(seeds: Sequence[TokenSeed], *, for_testing_only: bool = False) -> bytes:
    if not for_testing_only:
        reason = "refused without acknowledging it is a test setup"
        hint = WARNING + " Pass for_testing_only=True."
        raise ExportRefused("otpauth://", tuple((s.serial, reason) for s in seeds), hint=hint)
    refusals = tuple((s.serial, r) for s in seeds if (r := refusal(s)))
    if refusals:
        raise ExportRefused("otpauth://", refusals)
    lines = []
    for s in seeds:
        common = dict(s=base32_encode(s.secret), digits=s.digits, digest=_DIGESTS[s.algorithm])
        name = s.owner or s.serial
        issuer = s.issuer or "Token Station"
        if s.kind is OtpKind.TOTP:
            uri = pyotp.TOTP(**common, interval=s.period).provisioning_uri(name=name, issuer_name=issuer)
        else:
            uri = pyotp.HOTP(**common, initial_count=s.counter).provisioning_uri(
                name=name, issuer_name=issuer, initial_count=s.counter
            )
        lines.append(uri)
    return ("\n".join(lines) + "\n").encode("utf-8")


def parse_otpauth_uris(data: bytes, *, mode: ImportMode = ImportMode.ALL_OR_NOTHING) -> ImportResult:
    """One URI per line; the account name becomes the serial (URIs have no serial of their own)."""
    found = []
    rejects: list[Reject] = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            otp = pyotp.parse_uri(line.strip())
            digest = _BY_NAME[otp.digest().name]
            kind = OtpKind.TOTP if isinstance(otp, pyotp.TOTP) else OtpKind.HOTP
            fields = dict(
                serial=otp.name,
                kind=kind,
                secret=otp.byte_secret(),
                digits=otp.digits,
                algorithm=digest,
                issuer=otp.issuer or "",
            )
            if isinstance(otp, pyotp.TOTP):
                fields["period"] = otp.interval
            else:
                fields["counter"] = otp.initial_count
            found.append((number, TokenSeed(**fields)))  # type: ignore[arg-type]
        except (ValueError, KeyError) as exc:
            rejects.append(Reject(number, "line", "", f"not a usable otpauth:// URI ({exc})"))
    return finish("otpauth", found, rejects, mode, "line")
