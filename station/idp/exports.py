"""Export tokens to an identity provider: choose, check, write encrypted, record; later confirm or withdraw.

An export file holds either registrations (the tokens' secrets, for the IdP to add) or a deactivation
list (serials only, for the IdP to stop trusting), never both, so that each file is confirmed for what
it is. What the target cannot take is refused with the reason for every token concerned; with
`leave_out_refused` those credentials are left out and named in the result and in the ledger, and
what they ask of the IdP stays outstanding. A token with several credentials (a YubiKey issued with a
TOTP credential and a Yubico OTP key) goes with those the target takes, the others named as left out.

Order of the record and the file: the file's bytes (already encrypted) and their SHA-256 are made in
memory; the ledger event is appended and the file written inside the same transaction, so a file that
could not be written leaves no event, and a transaction that fails to commit removes the file.

Who: every function takes the acting operator's signed-in `Session` and checks it with the role
(`roles.require`): a deactivation list, a confirmation or a withdrawal is desk work (`export`:
custodian, supervisor, admin); a file with secrets takes a supervisor or admin (`export_secrets`). An
export with secrets is one operator's act, not a four-eyes one: issue 6 names the two-person actions
(reset, replacement, temporary access, unlocking an operator), and an IdP hand-off follows every
issue, so a second sign-in for each would be routine rather than a check. What guards it instead: the
role, the file always encrypted and written only where the operator says, the `idp.exported` event
naming the operator, the tokens and the file's SHA-256, and the export listed as pending until someone
confirms the import.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from ..core import Station
from ..errors import InputError, StationError
from ..inventory.common import NotFound, clean_reason, find_token
from ..inventory.roles import require
from ..operators.sessions import Session
from ..seedfiles import ExportRefused, OtpKind, TokenSeed
from .archive import check_password, seven_zip
from .formats import Context, Format, Gone, deactivation_list, find_format
from .safe_files import target_file, write_private
from .selection import DEACTIVATE, REGISTER, Selection, choose
from .token_seeds import Owner, public_id_modhex, seeds_of

MAX_TOKENS = 2000  # one ledger event lists every serial; larger hand-offs go by site, batch or wave


@dataclass(frozen=True)
class ExportRequest:
    format: str
    to: Path
    selection: Selection
    deactivations: bool = False
    password: str | None = field(default=None, repr=False)
    preshared_key: bytes | None = field(default=None, repr=False)
    key_name: str = "Pre-shared-key"
    owner: Owner = field(default_factory=Owner)
    leave_out_refused: bool = False
    for_testing_only: bool = False


@dataclass(frozen=True)
class ExportResult:
    export_id: str
    path: str
    format: str
    idp: str
    purpose: str
    sha256: str
    bytes: int
    protection: str
    serials: tuple[str, ...]
    left_out: tuple[tuple[str, str], ...]
    outstanding: dict
    ledger_seq: int


def _protection(fmt: Format, request: ExportRequest, purpose: str) -> tuple[str, object]:
    """(name for the ledger, the PSKC protection or the 7z password); never a secret in the name."""
    if purpose == DEACTIVATE:
        return "none: serials only, no secrets", None
    if fmt.native_encryption:
        from ..seedfiles import Password, PresharedKey
        from ..seedfiles import pskc_crypto as pc

        if request.preshared_key is not None:
            cipher = {16: pc.AES128_CBC, 32: pc.AES256_CBC}.get(len(request.preshared_key))
            if cipher is None:
                raise InputError(
                    "A PSKC pre-shared key is 16 or 32 bytes (AES-128 or AES-256).",
                    "Give a key file with 32 or 64 hex digits.",
                )
            if fmt.name == "privacyidea-pskc" and cipher != pc.AES128_CBC:
                raise InputError(
                    "privacyIDEA reads PSKC encrypted with AES-128 only.",
                    "Give a 16-byte key (32 hex digits), or a password.",
                )
            name = f"PSKC, pre-shared key {request.key_name!r} ({pc.short_name(cipher)}, HMAC MACs)"
            return name, PresharedKey(
                request.preshared_key,
                request.key_name,
                cipher,
                pc.HMAC_SHA256 if cipher == pc.AES256_CBC else pc.HMAC_SHA1,
            )
        if request.password is None:
            raise InputError(
                "A PSKC export is encrypted with a password or a pre-shared key; none given.",
                "Give --password-file FILE, set STATION_EXPORT_PASSWORD, or --key-file FILE.",
            )
        name = "PSKC, password (PBKDF2-HMAC, AES-128-CBC, HMAC MACs)"
        return name, Password(check_password(request.password))
    if request.preshared_key is not None:
        raise InputError(
            f"{fmt.name} has no encryption of its own: it goes into a 7z archive with a password.",
            "Give --password-file or STATION_EXPORT_PASSWORD instead of --key-file.",
        )
    if request.password is None:
        raise InputError(
            f"A {fmt.name} export holds secrets and is written as a password-protected 7z"
            " archive; no password given.",
            "Give --password-file FILE or set STATION_EXPORT_PASSWORD.",
        )
    return "7z, AES-256, names encrypted", check_password(request.password)


def _refusals(fmt: Format, seeds: list[TokenSeed], ctx: Context) -> list[tuple[TokenSeed, str]]:
    """Each seed the format cannot take, with the reason (the writer's own, one seed at a time)."""
    found = []
    for seed in seeds:
        try:
            fmt.write([seed], ctx)
        except ExportRefused as exc:
            found.append((seed, "; ".join(reason for _s, reason in exc.refusals)))
    return found


def _one_per_serial(fmt: Format, seeds: list[TokenSeed]) -> list[tuple[TokenSeed, str]]:
    """Credentials an IdP could not tell apart: it keeps one secret per serial (Duo: per serial and
    token type, so a YubiKey's TOTP credential and its Yubico OTP key are two Duo tokens)."""
    if fmt.idp not in ("entra", "okta", "duo") and fmt.name != "privacyidea-csv":
        return []

    def slot(s: TokenSeed) -> tuple:
        return (s.serial, s.kind, s.digits, s.period) if fmt.idp == "duo" else (s.serial,)

    counts = Counter(slot(s) for s in seeds)
    per = " of this token type" if fmt.idp == "duo" else ""
    return [
        (
            s,
            f"{fmt.idp} keeps one secret per serial number{per}, and this token has {counts[slot(s)]}"
            " credentials to export",
        )
        for s in seeds
        if counts[slot(s)] > 1
    ]


def _register_files(
    station: Station, fmt: Format, serials: list[str], request: ExportRequest, ctx: Context
) -> tuple[list, list[str], list[tuple[str, str]]]:
    """The files, the serials in them, and what was left out (serial, why).

    A token is refused when none of its credentials can go to the format; a token with several
    credentials (a YubiKey with a TOTP credential and a Yubico OTP key) goes with those the IdP
    takes, and the others are named as left out, never dropped silently.
    """
    seeds: list[TokenSeed] = []
    left_out: list[tuple[str, str]] = []
    for serial in serials:
        token = find_token(station.ledger.db, serial)
        found = seeds_of(station, token, request.owner)
        if not found:
            left_out.append(
                (
                    serial,
                    "the station holds no secret for it (a YubiKey received without a"
                    " seed and never issued here)",
                )
            )
        seeds += found
    others: list[tuple[TokenSeed, str]] = []
    refused = _one_per_serial(fmt, seeds)
    try:
        if refused:
            raise ExportRefused(fmt.name, tuple((s.serial, r) for s, r in refused))
        files = fmt.write(seeds, ctx) if seeds else []
    except ExportRefused:
        unfit = _refusals(fmt, seeds, ctx)
        fit = [s for s in seeds if all(s is not u for u, _ in unfit)]
        going = {s.serial for s in fit}
        others = [(s, r) for s, r in unfit if s.serial in going]  # the token goes with its other ones
        refused = [(s, r) for s, r in unfit if s.serial not in going] + _one_per_serial(fmt, fit)
        if refused and not request.leave_out_refused:
            raise ExportRefused(
                fmt.name,
                tuple((s.serial, r) for s, r in refused),
                "Leave these out (--leave-out-refused: they stay outstanding), or choose a"
                " format their IdP takes.",
            ) from None
        seeds = [s for s in fit if all(s is not r for r, _ in refused)]
        left_out += [(s.serial, f"{_what(s)}: {reason}") for s, reason in refused]
        files = fmt.write(seeds, ctx) if seeds else []
    if left_out and not request.leave_out_refused:
        raise ExportRefused(fmt.name, tuple(left_out))
    exported = sorted({s.serial for s in seeds})
    return files, exported, left_out + [(s.serial, f"{_what(s)}: {reason}") for s, reason in others]


def _what(seed: TokenSeed) -> str:
    return "Yubico OTP key" if seed.kind is OtpKind.YUBICO_OTP else f"{seed.kind.value.upper()} credential"


def _deactivation_files(
    db: sqlite_utils.Database, fmt: Format, serials: list[str], request: ExportRequest
) -> tuple[list, list[str], list[tuple[str, str]]]:
    gone = [_gone(db, s, request.owner) for s in serials]
    refused = [(g.serial, r) for g in gone if (r := _gone_refusal(fmt.idp, g))]
    if refused and not request.leave_out_refused:
        raise ExportRefused(
            fmt.name + " deactivation list",
            tuple(refused),
            "Leave these out (--leave-out-refused), or export them to the IdP that has them.",
        )
    kept = [g for g in gone if g.serial not in dict(refused)]
    return deactivation_list(fmt.idp, kept) if kept else [], [g.serial for g in kept], refused


def _gone(db: sqlite_utils.Database, serial: str, names: Owner) -> Gone:
    token = find_token(db, serial)
    types = []
    for kind, digits in db.execute(
        "SELECT oath_type, digits FROM credentials WHERE serial = ? UNION SELECT oath_type, digits"
        " FROM seeds WHERE serial = ? ORDER BY 1",
        [serial, serial],
    ):
        types.append("yk" if kind == "YUBICO_OTP" else f"h{digits}" if kind == "HOTP" else f"t{digits}")
    public = db.execute("SELECT public_id FROM seeds WHERE serial = ?", [serial]).fetchone()
    owner = names.upn(token["owner"] or token["last_owner"] or "")
    public_id = (public[0] or "") if public else ""
    if not public_id:  # a Yubico OTP slot programmed here at issue: its credential has the public id
        issued = db.execute(
            "SELECT public_id FROM credentials WHERE serial = ? AND oath_type = 'YUBICO_OTP'"
            " AND public_id IS NOT NULL ORDER BY issued_at DESC LIMIT 1",
            [serial],
        ).fetchone()
        public_id = public_id_modhex({"public_id": issued[0]}) if issued else ""
    return Gone(serial, token["status"], owner, tuple(dict.fromkeys(types)), public_id)


# Which credentials each IdP can hold at all (a deactivation list names only tokens it could have).
_HOLDS = {"entra": ("t",), "okta": ("yk",)}


def _gone_refusal(idp: str, gone: Gone) -> str:
    kinds = _HOLDS.get(idp)
    if kinds is None or any(t.startswith(kinds) for t in gone.duo_types):
        return ""
    held = {"entra": "TOTP tokens", "okta": "YubiKey OTP keys"}[idp]
    has = (
        ", ".join(
            {"yk": "a Yubico OTP key", "h": "HOTP", "t": "TOTP"}[t[0] if t != "yk" else t]
            for t in gone.duo_types
        )
        or "no credential"
    )
    name = {"entra": "Entra ID", "okta": "Okta"}[idp]
    return f"{name} never held it: it takes {held} only, this token has {has}"


def outstanding(db: sqlite_utils.Database) -> dict:
    """How many tokens wait for an export (not yet in one), by what the IdP must do."""
    rows = db.execute(
        "SELECT need, count(*) FROM idp_tokens WHERE need IS NOT NULL AND covered_by IS NULL GROUP BY need"
    ).fetchall()
    return {REGISTER: 0, DEACTIVATE: 0, **dict(rows)}


def _action(purpose: str) -> str:
    return "export" if purpose == DEACTIVATE else "export_secrets"


def export_tokens(station: Station, request: ExportRequest, *, operator: Session) -> ExportResult:
    """Write one export file for the chosen tokens and record it (pending until confirmed)."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    fmt = find_format(request.format)
    purpose = DEACTIVATE if request.deactivations else REGISTER
    db = station.ledger.db
    with station.record() as tx:
        # Refused before any secret is opened from the vault; checked again when the event is appended.
        require(tx.db, operator, _action(purpose), station.now())
    if fmt.name == "otpauth" and not request.for_testing_only and purpose == REGISTER:
        raise InputError(
            "otpauth:// URIs carry every secret in clear text, for test setups only.",
            "Add --for-testing-only if this really is a test setup.",
        )
    protection_name, protection = _protection(fmt, request, purpose)
    chosen = [c for c in choose(db, request.selection) if c.action == purpose]
    if not chosen:
        other = "registrations" if purpose == DEACTIVATE else "deactivations"
        flag = "without" if request.deactivations else "with"
        raise InputError(
            f"The selection holds no {purpose} to export.",
            f"Check the selection; for {other} run the export {flag} --deactivations.",
        )
    if len(chosen) > MAX_TOKENS:
        raise InputError(
            f"{len(chosen)} tokens in one export; at most {MAX_TOKENS}.",
            "Split it by --site, --batch or --issued-since/--issued-until.",
        )
    export_id = os.urandom(6).hex()
    ctx = Context(station.now(), protection if fmt.native_encryption else None, request.for_testing_only)
    serials = [c.serial for c in chosen]
    if purpose == REGISTER:
        files, serials, left_out = _register_files(station, fmt, serials, request, ctx)
    else:
        files, serials, left_out = _deactivation_files(db, fmt, serials, request)
    if not serials:
        raise ExportRefused(fmt.name, tuple(left_out), "Nothing is left to export.")
    if purpose == DEACTIVATE:
        data, name = files[0][1], f"{fmt.idp}-deactivate-{export_id}.csv"
    elif fmt.native_encryption:
        data, name = files[0][1], f"{fmt.name}-{export_id}{fmt.extension}"
    else:
        data, name = seven_zip(files, protection), f"{fmt.name}-{export_id}{fmt.extension}"
    target = target_file(request.to, name, station.data_dir)
    digest = hashlib.sha256(data).hexdigest()
    body = {
        "export_id": export_id,
        "format": fmt.name,
        "idp": fmt.idp,
        "purpose": purpose,
        "path": str(target),
        "sha256": digest,
        "bytes": len(data),
        "protection": protection_name,
        "items": {purpose: serials},
        "left_out": [{"serial": s, "reason": r} for s, r in left_out],
        "selection": request.selection.as_json(),
        "files": [n for n, _ in files],
    }
    written = False
    try:
        with station.record() as tx:
            at = station.now()
            actor = require(tx.db, operator, _action(purpose), at).id
            entry = tx.append("idp.exported", body, actor=actor, at=at)
            write_private(target, data)
            written = True
    except BaseException:
        if written and target.exists():
            target.unlink()  # the record did not commit: no unrecorded export is left behind
        raise
    return ExportResult(
        export_id,
        str(target),
        fmt.name,
        fmt.idp,
        purpose,
        digest,
        len(data),
        protection_name,
        tuple(serials),
        tuple(left_out),
        outstanding(db),
        entry.seq,
    )


def _pending(db: sqlite_utils.Database, export_id: str) -> dict:
    cur = db.execute("SELECT * FROM idp_exports WHERE id = ?", [(export_id or "").strip()])
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"There is no export {export_id!r}.", "List them with 'station export list'.")
    export = dict(zip([c[0] for c in cur.description], row, strict=True))
    if export["status"] != "pending":
        raise InputError(
            f"Export {export_id} is already {export['status']} ({export['settled_at']}, by"
            f" {export['settled_by']}).",
            "Nothing to do; list pending ones with 'station export list'.",
        )
    return export


def confirm_export(
    station: Station, export_id: str, *, operator: Session, note: str | None = None
) -> int:
    """The IdP admin reports the import done: its tokens count as registered (or deactivated) there."""
    with station.record() as tx:
        at = station.now()
        actor = require(tx.db, operator, "export", at).id
        export = _pending(tx.db, export_id)
        note = clean_reason(note, "import done")
        body = {"export_id": export["id"], "sha256": export["sha256"], "note": note}
        return tx.append("idp.export_confirmed", body, actor=actor, at=at).seq


def withdraw_export(station: Station, export_id: str, *, operator: Session, reason: str) -> int:
    """The export will not be imported (lost, wrong file, import failed): its tokens are outstanding again."""
    with station.record() as tx:
        at = station.now()
        actor = require(tx.db, operator, "export", at).id
        export = _pending(tx.db, export_id)
        body = {"export_id": export["id"], "sha256": export["sha256"], "reason": clean_reason(reason)}
        return tx.append("idp.export_withdrawn", body, actor=actor, at=at).seq


def list_exports(db: sqlite_utils.Database, *, status: str | None = None) -> list[dict]:
    sql = (
        "SELECT id, at, actor, format, idp, purpose, tokens, status, settled_at, settled_by, path, sha256,"
        " protection FROM idp_exports"
    )
    where = " WHERE status = ?" if status else ""
    cur = db.execute(sql + where + " ORDER BY seq", [status] if status else [])
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def export_items(db: sqlite_utils.Database, export_id: str) -> list[dict]:
    return [
        {"serial": s, "action": a}
        for s, a in db.execute(
            "SELECT serial, action FROM idp_export_items WHERE export_id = ? ORDER BY serial", [export_id]
        )
    ]
