"""The export targets: what each format is, which IdP reads it, and that IdP's deactivation list.

No identity provider here takes a file that removes or disables hardware tokens: Entra ID deletes a
token in the admin center or with Graph (unassign, then DELETE .../hardwareOathDevices/{id}), Okta
revokes a YubiKey by serial in the admin console (or DELETE /api/v1/org/factors/yubikey_token/tokens/
{id}), Duo deletes a token in the Admin Panel or with the Admin API (DELETE /admin/v1/tokens/{id},
found by type and serial), privacyIDEA disables or revokes one per serial (POST /token/disable/{serial},
/token/revoke/{serial}). So a deactivation list is a CSV in each IdP's own words: the identifiers it
looks the token up by, and the action to take; the README tells the admin how to apply it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import InputError
from ..seedfiles import (
    Password,
    PresharedKey,
    TokenSeed,
    entra_csv_problems,
    graph_hardware_oath_body,
    write_duo_batches,
    write_entra_csv,
    write_okta_yubikey_seeds,
    write_otpauth_uris,
    write_privacyidea_csv,
    write_privacyidea_pskc,
    write_pskc,
    write_yubico_log,
)
from ..seedfiles.otpauth import WARNING as OTPAUTH_WARNING

Protection = PresharedKey | Password


@dataclass(frozen=True)
class Context:
    when: datetime
    pskc_protection: Protection | None = None
    for_testing_only: bool = False


Files = list[tuple[str, bytes]]


def _entra_csv(seeds: Sequence[TokenSeed], ctx: Context) -> Files:
    data = write_entra_csv(seeds)
    problems = entra_csv_problems(data)
    if problems:  # the writer refuses first; this is the upload's own rule set, checked on our output
        raise InputError(
            "The Entra CSV would not pass Entra's upload checks: " + "; ".join(problems),
            "Report this as a bug with the serials concerned.",
        )
    return [("entra-hardware-oath-tokens.csv", data)]


def _duo(seeds: Sequence[TokenSeed], ctx: Context) -> Files:
    batches = write_duo_batches(seeds)
    guide = "".join(
        f"duo-{b.token_type}.csv: Import Hardware Tokens, token type '{b.label}'\n" for b in batches
    )
    return [*((f"duo-{b.token_type}.csv", b.content) for b in batches), ("README.txt", guide.encode())]


def _pskc(seeds: Sequence[TokenSeed], ctx: Context) -> Files:
    return [("tokens.pskc.xml", write_pskc(seeds, protection=_protection(ctx)))]


def _privacyidea_pskc(seeds: Sequence[TokenSeed], ctx: Context) -> Files:
    return [("privacyidea-tokens.pskc.xml", write_privacyidea_pskc(seeds, _protection(ctx)))]


def _protection(ctx: Context) -> Protection:
    if ctx.pskc_protection is None:  # never written plain: the workflow always passes a key or password
        raise InputError(
            "A PSKC export needs a password or a pre-shared key.",
            "Give --password-file, STATION_EXPORT_PASSWORD, or --key-file.",
        )
    return ctx.pskc_protection


def _otpauth(seeds: Sequence[TokenSeed], ctx: Context) -> Files:
    return [
        ("otpauth-uris.txt", write_otpauth_uris(seeds, for_testing_only=ctx.for_testing_only)),
        ("WARNING.txt", OTPAUTH_WARNING.encode() + b"\n"),
    ]


@dataclass(frozen=True)
class Format:
    name: str
    idp: str
    label: str
    write: Callable[[Sequence[TokenSeed], Context], Files]
    native_encryption: bool = False  # PSKC: encrypted inside the file itself, no archive

    @property
    def extension(self) -> str:
        return ".pskc.xml" if self.native_encryption else ".7z"


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("entra-csv", "entra", "Microsoft Entra ID hardware OATH token CSV upload", _entra_csv),
        Format(
            "entra-graph",
            "entra",
            "Microsoft Entra ID Graph hardwareOathDevices request body",
            lambda s, c: [("hardwareOathDevices.json", graph_hardware_oath_body(s))],
        ),
        Format(
            "okta-yubikey",
            "okta",
            "Okta YubiKey OTP seed file (Yubico format)",
            lambda s, c: [("okta-yubikey-secrets.csv", write_okta_yubikey_seeds(s, when=c.when))],
        ),
        Format("duo", "duo", "Duo hardware token import, one file per token type", _duo),
        Format(
            "privacyidea-csv",
            "privacyidea",
            "privacyIDEA OATH CSV, version 2",
            lambda s, c: [("privacyidea-tokens.csv", write_privacyidea_csv(s))],
        ),
        Format(
            "privacyidea-pskc",
            "privacyidea",
            "privacyIDEA PSKC import",
            _privacyidea_pskc,
            native_encryption=True,
        ),
        Format("pskc", "pskc", "RFC 6030 PSKC", _pskc, native_encryption=True),
        Format(
            "yubico-log",
            "yubico",
            "YubiKey Personalization Tool / ykman -O log (Yubico format)",
            lambda s, c: [("yubikey-configuration-log.csv", write_yubico_log(s, when=c.when))],
        ),
        Format("otpauth", "test", "otpauth:// URIs, for test setups only", _otpauth),
    )
}


def find_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise InputError(f"There is no export format {name!r}.", f"Formats: {', '.join(FORMATS)}.") from None


# -- deactivation lists ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gone:
    """A token the IdP must stop accepting: what each IdP looks it up by, and why."""

    serial: str
    status: str
    owner: str
    duo_types: tuple[str, ...]
    public_id: str


def _entra_action(g: Gone) -> str:
    return "deactivate" if g.status == "blocked" else "unassign and delete"


def _privacyidea_action(g: Gone) -> str:
    return "disable" if g.status == "blocked" else "revoke"


_DEACTIVATION: dict[str, tuple[list[str], Callable[[Gone], list[list[str]]]]] = {
    "entra": (
        ["upn", "serial number", "action", "reason"],
        lambda g: [[g.owner, g.serial, _entra_action(g), g.status]],
    ),
    "okta": (
        ["serial number", "public id", "action", "reason"],
        lambda g: [[g.serial, g.public_id, "revoke", g.status]],
    ),
    "duo": (
        ["type", "serial", "action", "reason"],
        lambda g: [[t, g.serial, "delete", g.status] for t in g.duo_types or ("",)],
    ),
    "privacyidea": (
        ["serial", "user", "action", "reason"],
        lambda g: [[g.serial, g.owner, _privacyidea_action(g), g.status]],
    ),
}
_GENERIC = (["serial", "owner", "action", "reason"], lambda g: [[g.serial, g.owner, "remove", g.status]])


def deactivation_list(idp: str, gone: Sequence[Gone]) -> Files:
    """The CSV an admin of `idp` works through to stop trusting these tokens (no secrets in it)."""
    header, rows = _DEACTIVATION.get(idp, _GENERIC)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for g in gone:
        for row in rows(g):
            writer.writerow([_cell(v) for v in row])
    return [(f"{idp}-deactivate.csv", out.getvalue().encode("utf-8"))]


def _cell(value: str) -> str:
    # An owner id must not become a spreadsheet formula when the admin opens the list (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
