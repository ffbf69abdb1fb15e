"""CLI verbs for audits, reports and the inventory tables themselves."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from .cli_inventory import Verb
from .cli_support import (
    add_operator,
    emit,
    open_for_reading,
    open_for_work,
    operator,
    second,
    serials_from,
    table,
)


def cmd_audit_start(args: argparse.Namespace) -> int:
    from .inventory.audits import start_audit

    audit = start_audit(open_for_work(args), operator=operator(args), site=args.site, location=args.location)
    emit(args, {"audit": audit}, f"Audit {audit} started. Count with: station audit count {audit} SERIAL...")
    return 0


def cmd_audit_count(args: argparse.Namespace) -> int:
    from .inventory.audits import count

    n = count(
        open_for_work(args), args.audit, serials_from(args), operator=operator(args), location=args.location
    )
    emit(args, {"audit": args.audit, "counted": n}, f"Counted {n} serial(s) in audit {args.audit}.")
    return 0


def _result(args: argparse.Namespace, result: object, closed: bool) -> int:
    data = {
        "audit": result.audit,
        "site": result.site,
        "location": result.location,
        "closed": closed,
        "found": list(result.found),
        "missing": list(result.missing),
        "wrong_place": list(result.wrong_place),
        "unexpected": list(result.unexpected),
    }
    head = (
        f"Audit {result.audit} {'closed and signed off' if closed else '(not closed yet)'}:"
        f" {len(result.found)} found, {len(result.missing)} missing, {len(result.wrong_place)} in the wrong"
        f" place, {len(result.unexpected)} unexpected."
    )
    emit(args, data, head + ("\n" + table(result.exceptions()) if result.exceptions() else ""))
    return 0


def cmd_audit_show(args: argparse.Namespace) -> int:
    from .inventory.audits import reconcile_audit

    return _result(args, reconcile_audit(open_for_reading(args).ledger.db, args.audit), closed=False)


def cmd_audit_close(args: argparse.Namespace) -> int:
    from .inventory.audits import close_audit

    station = open_for_work(args)
    witness = second(args, station, args.second, f"closing audit {args.audit}") if args.second else None
    result = close_audit(
        station, args.audit, operator=operator(args), second_operator=witness, note=args.note
    )
    return _result(args, result, closed=True)


def cmd_report(args: argparse.Namespace) -> int:
    from .inventory.reports import REPORTS, Options, as_csv, run_report

    if args.name == "list":
        rows = [{"report": name, "title": title} for name, (title, _fn) in REPORTS.items()]
        emit(args, rows, table(rows))
        return 0
    station = open_for_reading(args)
    on = datetime.now(UTC).date() if args.on is None else args.on
    report = run_report(station.ledger.db, args.name, Options(on, args.within_days, args.since, args.until))
    if args.csv:
        print(as_csv(report), end="")
    else:
        emit(args, report.as_json(), f"{report.title}\n\n{table(report.rows, report.columns)}")
    return 0


def cmd_inventory_rebuild(args: argparse.Namespace) -> int:
    from .inventory.rebuild import check_rebuild, rebuild_in_place

    if args.check:
        differences = check_rebuild(open_for_reading(args))
        if differences:
            emit(
                args,
                {"ok": False, "differences": differences},
                "INVENTORY DIFFERS FROM THE LEDGER:\n"
                + "\n".join(differences)
                + "\nRun 'station inventory rebuild' to rebuild it from the ledger, and tell the auditor.",
            )
            return 3
        emit(
            args,
            {"ok": True, "differences": []},
            "Inventory OK: a rebuild from the ledger gives the same tables.",
        )
        return 0
    entries = rebuild_in_place(open_for_work(args))
    emit(args, {"ok": True, "entries": entries}, f"Inventory rebuilt from {entries} ledger entries.")
    return 0


def _date(text: str) -> object:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def register(sub: argparse._SubParsersAction, verb: Verb) -> None:
    audit = sub.add_parser("audit", help="physical counts").add_subparsers(dest="noun_verb", required=True)
    p = verb("start", cmd_audit_start, "start a count for a site or a location (auditor)", audit)
    p.add_argument("--site")
    p.add_argument("--location")
    add_operator(p)
    p = verb("count", cmd_audit_count, "record serials present (scanned or typed)", audit)
    p.add_argument("audit")
    p.add_argument("serials", nargs="*", metavar="SERIAL")
    p.add_argument("--file", help="serials, one per line (- for stdin, e.g. a barcode scanner)")
    p.add_argument("--location", help="where these were counted (for a whole-site count)")
    add_operator(p)
    p = verb("show", cmd_audit_show, "reconcile the count so far, without closing", audit)
    p.add_argument("audit")
    p = verb("close", cmd_audit_close, "reconcile and sign off", audit)
    p.add_argument("audit")
    p.add_argument("--second", help="a second operator signing off")
    p.add_argument("--note")
    add_operator(p)

    p = verb("report", cmd_report, "a named report ('station report list' names them)")
    p.add_argument("name")
    p.add_argument("--csv", action="store_true", help="CSV on stdout")
    p.add_argument("--within-days", type=int, default=30, help="contractor-expiries: horizon (default 30)")
    p.add_argument("--since", help="rollout-summary: from this time (RFC 3339 or date)")
    p.add_argument("--until", help="rollout-summary: before this time")
    p.add_argument("--on", type=_date, help="the day the report is for (default today, UTC)")

    inventory = sub.add_parser("inventory", help="the inventory tables").add_subparsers(
        dest="noun_verb", required=True
    )
    p = verb(
        "rebuild",
        cmd_inventory_rebuild,
        "rebuild the inventory from the ledger (--check: compare only)",
        inventory,
    )
    p.add_argument(
        "--check", action="store_true", help="compare a rebuild with the live tables; exit 3 if they differ"
    )
