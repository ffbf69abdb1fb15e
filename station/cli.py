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
from dataclasses import asdict
from pathlib import Path

from ledger.errors import LedgerError

from .errors import InputError, StationError

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


def cmd_init(args: argparse.Namespace) -> int:
    from .core import init_station

    station = init_station(_data_dir(args), args.site, read_passphrase(confirm=True), admin=args.admin)
    data = {"data_dir": str(station.data_dir), "site": station.config.site, "key_id": station.config.key_id}
    text = f"Station for site {data['site']} created in {data['data_dir']} (key {data['key_id']})."
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


def _oath_use(key: dict) -> str:
    """"3 of 32": credentials on the key, of what its firmware profile says it holds."""
    used = "?" if key["oath_credentials"] is None else str(key["oath_credentials"])
    if key["oath_capacity"] is not None:
        return f"{used} of {key['oath_capacity']}"
    return "none (no OATH application)" if key["profile"] is not None else used


def cmd_issue(args: argparse.Namespace) -> int:
    from .core import open_station
    from .issue import IssueRequest, issue_totp, validate

    request = IssueRequest(args.serial, args.owner, args.custodian, args.issuer, args.digits, args.period,
                           args.algorithm)
    validate(request)  # bad input is refused before the passphrase is asked for
    station = open_station(_data_dir(args), read_passphrase())
    result = issue_totp(station, request)
    _emit(args, asdict(result),
          f"Issued {result.credential_id} on key {result.serial} ({result.model}, fw {result.firmware})"
          f" to {result.owner}; ledger entry {result.ledger_seq}.")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .core import open_station
    from .verify import normalise_code, verify_totp

    normalise_code(args.code)
    station = open_station(_data_dir(args), read_passphrase())
    result = verify_totp(station, args.owner, args.code, operator=args.operator)
    _emit(args, asdict(result), f"Accepted: code from key {result.serial} for {result.owner}.")
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from .core import open_station
    from .reconcile import reconcile

    lines = reconcile(open_station(_data_dir(args), read_passphrase()), operator=args.operator)
    _emit(args, lines, "\n".join(lines) or "Nothing to reconcile.")
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from .core import open_readonly

    station = open_readonly(_data_dir(args))
    report = station.ledger.verify(station.public_keys())
    data = {"ok": report.ok, "checked": report.checked, "first_bad_seq": report.first_bad_seq,
            "problem": report.problem}
    if report.ok:
        _emit(args, data, f"Ledger OK: {report.checked} entries, every hash, link and signature checks.")
        return 0
    _emit(args, data, f"LEDGER DAMAGED: {report.problem}\n"
          "Keep this copy as evidence, restore the station database from backup and tell the auditor.")
    return 3


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="station", description="Token Station: hardware token desk.")
    parser.add_argument(
        "--data", help="data directory (default: $STATION_DATA or ~/.local/share/token-station)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
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
    p.add_argument("--admin", default="admin", help="id of the admin setting the station up")

    verb("devices", cmd_devices, "list the YubiKeys present")

    p = verb("issue", cmd_issue, "program a TOTP credential for an owner onto a key")
    p.add_argument("--serial", type=int, required=True, help="serial number of the inserted key")
    p.add_argument("--owner", required=True, help="id of the person receiving the token")
    p.add_argument("--custodian", required=True, help="id of the custodian handing it out")
    p.add_argument("--issuer", default="Token Station", help="issuer shown on the key")
    p.add_argument("--digits", type=int, choices=(6, 8), default=6)
    p.add_argument("--period", type=int, choices=(30, 60), default=30)
    p.add_argument("--algorithm", choices=("SHA1", "SHA256", "SHA512"), default="SHA1", type=str.upper)

    p = verb("verify", cmd_verify, "check a one-time code offline (exit 3 when rejected)")
    p.add_argument("--owner", required=True)
    p.add_argument("--code", required=True)
    p.add_argument("--operator", default=os.environ.get("STATION_OPERATOR", "desk"),
                   help="operator checking the code (default $STATION_OPERATOR or 'desk')")

    p = verb("reconcile", cmd_reconcile, "settle device writes interrupted by a pulled key or a crash")
    p.add_argument("--operator", default=os.environ.get("STATION_OPERATOR", "desk"))

    ledger = sub.add_parser("ledger", help="the signed log").add_subparsers(dest="noun_verb", required=True)
    verb("verify", cmd_ledger_verify, "re-check every hash, link and signature", ledger)
    p = verb("show", cmd_ledger_show, "list ledger events", ledger)
    p.add_argument("--limit", type=_positive, default=0, help="only the last N events")

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
            print(json.dumps({"ok": False, "error": exc.message, "hint": exc.hint, "exit_code": code}))
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
