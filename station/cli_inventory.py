"""CLI verbs for people and places: sites, locations, operators, the employee directory, spare levels."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from .cli_support import add_operator, emit, open_for_reading, open_for_work, operator, table
from .errors import InputError

Verb = Callable[..., argparse.ArgumentParser]


def cmd_site_add(args: argparse.Namespace) -> int:
    from .inventory.admin import add_site

    site = add_site(
        open_for_work(args),
        args.site,
        operator=operator(args),
        name=args.name,
        region=args.region,
        audit_every_days=args.audit_every,
    )
    emit(args, asdict(site), f"Site {site.id} recorded.")
    return 0


def cmd_site_list(args: argparse.Namespace) -> int:
    from .inventory.admin import list_sites

    rows = list_sites(open_for_reading(args))
    emit(args, rows, table(rows))
    return 0


def cmd_location_add(args: argparse.Namespace) -> int:
    from .inventory.admin import add_location

    loc = add_location(
        open_for_work(args),
        args.location,
        site=args.site,
        kind=args.kind,
        operator=operator(args),
        name=args.name,
        audit_every_days=args.audit_every,
    )
    emit(args, asdict(loc), f"Location {loc.id} ({loc.kind}) at {loc.site} recorded.")
    return 0


def cmd_location_list(args: argparse.Namespace) -> int:
    from .inventory.admin import list_locations

    rows = list_locations(open_for_reading(args), args.site)
    emit(args, rows, table(rows))
    return 0


def _plan_text(plan: object) -> str:
    lines = [
        f"Directory {plan.source}: {len(plan.added)} to add, {len(plan.changed)} to change,"
        f" {len(plan.removed)} leaving, {plan.unchanged} unchanged."
    ]
    lines += [f"  + {e.id}  {e.name}  ({e.department}, {e.site})" for e in plan.added[:50]]
    for c in plan.changed[:50]:
        diffs = ", ".join(f"{f}: {getattr(c.before, f)!r} -> {getattr(c.after, f)!r}" for f in c.fields)
        lines.append(f"  ~ {c.after.id}  {diffs}")
    lines += [f"  - {e.id}  {e.name}" for e in plan.removed[:50]]
    shown = min(len(plan.added), 50) + min(len(plan.changed), 50) + min(len(plan.removed), 50)
    total = len(plan.added) + len(plan.changed) + len(plan.removed)
    if total > shown:
        lines.append(f"  ... and {total - shown} more (--json lists every change)")
    lines += [
        f"  ! {who} leaves holding {' '.join(serials)}: recover them" for who, serials in plan.leavers_holding
    ]
    lines += [f"  ! {w}" for w in plan.warnings]
    if not plan.empty:
        lines.append(f"Diff {plan.id}: apply exactly this diff with --yes --expect {plan.id}")
    return "\n".join(lines)


def _plan_json(plan: object) -> dict:
    return {
        "diff": plan.id,
        "source": plan.source,
        "sha256": plan.sha256,
        "added": [asdict(e) for e in plan.added],
        "changed": [
            {"id": c.after.id, "fields": list(c.fields), "before": asdict(c.before), "after": asdict(c.after)}
            for c in plan.changed
        ],
        "removed": [asdict(e) for e in plan.removed],
        "unchanged": plan.unchanged,
        "leavers_holding": [{"id": i, "serials": list(s)} for i, s in plan.leavers_holding],
        "warnings": list(plan.warnings),
    }


def cmd_directory_import(args: argparse.Namespace) -> int:
    from .inventory.directory import apply_directory, plan_directory

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"There is no file {args.file}.", "Check the path to the directory export."
        ) from None
    station = open_for_work(args)
    plan = plan_directory(station, data, Path(args.file).name)
    if args.expect and args.expect != plan.id:
        raise InputError(
            f"The diff is now {plan.id}, not {args.expect}: the file or the directory changed.",
            "Show the diff again (--dry-run) and confirm the new one.",
        )
    applied = False
    if not plan.empty and not args.dry_run:
        if not args.yes:
            if args.json or not sys.stdin.isatty():
                emit(
                    args,
                    {**_plan_json(plan), "applied": False},
                    _plan_text(plan) + "\nNothing changed: add --yes to apply this diff.",
                )
                return 0
            print(_plan_text(plan))
            if input("Apply these changes? [y/N] ").strip().lower() not in ("y", "yes"):
                print("Nothing changed.")
                return 0
        apply_directory(station, plan, operator=operator(args), allow_mass_removal=args.allow_mass_removal)
        applied = True
    text = _plan_text(plan) + (
        "\nApplied." if applied else "\nNothing changed" + ("." if plan.empty else " (dry run).")
    )
    emit(args, {**_plan_json(plan), "applied": applied}, text)
    return 0


def cmd_spares_set(args: argparse.Namespace) -> int:
    from .inventory.spares import set_spare_level

    level = set_spare_level(
        open_for_work(args),
        minimum=args.minimum,
        operator=operator(args),
        site=args.site,
        location=args.location,
        kind=args.kind,
    )
    emit(
        args,
        {**asdict(level), "shortfall": level.shortfall},
        f"Spare level for {level.site}{'/' + level.location if level.location else ''}: {args.minimum}"
        f" (available now: {level.available}).",
    )
    return 0


def cmd_spares_show(args: argparse.Namespace) -> int:
    from .inventory.spares import spare_levels, spare_warnings

    station = open_for_reading(args)
    levels = [{**asdict(s), "shortfall": s.shortfall} for s in spare_levels(station.ledger.db)]
    warnings = spare_warnings(station.ledger.db)
    emit(
        args,
        {"levels": levels, "warnings": warnings},
        table(levels, ["site", "location", "kind", "minimum", "available", "shortfall"])
        + ("\n" + "\n".join(f"WARNING: {w}" for w in warnings) if warnings else ""),
    )
    return 0


def register(sub: argparse._SubParsersAction, verb: Verb) -> None:
    def noun(name: str, help_: str) -> argparse._SubParsersAction:
        return sub.add_parser(name, help=help_).add_subparsers(dest="noun_verb", required=True)

    site = noun("site", "sites (branches)")
    p = verb("add", cmd_site_add, "add a site, or change one (admin)", site)
    p.add_argument("site")
    p.add_argument("--name")
    p.add_argument("--region", help="sites of one region are each other's nearest for spares")
    p.add_argument("--audit-every", type=int, metavar="DAYS", help="days between physical counts")
    add_operator(p)
    verb("list", cmd_site_list, "list sites", site)

    location = noun("location", "storage locations: safes, drawers, shift posts")
    p = verb("add", cmd_location_add, "add a storage location, or change one (admin)", location)
    p.add_argument("location")
    p.add_argument("--site", required=True)
    p.add_argument("--kind", required=True, help="safe, drawer, shift-post, desk, cabinet or other")
    p.add_argument("--name")
    p.add_argument("--audit-every", type=int, metavar="DAYS")
    add_operator(p)
    p = verb("list", cmd_location_list, "list storage locations", location)
    p.add_argument("--site")

    directory = noun("directory", "the employee directory")
    p = verb(
        "import",
        cmd_directory_import,
        "import the directory CSV: shows the diff, applies on --yes",
        directory,
    )
    p.add_argument(
        "file", help="CSV export (id,name,department,site,group,contractor,access_end); - for stdin"
    )
    p.add_argument("--dry-run", action="store_true", help="show the diff only")
    p.add_argument("--yes", action="store_true", help="apply the diff without asking")
    p.add_argument("--expect", metavar="DIFF", help="apply only if the diff is still the one shown")
    p.add_argument("--allow-mass-removal", action="store_true", help="confirm that many employees left")
    add_operator(p)

    spares = noun("spares", "spare levels per site and location")
    p = verb("set", cmd_spares_set, "set the minimum spares for a site or location (0 removes it)", spares)
    p.add_argument("--minimum", type=int, required=True)
    p.add_argument("--site")
    p.add_argument("--location")
    p.add_argument("--kind", choices=("yubikey", "oath"))
    add_operator(p)
    verb("show", cmd_spares_show, "spare levels, shortfalls and where the nearest spares are", spares)
