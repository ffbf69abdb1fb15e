"""CLI verbs for the identity-provider hand-off: export, export list/show/confirm/withdraw, import.

Secrets for the file (the export password, a PSKC pre-shared key) never come from the command line,
where other users see them in the process list: --password-file / --key-file, STATION_EXPORT_PASSWORD,
or a prompt on the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import asdict
from pathlib import Path

from .cli_inventory import Verb
from .cli_support import add_operator, emit, open_for_reading, open_for_work, operator, table
from .errors import InputError

PASSWORD_ENV = "STATION_EXPORT_PASSWORD"  # noqa: S105 - the variable's name, not a secret
SECRET_VERBS = ("list", "show", "confirm", "withdraw")


def _password(args: argparse.Namespace, *, confirm: bool, needed: bool) -> str | None:
    if getattr(args, "password_file", None):
        try:
            lines = Path(args.password_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"Cannot read the password file {args.password_file}: {exc}.",
                "Give a text file whose first line is the password.",
            ) from None
        return lines[0] if lines else ""
    if os.environ.get(PASSWORD_ENV) is not None:
        return os.environ[PASSWORD_ENV]
    if not needed:
        return None
    if not sys.stdin.isatty():
        raise InputError(
            "No export password: no --password-file, STATION_EXPORT_PASSWORD is not set and there"
            " is no terminal to ask on.",
            "Give --password-file FILE or set STATION_EXPORT_PASSWORD.",
        )
    first = getpass.getpass("Export password: ")
    if confirm and getpass.getpass("Repeat the export password: ") != first:
        raise InputError("The two passwords differ.", "Run the command again.")
    return first


def _key(args: argparse.Namespace) -> bytes | None:
    if not getattr(args, "key_file", None):
        return None
    try:
        raw = Path(args.key_file).read_bytes()
    except OSError as exc:
        raise InputError(
            f"Cannot read the key file {args.key_file}: {exc.strerror}.", "Check the path."
        ) from None
    text = raw.strip()
    try:
        return bytes.fromhex(text.decode("ascii")) if len(text) in (32, 64) else raw
    except (UnicodeDecodeError, ValueError):
        return raw


def cmd_export(args: argparse.Namespace) -> int:
    from .idp.exports import ExportRequest, export_tokens
    from .idp.selection import Selection
    from .idp.token_seeds import Owner

    selection = Selection(
        args.since_last,
        args.site,
        args.batch,
        args.issued_since,
        args.issued_until,
        args.replacement,
        tuple(args.serial or ()),
    )
    key = None if args.deactivations else _key(args)
    password = None if args.deactivations or key else _password(args, confirm=True, needed=True)
    request = ExportRequest(
        args.export_verb,
        args.to,
        selection,
        args.deactivations,
        password,
        key,
        args.key_name,
        Owner(args.upn_suffix or "", args.realm or "", args.resolver or ""),
        args.leave_out_refused,
        args.for_testing_only,
    )
    # The password is asked before the sign-in, so a mistyped one costs the operator no code.
    station = open_for_work(args)
    result = export_tokens(station, request, operator=operator(args))
    data = {**asdict(result), "left_out": [{"serial": s, "reason": r} for s, r in result.left_out]}
    lines = [
        f"Export {result.export_id}: {len(result.serials)} token(s) to {result.purpose} in {result.format}"
        f" for {result.idp}, written to {result.path}",
        f"  protection: {result.protection}",
        f"  SHA-256: {result.sha256}",
        f"  pending until the IdP admin's import is confirmed: station export confirm {result.export_id}",
    ]
    lines += [f"  left out {s}: {r}" for s, r in result.left_out]
    waiting = {k: v for k, v in result.outstanding.items() if v}
    if waiting:
        lines.append("  still outstanding: " + ", ".join(f"{v} to {k}" for k, v in waiting.items()))
    emit(args, data, "\n".join(lines))
    return 0


def cmd_export_list(args: argparse.Namespace) -> int:
    from .idp.exports import list_exports, outstanding

    station = open_for_reading(args)
    rows = list_exports(station.ledger.db, status="pending" if args.pending else None)
    waiting = outstanding(station.ledger.db)
    columns = ["id", "at", "actor", "format", "purpose", "tokens", "status", "path"]
    emit(
        args,
        {"exports": rows, "outstanding": waiting},
        table(rows, columns) + "\nNot yet exported: " + ", ".join(f"{v} to {k}" for k, v in waiting.items()),
    )
    return 0


def cmd_export_show(args: argparse.Namespace) -> int:
    from .idp.exports import export_items, list_exports

    station = open_for_reading(args)
    match = [r for r in list_exports(station.ledger.db) if r["id"] == args.id]
    if not match:
        raise InputError(f"There is no export {args.id!r}.", "List them with 'station export list'.")
    items = export_items(station.ledger.db, args.id)
    emit(
        args,
        {"export": match[0], "items": items},
        "\n".join(f"{k}: {v}" for k, v in match[0].items() if v is not None) + "\n\n" + table(items),
    )
    return 0


def cmd_export_confirm(args: argparse.Namespace) -> int:
    from .idp.exports import confirm_export

    station = open_for_work(args)
    seq = confirm_export(station, args.id, operator=operator(args), note=args.note)
    emit(
        args,
        {"export_id": args.id, "status": "confirmed", "ledger_seq": seq},
        f"Export {args.id} confirmed as imported by the IdP; ledger entry {seq}.",
    )
    return 0


def cmd_export_withdraw(args: argparse.Namespace) -> int:
    from .idp.exports import withdraw_export

    station = open_for_work(args)
    seq = withdraw_export(station, args.id, operator=operator(args), reason=args.reason)
    emit(
        args,
        {"export_id": args.id, "status": "withdrawn", "ledger_seq": seq},
        f"Export {args.id} withdrawn: its tokens are outstanding again; ledger entry {seq}."
        " Destroy the file if you still hold it.",
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """`station import FILE` and `station receive --seed-file FILE`: one path into stock."""
    from .idp.imports import ImportOptions, import_seed_file

    path = args.file if getattr(args, "file_", None) is None else args.file_
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}.", "Check the path to the seed file.") from None
    options = ImportOptions(
        args.format,
        _password(args, confirm=False, needed=False),
        _key(args),
        args.kind,
        args.digits,
        args.period,
        args.algorithm,
        args.secret_encoding,
        args.duo_type,
        args.assume_hotp,
    )
    station = open_for_work(args)
    report, result = import_seed_file(
        station,
        data,
        options,
        operator=operator(args),
        source=Path(path).name,
        vendor=args.vendor,
        model=args.model,
        location=args.location,
        site=args.site,
        reason=args.reason,
        accept_partial=args.accept_partial,
    )
    data_out = {
        "format": result.format,
        "received": list(report.received),
        "rejected": [asdict(r) for r in report.rejected],
        "notes": list(result.notes),
    }
    lines = [
        f"Read {result.format}: received {len(report.received)} token(s) into stock:"
        f" {' '.join(report.received) or '-'}."
    ]
    lines += [f"Not received: {r.entry} {r.serial or ''}: {r.reason}" for r in report.rejected]
    lines += [f"note: {n}" for n in result.notes]
    emit(args, data_out, "\n".join(lines))
    return 0


def add_import_options(p: argparse.ArgumentParser) -> None:
    """The options a seed file may need, shared by `station import` and `station receive --seed-file`."""
    from .idp.imports import FORMATS

    p.add_argument(
        "--format", default="auto", choices=FORMATS, help="the file's format (default: from its content)"
    )
    p.add_argument("--password-file", help="first line: the PSKC or 7z password (or STATION_EXPORT_PASSWORD)")
    p.add_argument("--key-file", help="PSKC pre-shared AES key: 32 or 64 hex digits, or the raw bytes")
    p.add_argument("--kind", choices=("totp", "hotp"), help="serial-secret files: the tokens' type")
    p.add_argument("--digits", type=int, default=6)
    p.add_argument("--period", type=int, default=30)
    p.add_argument("--algorithm", choices=("SHA1", "SHA256", "SHA512"), default="SHA1", type=str.upper)
    p.add_argument("--secret-encoding", choices=("auto", "hex", "base32"), default="auto")
    p.add_argument("--duo-type", help="a Duo batch file: h6, h8, t6-30, t6-60, t8-30 or t8-60")
    p.add_argument(
        "--assume-hotp",
        action="store_true",
        help="Yubico logs: lines without token id and counter 0 are OATH-HOTP",
    )
    p.add_argument("--vendor")
    p.add_argument("--accept-partial", action="store_true", help="receive the good entries, list the rest")


def register(sub: argparse._SubParsersAction, verb: Verb) -> None:
    from .idp.formats import FORMATS

    export = sub.add_parser(
        "export", help="hand tokens to an identity provider (and list, confirm, withdraw)"
    ).add_subparsers(dest="export_verb", required=True, metavar="FORMAT|list|show|...")
    for fmt in FORMATS.values():
        p = verb(fmt.name, cmd_export, f"export to {fmt.label}", export)
        p.add_argument(
            "--to",
            type=Path,
            required=True,
            help="file or directory to write to (a removable drive; never the data directory)",
        )
        p.add_argument("--since-last", action="store_true", help="every change not yet exported")
        p.add_argument("--site", help="tokens at this site")
        p.add_argument("--batch", help="tokens received in this intake batch")
        p.add_argument("--issued-since", metavar="DATE", help="a wave: issued at or after (RFC 3339 or date)")
        p.add_argument("--issued-until", metavar="DATE", help="a wave: issued before")
        p.add_argument(
            "--replacement", metavar="SERIAL", help="one replacement (lost token's or new token's serial)"
        )
        p.add_argument("--serial", action="append", metavar="SERIAL", help="these tokens (repeatable)")
        p.add_argument(
            "--deactivations",
            action="store_true",
            help="the deactivation list (lost, blocked, returned...) instead of registrations",
        )
        p.add_argument("--password-file", help="first line: the file's password (or STATION_EXPORT_PASSWORD)")
        p.add_argument("--key-file", help="PSKC formats: a pre-shared AES key (32 or 64 hex digits)")
        p.add_argument(
            "--key-name", default="Pre-shared-key", help="the pre-shared key's name in the PSKC file"
        )
        p.add_argument(
            "--upn-suffix", help="Entra: domain added to owner ids without one (alice -> alice@DOMAIN)"
        )
        p.add_argument("--realm", help="privacyIDEA: the owners' realm")
        p.add_argument("--resolver", help="privacyIDEA: the owners' resolver")
        p.add_argument(
            "--leave-out-refused",
            action="store_true",
            help="write the rest when some tokens cannot go to this format (they stay outstanding)",
        )
        p.add_argument("--for-testing-only", action="store_true", help="otpauth: acknowledge a test setup")
        add_operator(p)
    p = verb("list", cmd_export_list, "exports and what is not exported yet", export)
    p.add_argument("--pending", action="store_true", help="only exports awaiting confirmation")
    p = verb("show", cmd_export_show, "one export and its tokens", export)
    p.add_argument("id")
    p = verb("confirm", cmd_export_confirm, "the IdP admin imported it: its tokens count as active", export)
    p.add_argument("id")
    p.add_argument("--note", help="e.g. who imported it, and where")
    add_operator(p)
    p = verb(
        "withdraw", cmd_export_withdraw, "it will not be imported: its tokens are outstanding again", export
    )
    p.add_argument("id")
    p.add_argument("--reason", required=True)
    add_operator(p)

    p = verb(
        "import", cmd_import, "take over tokens programmed elsewhere: a seed file, log or export into stock"
    )
    p.add_argument("file", help="the seed file (- for stdin)")
    add_import_options(p)
    p.add_argument("--model")
    p.add_argument("--location")
    p.add_argument("--site")
    p.add_argument("--reason")
    add_operator(p)
