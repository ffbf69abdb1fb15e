"""CLI verbs for the vault: unlock keys, a new passphrase, data-key rotation, explicit secret export."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .cli_inventory import Verb
from .cli_support import add_operator, emit, open_for_work, operator, table
from .errors import InputError

NEW_PASSPHRASE_ENV = "STATION_NEW_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
EXPORT_PASSWORD_ENV = "STATION_EXPORT_PASSWORD"  # noqa: S105 - the variable's name, not a secret


def _secret(env: str, prompt: str, what: str) -> str:
    import getpass

    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise InputError(
            f"No {what}: {env} is not set and there is no terminal to ask on.",
            f"Set {env} or run the command in a terminal.",
        )
    first = getpass.getpass(prompt, stream=sys.stderr)
    if getpass.getpass("Repeat it: ", stream=sys.stderr) != first:
        raise InputError(f"The two {what}s differ.", "Run the command again.")
    return first


def cmd_vault_keys(args: argparse.Namespace) -> int:
    from .cli_support import data_dir
    from .datadir import load_config
    from .vault_ops import UNLOCK_SLOT

    rows = [
        {"serial": s.serial, "otp_slot": s.otp_slot or UNLOCK_SLOT, "enrolled_by": s.operator}
        for s in load_config(data_dir(args)).vault.yubikeys
    ]
    emit(
        args,
        rows,
        table(rows) if rows else "No admin YubiKey is enrolled: the vault opens with the passphrase.",
    )
    return 0


def cmd_vault_add_key(args: argparse.Namespace) -> int:
    from .vault_ops import add_unlock_key

    key = add_unlock_key(
        open_for_work(args), args.serial, operator=operator(args), use_existing=args.use_existing
    )
    emit(
        args,
        {"serial": key.serial, "ledger_seq": key.seq},
        f"Key {key.serial} now unlocks the vault (station --unlock key ...); ledger entry {key.seq}.",
    )
    return 0


def cmd_vault_remove_key(args: argparse.Namespace) -> int:
    from .vault_ops import remove_unlock_key

    seq = remove_unlock_key(open_for_work(args), args.serial, operator=operator(args))
    emit(args, {"serial": args.serial, "ledger_seq": seq}, f"Key {args.serial} no longer unlocks the vault.")
    return 0


def cmd_vault_passphrase(args: argparse.Namespace) -> int:
    from .cli import read_passphrase
    from .vault_ops import change_passphrase

    station = open_for_work(args)
    new = _secret(NEW_PASSPHRASE_ENV, "New vault passphrase: ", "new passphrase")
    seq = change_passphrase(station, read_passphrase(), new, operator=operator(args))
    emit(
        args, {"ledger_seq": seq}, "The vault now opens with the new passphrase (the old one no longer does)."
    )
    return 0


def cmd_vault_rotate(args: argparse.Namespace) -> int:
    from .cli import read_passphrase
    from .vault_ops import rotate_data_key

    station = open_for_work(args)
    rotation = rotate_data_key(station, read_passphrase(), operator=operator(args))
    dropped = ", ".join(map(str, rotation.dropped_keys))
    emit(
        args,
        {
            "key_id": rotation.key_id,
            "previous_key_id": rotation.previous_key_id,
            "records": rotation.records,
            "dropped_unlock_keys": list(rotation.dropped_keys),
            "ledger_seq": rotation.seq,
        },
        f"New data key {rotation.key_id}: {rotation.records} records re-sealed."
        + (f" Unlock keys not present were dropped ({dropped}): enrol them again." if dropped else ""),
    )
    return 0


def cmd_vault_export(args: argparse.Namespace) -> int:
    from .cli_support import serials_from
    from .export import export_secrets

    serials = list(serials_from(args))
    if args.out.exists():
        raise InputError(f"{args.out} exists already.", "Choose a new file; an export never overwrites one.")
    station = open_for_work(args)
    password = (
        None
        if args.plain
        else _secret(EXPORT_PASSWORD_ENV, "Password for the export file: ", "export password")
    )
    export = export_secrets(station, serials, operator=operator(args), password=password, reason=args.reason)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(export.data)
    emit(
        args,
        {
            "file": str(args.out),
            "serials": list(export.serials),
            "protected": export.protected,
            "sha256": export.sha256,
            "ledger_seq": export.ledger_seq,
        },
        f"Secrets of {len(export.serials)} token(s) written to {args.out}"
        f" ({'password-protected' if export.protected else 'IN CLEAR'} PSKC);"
        f" ledger entry {export.ledger_seq}.",
    )
    return 0


def register(sub: argparse._SubParsersAction, verb: Verb) -> None:
    vault = sub.add_parser("vault", help="the encrypted vault").add_subparsers(
        dest="noun_verb", required=True
    )
    verb("keys", cmd_vault_keys, "admin YubiKeys that unlock the vault", vault)
    p = verb(
        "add-key",
        cmd_vault_add_key,
        "let an admin's YubiKey unlock the vault (HMAC-SHA1 challenge-response, OTP slot 2)",
        vault,
    )
    p.add_argument("--serial", type=int, required=True)
    p.add_argument(
        "--use-existing",
        action="store_true",
        help="slot 2 already holds the admin's own"
        " challenge-response secret: use it (default: program a fresh one; a slot in use is refused)",
    )
    add_operator(p)
    p = verb("remove-key", cmd_vault_remove_key, "stop an admin YubiKey unlocking the vault", vault)
    p.add_argument("--serial", type=int, required=True)
    add_operator(p)
    p = verb(
        "passphrase",
        cmd_vault_passphrase,
        "change the vault passphrase (the new one from $STATION_NEW_PASSPHRASE or asked twice)",
        vault,
    )
    add_operator(p)
    p = verb("rotate", cmd_vault_rotate, "replace the vault's data key, re-sealing every secret", vault)
    add_operator(p)
    p = verb(
        "export", cmd_vault_export, "write tokens' secrets to a PSKC file (a ledger event; admin)", vault
    )
    p.add_argument("serials", nargs="*", metavar="SERIAL")
    p.add_argument("--file", help="serials, one per line")
    p.add_argument("--out", type=Path, required=True, help="a new file")
    p.add_argument("--reason", required=True)
    p.add_argument(
        "--plain",
        action="store_true",
        help="write the secrets IN CLEAR (default: password-protected;"
        " the password from $STATION_EXPORT_PASSWORD or asked twice)",
    )
    add_operator(p)
