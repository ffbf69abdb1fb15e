"""Helpers shared by the CLI modules: opening the station, the acting operator, printing tables.

`open_for_work` opens the station with the vault unlocked and signs the operator in (cli_auth); the
session is kept on `args`, where `operator(args)` finds it for the station function's `operator=`.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .core import Station
from .errors import InputError, StationError

OPERATOR_ENV = "STATION_OPERATOR"
UNLOCK_ENV = "STATION_UNLOCK"


def data_dir(args: argparse.Namespace) -> Path:
    from .datadir import resolve_data_dir

    return resolve_data_dir(args.data)


def unlock_method(args: argparse.Namespace) -> object:
    """The vault passphrase, or an admin YubiKey (--unlock key[:SERIAL] or STATION_UNLOCK=key[:SERIAL])."""
    from .cli import read_passphrase
    from .core import KeyUnlock

    choice = getattr(args, "unlock", None) or os.environ.get(UNLOCK_ENV) or "passphrase"
    if choice == "passphrase":
        return read_passphrase()
    kind, _, serial = choice.partition(":")
    if kind != "key" or (serial and not serial.isdigit()):
        raise InputError(
            f"{choice!r} is not a way to unlock the vault.",
            "Use --unlock passphrase, --unlock key or --unlock key:SERIAL.",
        )
    return KeyUnlock(int(serial) if serial else None)


def open_unlocked(args: argparse.Namespace) -> Station:
    """The station with its vault unlocked, nobody signed in yet."""
    from .core import open_station

    return open_station(data_dir(args), unlock_method(args))


def open_for_work(args: argparse.Namespace) -> Station:
    """Open the station with its vault unlocked and sign the acting operator in (see cli_auth)."""
    from .cli_auth import signed_in

    station = open_unlocked(args)
    args.session = signed_in(args, station)
    return station


def open_for_reading(args: argparse.Namespace) -> Station:
    """Read-only, without the passphrase (an auditor's copy will do); the inventory must be current."""
    from . import projection
    from .core import open_readonly

    station = open_readonly(data_dir(args))
    if not projection.is_current(station.ledger.db):
        station.close()
        raise StationError(
            "The inventory tables are older than this program.",
            "Open the station once for work (any command with the passphrase), or run"
            " 'station inventory rebuild'.",
        )
    return station


def add_operator(p: argparse.ArgumentParser, help_: str = "your operator id") -> None:
    from .cli_auth import add_operator_option

    add_operator_option(p, help_)


def operator(args: argparse.Namespace) -> object:
    """The signed-in operator's session (open_for_work signs in before this is asked for)."""
    session = getattr(args, "session", None)
    if session is None:
        raise InputError(
            "No operator is signed in.", "Open the station for work first (a bug if you see this)."
        )
    return session


def second(args: argparse.Namespace, station: Station, who: str | None, what: str) -> object:
    """A second operator's fresh approval (they sign in for this one action)."""
    from .cli_auth import second_operator

    return second_operator(station, who, what)


def emit(args: argparse.Namespace, data: object, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str) if args.json else text)


def warn_spares(station: Station) -> None:
    """After a move that can empty a shelf: name every place under its spare level (on stderr)."""
    import sys

    from .inventory.spares import spare_warnings

    for line in spare_warnings(station.ledger.db):
        print(f"warning: {line}", file=sys.stderr)


def table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Rows as aligned text columns (empty cells for None)."""
    if not rows:
        return "(nothing)"
    columns = list(columns or rows[0])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def read_lines(path: str) -> list[str]:
    """Serials from a file, one per line (blank lines and # comments skipped); '-' is stdin."""
    import sys

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            f"{path} is not UTF-8 text.", "Give a plain text file, one serial per line."
        ) from None
    values = [line.split("#")[0].split(",")[0].strip() for line in text.splitlines()]
    values = [v for v in values if v]
    if values and values[0].lower() == "serial":  # a header line
        values = values[1:]
    return values


def serials_from(args: argparse.Namespace) -> Iterable[str]:
    serials = list(getattr(args, "serials", None) or [])
    if getattr(args, "file", None):
        serials += read_lines(args.file)
    return serials
