"""Helpers shared by the CLI modules: opening the station, the acting operator, printing tables."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .core import Station
from .errors import InputError, StationError

OPERATOR_ENV = "STATION_OPERATOR"


def data_dir(args: argparse.Namespace) -> Path:
    from .datadir import resolve_data_dir

    return resolve_data_dir(args.data)


def open_for_work(args: argparse.Namespace) -> Station:
    from .cli import read_passphrase
    from .core import open_station

    return open_station(data_dir(args), read_passphrase())


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
    p.add_argument(
        "--operator", default=os.environ.get(OPERATOR_ENV), help=f"{help_} (default $STATION_OPERATOR)"
    )


def operator(args: argparse.Namespace) -> str:
    if not args.operator:
        raise InputError("No operator given.", "Give --operator ID or set STATION_OPERATOR.")
    return args.operator


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
