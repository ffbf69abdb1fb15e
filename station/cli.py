"""`station`: the scriptable face of the desk. Every verb calls a station/ function the kiosk also uses.

Exit codes: 0 ok, 1 failed, 2 usage or bad input, 3 verification failed. Errors print a message and a
hint on stderr. `--json` prints machine-readable output on stdout.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from ledger.errors import LedgerError

from .cli_support import add_operator, warn_spares
from .errors import InputError, StationError
from .verify import KINDS

PASSPHRASE_ENV = "STATION_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret


def read_passphrase(*, confirm: bool = False) -> str:
    """From STATION_PASSPHRASE, else prompted on the terminal (twice when creating)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise InputError(
            "No vault passphrase: STATION_PASSPHRASE is not set and there is no terminal to ask on.",
            "Set STATION_PASSPHRASE or run the command in a terminal.",
        )
    first = getpass.getpass("Vault passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise InputError("The two passphrases differ.", "Run the command again.")
    return first


def _data_dir(args: argparse.Namespace) -> Path:
    from .datadir import resolve_data_dir

    return resolve_data_dir(args.data)


def _emit(args: argparse.Namespace, data: object, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)


def _admin_token(args: argparse.Namespace) -> object:
    from .operators.credentials import program_yubikey_token, token_from_otpauth

    if args.admin_token_uri and args.admin_token_serial:
        raise InputError("Give the admin's token once: --admin-token-uri or --admin-token-serial.",
                         "Choose one.")
    if args.admin_token_uri:
        return token_from_otpauth(_read_text(args.admin_token_uri))
    if args.admin_token_serial:
        from drivers.bus import PCSC

        return program_yubikey_token(PCSC, args.admin_token_serial, args.admin, args.admin_token_kind)
    raise InputError(
        "The first admin needs their own token to sign in with.",
        "Insert the admin's YubiKey and give --admin-token-serial SERIAL (Yubico OTP in slot 1, or"
        " --admin-token-kind totp), or --admin-token-uri FILE with the otpauth:// URI of a TOTP/HOTP token.",
    )


def _read_text(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}: {exc}.", "Give a readable UTF-8 text file.") from exc


def cmd_init(args: argparse.Namespace) -> int:
    from .cli_auth import new_pin
    from .core import init_station

    passphrase = read_passphrase(confirm=True)
    pin = new_pin("STATION_ADMIN_PIN", args.admin)
    from .operators.pins import check_pin

    check_pin(pin, args.admin)
    token = _admin_token(args)
    station = init_station(_data_dir(args), args.site, passphrase, admin=args.admin, admin_pin=pin,
                           admin_token=token, origin=args.origin)
    envelope, station.init_envelope = station.init_envelope, None
    data = {"data_dir": str(station.data_dir), "site": station.config.site, "key_id": station.config.key_id,
            "origin": station.ledger.origin, "verifier_key": station.ledger.verifier_key(),
            "admin": args.admin, "admin_token": token.kind,
            "break_glass": {"operator": envelope.operator, "pin": envelope.pin,
                            "codes": list(envelope.codes)}}
    text = (f"Station for site {data['site']} created in {data['data_dir']}.\n"
            f"Ledger {data['origin']}, verifier key (give it to your auditor and head office):\n"
            f"{data['verifier_key']}\n"
            f"First admin: {args.admin} (signs in with their PIN and a code from their {token.kind}"
            " token).\n\n"
            "Print this once, cut it in two, and seal each part in its own envelope in the safe; it is not"
            " shown again:\n" + envelope.text())
    _emit(args, data, text)
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from .devices import key_as_json, present_keys

    keys = [key_as_json(k) for k in present_keys()]
    lines = [
        f"{k['serial'] or '-':>10}  {k['model']:<22} fw {k['firmware']:<7} {k['reader']}"
        f"  apps: {','.join(k['enabled'])}  OATH credentials: {_oath_use(k)}"
        for k in keys
    ]
    _emit(args, keys, "\n".join(lines) or "No YubiKey present.")
    return 0


def _issuing_operator(args: argparse.Namespace) -> None:
    if args.custodian and args.operator and args.custodian != args.operator:
        raise InputError("--custodian and --operator name different people.",
                         "The custodian issuing the token is the operator: give one of them.")
    args.operator = args.custodian or args.operator


def _replacement_approval(args: argparse.Namespace, station: object, owner: str) -> object:
    """A replacement of the owner's lost or damaged token: the second operator signs in to approve."""
    from .cli_support import second
    from .inventory.owners import replaces

    old = replaces(station.ledger.db, owner.strip())
    if old is None:
        return None
    return second(args, station, args.approver, f"replacing {owner}'s {old['kind']} token {old['serial']}")


def _recovery_text(codes: tuple[str, ...]) -> str:
    if not codes:
        return ""
    return ("\nThe owner's recovery codes were rotated with the replacement. Print them once for a sealed"
            " envelope (they are not shown again):\n" + "\n".join(f"  {c}" for c in codes))


def _oath_use(key: dict) -> str:
    """"3 of 32": credentials on the key, of what its firmware profile says it holds."""
    used = "?" if key["oath_credentials"] is None else str(key["oath_credentials"])
    if key["oath_capacity"] is not None:
        return f"{used} of {key['oath_capacity']}"
    return "none (no OATH application)" if key["profile"] is not None else used


def cmd_issue(args: argparse.Namespace) -> int:
    from .cli_support import open_for_work, operator
    from .issue import IssueRequest, issue_totp, validate
    from .operators.sessions import Session

    _issuing_operator(args)
    if args.code is not None:
        return _issue_classic(args)
    if not args.serial.isascii() or not args.serial.isdigit():
        raise InputError(f"{args.serial!r} is not a YubiKey serial number.",
                         "Type the serial printed on the key (digits only); a classic OATH token is issued"
                         " with --code, the first code read off the token.")
    placeholder = Session("", args.operator or "-", datetime.now(UTC))  # form check only, never acts
    request = IssueRequest(int(args.serial), args.owner, placeholder, args.issuer, args.digits, args.period,
                           args.algorithm, args.profile)
    validate(request)  # bad input is refused before the passphrase is asked for
    station = open_for_work(args)
    approver = _replacement_approval(args, station, args.owner)
    result = issue_totp(station, replace(request, custodian=operator(args)), approver=approver)
    data = asdict(result)
    data["recovery_codes"] = list(result.recovery_codes)
    otp = f"; Yubico OTP public id {result.yubico_otp_public_id}" if result.yubico_otp_public_id else ""
    _emit(args, data,
          f"Issued {result.credential_id} on key {result.serial} ({result.model}, fw {result.firmware})"
          f" to {result.owner}{otp}; ledger entry {result.ledger_seq}."
          + _recovery_text(result.recovery_codes))
    warn_spares(station)
    return 0


def _issue_classic(args: argparse.Namespace) -> int:
    from .cli_support import open_for_work, operator
    from .inventory.classic import issue_classic
    from .inventory.common import clean_serial
    from .verify import normalise_code

    serial = clean_serial(args.serial)
    normalise_code(args.code)
    station = open_for_work(args)
    approver = _replacement_approval(args, station, args.owner)
    result = issue_classic(station, serial, owner=args.owner, operator=operator(args), code=args.code,
                           approver=approver)
    data = asdict(result)
    data["recovery_codes"] = list(result.recovery_codes)
    _emit(args, data, f"Issued classic {result.oath_type} token {result.serial} to {result.owner}"
          f" (first code verified); ledger entry {result.ledger_seq}."
          + _recovery_text(result.recovery_codes))
    warn_spares(station)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .cli_support import open_for_work, operator
    from .verify import detect_kind, verify_code

    if args.kind == "auto" and args.next_code is None:
        detect_kind(args.code)  # malformed input is refused before the passphrase is asked for
    station = open_for_work(args)
    result = verify_code(station, args.owner, args.code, operator=operator(args), kind=args.kind,
                         next_code=args.next_code)
    where = f" from key {result.serial}" if result.serial is not None else ""
    _emit(args, asdict(result), f"Accepted: {result.kind} code{where} for {result.owner}. {result.message}")
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from .cli_support import open_for_work, operator
    from .reconcile import reconcile

    station = open_for_work(args)
    lines = reconcile(station, operator=operator(args))
    _emit(args, lines, "\n".join(lines) or "Nothing to reconcile.")
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from . import ledger_ops
    from .core import open_readonly

    station = None if args.bundle else open_readonly(_data_dir(args))
    report = ledger_ops.verify(station, bundle=args.bundle, trusted=args.trusted, keys=args.key or None,
                               workers=args.workers)
    data = report.as_json()
    what = f"bundle {args.bundle}" if args.bundle else "ledger"
    notes = "".join(f"\nnote: {n}" for n in report.notes)
    if report.ok:
        extends = " Extends the trusted checkpoint." if args.trusted else ""
        _emit(args, data, f"Ledger OK: {report.checked} entries; every entry, link and checkpoint "
              f"signature checks; tree root {report.root}.{extends}{notes}")
        return 0
    _emit(args, data, f"LEDGER DAMAGED ({report.kind}): {report.problem}\n"
          f"Keep this copy of the {what} as evidence, restore the station database from backup and tell the "
          "auditor." + notes)
    return 3


def cmd_ledger_checkpoint(args: argparse.Namespace) -> int:
    from . import ledger_ops
    from .core import open_readonly

    note = ledger_ops.checkpoint(open_readonly(_data_dir(args)), cosigned=args.cosigned)
    if args.json:
        _emit(args, {"checkpoint": note}, note)
    else:
        sys.stdout.write(note)  # exactly as signed: a verifier must get these bytes
    return 0


def cmd_ledger_key(args: argparse.Namespace) -> int:
    from . import ledger_ops
    from .core import open_readonly

    vkey = ledger_ops.verifier_key(open_readonly(_data_dir(args)))
    _emit(args, {"verifier_key": vkey}, vkey)
    return 0


def cmd_ledger_prove(args: argparse.Namespace) -> int:
    from . import ledger_ops
    from .core import open_readonly

    proof = ledger_ops.prove(open_readonly(_data_dir(args)), args.index, args.size)
    if args.json:
        _emit(args, {"index": proof.index, "tlog_proof": proof.format()}, "")
    else:
        sys.stdout.write(proof.format())
    return 0


def cmd_ledger_consistency(args: argparse.Namespace) -> int:
    from . import ledger_ops
    from .core import open_readonly

    hashes = ledger_ops.consistency(open_readonly(_data_dir(args)), args.old, args.new)
    _emit(args, {"old": args.old, "new": args.new, "proof": hashes}, "\n".join(hashes))
    return 0


def cmd_ledger_export(args: argparse.Namespace) -> int:
    from . import ledger_ops
    from .core import open_readonly

    meta = ledger_ops.export(open_readonly(_data_dir(args)), args.dir)
    _emit(args, meta, f"Exported {meta['size']} entries of {meta['origin']} to {args.dir} "
          "(C2SP tlog-tiles, checkpoint, keys, README.md for the auditor).")
    return 0


def cmd_ledger_rotate_key(args: argparse.Namespace) -> int:
    from . import ledger_ops
    from .cli_support import open_for_work, operator

    rotation = ledger_ops.rotate_key(open_for_work(args), operator=operator(args))
    data = {"seq": rotation.entry.seq, "old_key": rotation.old_key, "new_key": rotation.new_key}
    _emit(args, data, f"Ledger key rotated at entry {rotation.entry.seq}. New verifier key (give it to your "
          f"auditor and head office):\n{rotation.new_key}")
    return 0


def cmd_ledger_witness(args: argparse.Namespace) -> int:
    from .cli_support import open_for_work, operator
    from .witness import witness

    result = witness(open_for_work(args), args.bundle, log_key=args.log_key, operator=operator(args))
    if args.out:
        args.out.write_text(result.cosigned, encoding="utf-8")
    data = {"origin": result.origin, "size": result.size, "cosignature": result.line.rstrip("\n"),
            "cosigned_checkpoint": result.cosigned, "witness_key": result.witness_key}
    if args.json:
        _emit(args, data, "")
    else:
        sys.stdout.write(result.cosigned)
    return 0


def cmd_ledger_witness_key(args: argparse.Namespace) -> int:
    from .cli_support import open_unlocked
    from .witness import witness_key

    vkey = witness_key(open_unlocked(args))
    _emit(args, {"witness_key": vkey}, vkey)
    return 0


def cmd_ledger_cosign_add(args: argparse.Namespace) -> int:
    from . import ledger_ops

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {args.file}: {exc}.", "Give the file head office sent back.") from exc
    from .cli_support import open_for_work, operator

    entry = ledger_ops.cosign_add(open_for_work(args), text, witness_key=args.witness_key,
                                  operator=operator(args))
    _emit(args, {"seq": entry.seq, "size": entry.body["size"], "witness": entry.body["witness"]},
          f"Cosignature by {entry.body['witness'].split('+')[0]} on checkpoint {entry.body['size']} stored "
          f"(ledger entry {entry.seq}).")
    return 0


def cmd_ledger_upgrade(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .core import open_station
    from .datadir import check_origin, load_config, write_config

    data_dir = _data_dir(args)
    config = load_config(data_dir)
    if args.origin:
        if config.origin and config.origin != args.origin:
            raise InputError(f"This station's ledger is already {config.origin}.",
                             "A log's origin cannot change; leave out --origin.")
        try:
            check_origin(args.origin)
        except ValueError as exc:
            raise InputError(f"The origin {exc}.", "Name the log like tokens.example.org/branch-07.") from exc
        write_config(data_dir, replace(config, origin=args.origin))
    from .cli_support import unlock_method

    station = open_station(data_dir, unlock_method(args))
    _emit(args, {"origin": station.ledger.origin, "size": station.ledger.tree_size()},
          f"Ledger {station.ledger.origin}: {station.ledger.tree_size()} entries under signed checkpoints.")
    return 0


def cmd_ledger_show(args: argparse.Namespace) -> int:
    from .core import open_readonly

    station = open_readonly(_data_dir(args))
    entries, damage = [], None
    try:
        for entry in station.ledger.entries():
            entries.append(entry)
    except LedgerError as exc:
        damage = exc  # show what reads cleanly up to the damage, then say where it is
    if args.limit:
        entries = entries[-args.limit:]
    rows = [{"seq": e.seq, "at": e.at, "type": e.type, "actor": e.actor, "body": e.body, "hash": e.hash}
            for e in entries]
    text = "\n".join(
        f"{r['seq']:>6}  {r['at']}  {r['type']:<22} by {r['actor']:<12} "
        + " ".join(f"{k}={v}" for k, v in sorted(r["body"].items()))
        for r in rows
    )
    _emit(args, rows, text or "The ledger is empty.")
    if damage is not None:
        raise LedgerError(f"The ledger cannot be read past this point: {damage.message}",
                          "Run 'station ledger verify' for the full check, and tell the auditor.")
    return 0


def cmd_kiosk(args: argparse.Namespace) -> int:
    from tui.app import run_kiosk

    return run_kiosk(_data_dir(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from tui.app import run_kiosk

    from .demo import run_demo

    return run_demo(Path(args.data) if args.data else Path("demo-station"), run_kiosk)


def cmd_emulator_serve(args: argparse.Namespace) -> int:
    from drivers.emulator.vpcd import run_from_args

    return run_from_args(args)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="station", description="Token Station: hardware token desk.")
    parser.add_argument(
        "--data", help="data directory (default: $STATION_DATA or ~/.local/share/token-station)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--unlock", help="how to unlock the vault: passphrase (default; $STATION_PASSPHRASE"
                        " or"
                        " asked), key or key:SERIAL (an enrolled admin YubiKey's challenge-response)")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, func: Callable[[argparse.Namespace], int], help_: str,
             parent: argparse._SubParsersAction = sub) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_, description=help_)
        # Accepted before or after the verb: `station --json devices` and `station devices --json`.
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="machine-readable output")
        p.add_argument("--data", default=argparse.SUPPRESS, help="data directory (as the global --data)")
        p.set_defaults(func=func)
        return p

    p = verb("init", cmd_init, "create a station: signing key, encrypted vault, ledger")
    p.add_argument("--site", required=True, help="branch or site name, e.g. branch-07")
    p.add_argument("--admin", default="admin", help="id of the admin setting the station up (they type"
                   " their new PIN; scripts: STATION_ADMIN_PIN)")
    p.add_argument("--admin-token-serial", metavar="SERIAL", help="the admin's YubiKey, inserted: the station"
                   " programs their sign-in token onto it")
    p.add_argument("--admin-token-kind", choices=("yubico-otp", "totp"), default="yubico-otp",
                   help="Yubico OTP in slot 1 (a touch types the code; default), or an OATH-TOTP credential")
    p.add_argument("--admin-token-uri", metavar="FILE", help="or: a file with the otpauth:// URI of the"
                   " admin's"
                   " TOTP/HOTP token")
    p.add_argument("--origin", help="the ledger's name as a transparency log, e.g. "
                   "tokens.example.org/branch-07 (default: token-station.invalid/SITE); fixed for good")

    verb("devices", cmd_devices, "list the YubiKeys present")

    p = verb("issue", cmd_issue, "issue a token: program a YubiKey per its recipe, or bind a classic token"
             " (--code)")
    p.add_argument("--serial", required=True, help="serial number of the token (the inserted key)")
    p.add_argument("--owner", required=True, help="id of the person receiving the token")
    p.add_argument("--custodian", help="id of the custodian handing it out (the operator, who signs in)")
    p.add_argument("--operator", help=argparse.SUPPRESS)  # the custodian, by its general name
    p.add_argument("--approver", help="replacing a lost or damaged token: the supervisor approving it (they"
                   " sign in; default $STATION_APPROVER)")
    p.add_argument("--profile", default="yubikey-oath-totp", help="provisioning recipe (firmware_profiles/"
                   "recipes/)")
    p.add_argument("--code", help="classic OATH token: the first code read off it, checked before the issue")
    p.add_argument("--issuer", help="issuer shown on the key (default: the recipe's)")
    p.add_argument("--digits", type=int, choices=(6, 8))
    p.add_argument("--period", type=int, choices=(30, 60))
    p.add_argument("--algorithm", choices=("SHA1", "SHA256", "SHA512"), type=str.upper)

    p = verb("verify", cmd_verify, "check a code offline: TOTP, HOTP, Yubico OTP, recovery or temporary code"
             " (exit 3 when rejected, 2 when malformed)")
    p.add_argument("--owner", help="whose code (a Yubico OTP names its key: the owner may be left out)")
    p.add_argument("--code", required=True)
    p.add_argument("--kind", choices=KINDS, default="auto",
                   help="the code's kind (default: told by its form)")
    p.add_argument("--next-code",
                   help="HOTP resynchronisation: the code after --code, pressed right after it")
    add_operator(p, "the operator checking the code")

    p = verb("reconcile", cmd_reconcile, "settle device writes interrupted by a pulled key or a crash")
    add_operator(p)

    ledger = sub.add_parser("ledger", help="the signed log").add_subparsers(dest="noun_verb", required=True)
    p = verb("verify", cmd_ledger_verify, "rebuild the Merkle tree and check every entry, link and signature "
             "(exit 3 when damaged)", ledger)
    p.add_argument("--bundle", type=Path, help="verify an exported bundle instead of this station's ledger")
    p.add_argument("--trusted", type=Path, metavar="CHECKPOINT_FILE",
                   help="a checkpoint you kept earlier: the ledger must extend it")
    p.add_argument("--key", action="append", metavar="VERIFIER_KEY",
                   help="the log key you trust (name+id+base64; repeatable); default: the keys on record")
    p.add_argument("--workers", type=_positive, help="processes to verify with (default: one per core)")
    p = verb("show", cmd_ledger_show, "list ledger events", ledger)
    p.add_argument("--limit", type=_positive, default=0, help="only the last N events")
    p = verb("checkpoint", cmd_ledger_checkpoint, "print the latest signed checkpoint (C2SP signed note)",
             ledger)
    p.add_argument("--cosigned", action="store_true",
                   help="the newest checkpoint a witness cosigned, with the cosignature")
    verb("key", cmd_ledger_key, "print the ledger's verifier key (name+keyid+base64)", ledger)
    p = verb("prove", cmd_ledger_prove, "print a C2SP tlog-proof that entry N is in the ledger", ledger)
    p.add_argument("--index", type=_natural, required=True, help="the entry (its seq)")
    p.add_argument("--size", type=_positive, help="tree size of a kept checkpoint (default: the latest)")
    p = verb("consistency", cmd_ledger_consistency, "print the consistency proof between two tree sizes "
             "(base64 hashes, one per line)", ledger)
    p.add_argument("--old", type=_positive, required=True, help="the older tree size")
    p.add_argument("--new", type=_positive, help="the newer tree size (default: the latest)")
    p = verb("export", cmd_ledger_export, "write a self-contained bundle for an auditor (C2SP tlog-tiles)",
             ledger)
    p.add_argument("dir", type=Path, help="a new or empty directory")
    p = verb("rotate-key", cmd_ledger_rotate_key, "replace the ledger's signing key (the old key signs the "
             "announcement)", ledger)
    add_operator(p, "the admin doing it")
    p = verb("witness", cmd_ledger_witness, "at head office: verify a branch's bundle against what was "
             "witnessed before and cosign its checkpoint (C2SP cosignature/v1)", ledger)
    p.add_argument("--bundle", type=Path, required=True, help="the branch's exported bundle")
    p.add_argument("--log-key", help="the branch's verifier key, needed the first time")
    p.add_argument("--out", type=Path, help="also write the cosigned checkpoint to this file")
    add_operator(p)
    verb("witness-key", cmd_ledger_witness_key, "print this station's witness key", ledger)
    p = verb("cosign-add", cmd_ledger_cosign_add, "store a witness's cosignature on this station's "
             "checkpoint", ledger)
    p.add_argument("file", type=Path, help="the cosigned checkpoint (or cosignature line) from the witness")
    p.add_argument("--witness-key", help="the witness's key (name+id+base64), needed the first time")
    add_operator(p)
    p = verb("upgrade", cmd_ledger_upgrade, "upgrade a ledger from before signed checkpoints (opening the "
             "station does it too, with the default origin)", ledger)
    p.add_argument("--origin", help="the log's name, e.g. tokens.example.org/branch-07")

    from . import cli_idp, cli_inventory, cli_operators, cli_reports, cli_tokens, cli_vault

    cli_inventory.register(sub, verb)
    cli_tokens.register(sub, verb)
    cli_reports.register(sub, verb)
    cli_idp.register(sub, verb)
    cli_operators.register(sub, verb)
    cli_vault.register(sub, verb)

    verb("kiosk", cmd_kiosk, "start the kiosk (Textual terminal app)")
    verb("demo", cmd_demo, "the kiosk on a virtual YubiKey (starts pcscd and the key; data: ./demo-station)")

    emulator = sub.add_parser("emulator", help="the virtual YubiKey").add_subparsers(dest="noun_verb",
                                                                                      required=True)
    p = emulator.add_parser("serve", help="serve a virtual YubiKey to pcscd through vpcd")
    from drivers.emulator.vpcd import add_serve_arguments

    add_serve_arguments(p)
    p.set_defaults(func=cmd_emulator_serve, json=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (StationError, LedgerError) as exc:
        code = exc.exit_code if isinstance(exc, StationError) else 3
        if getattr(args, "json", False):
            # Scripts get the failure as JSON too; people still read it on stderr.
            failure = {"ok": False, "error": exc.message, "hint": exc.hint, "exit_code": code}
            rejected = getattr(exc, "rejected", None)
            if rejected is not None:  # every bad entry of a list, seed file or directory
                failure["rejected"] = [asdict(r) for r in rejected]
            print(json.dumps(failure))
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("interrupted; nothing further was done", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc} ({exc.filename or 'system call'})", file=sys.stderr)
        print("hint: check the path, its permissions and free space, then try again.", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - an operator never gets a traceback; STATION_DEBUG shows it
        if os.environ.get("STATION_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: this is a bug; nothing further was done. Run again with STATION_DEBUG=1 and "
              "report the output.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
