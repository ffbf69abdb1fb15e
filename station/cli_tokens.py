"""CLI verbs for tokens: intake, return, custody, loss and retirement, audits, reports, the inventory."""

from __future__ import annotations

import argparse
from dataclasses import asdict

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
    warn_spares,
)
from .errors import InputError


def _receipt(args: argparse.Namespace, report: object) -> int:
    data = {
        "received": list(report.received),
        "already_known": list(report.already_known),
        "rejected": [asdict(r) for r in report.rejected],
    }
    lines = [f"Received {len(report.received)} token(s) into stock: {' '.join(report.received) or '-'}."]
    if report.already_known:
        lines.append(f"Already in the inventory: {' '.join(report.already_known)}.")
    lines += [f"Not received: {r.entry} {r.serial or ''}: {r.reason}" for r in report.rejected]
    emit(args, data, "\n".join(lines))
    return 0


def cmd_receive(args: argparse.Namespace) -> int:
    from .inventory.intake import receive_inserted, receive_serials

    if args.seed_file:
        if args.inserted or args.serials or args.file:
            raise InputError(
                "Receive from a seed file alone.", "station receive --seed-file FILE [--format F]."
            )
        from .cli_idp import cmd_import

        args.file_ = args.seed_file
        return cmd_import(args)
    serials = list(serials_from(args))
    if args.inserted == bool(serials):
        raise InputError(
            "Receive either the keys inserted (--inserted) or a list of serials, not both.",
            "station receive --inserted, or station receive SERIAL... / --file LIST.",
        )
    station = open_for_work(args)
    common = {"operator": operator(args), "location": args.location, "site": args.site, "reason": args.reason}
    if args.inserted:
        return _receipt(args, receive_inserted(station, **common))
    return _receipt(
        args,
        receive_serials(station, serials, model=args.model, accept_partial=args.accept_partial, **common),
    )


def _move(
    args: argparse.Namespace, name: str, *, needs: tuple[str, str] | None = None, **kwargs: object
) -> int:
    """Run one lifecycle function of station.inventory.lifecycle and print the token as it is now.

    `needs`: (keyword, what) when a second operator signs in for it (named by --approver/--witness)."""
    from .inventory import lifecycle

    station = open_for_work(args)
    if needs is not None:
        keyword, what = needs
        kwargs[keyword] = second(args, station, kwargs[keyword], what)
    t = getattr(lifecycle, name)(station, args.serial, operator=operator(args), reason=args.reason, **kwargs)
    token = t.token
    place = f"{token.site}{'/' + token.location if token.location else ''}"
    emit(
        args,
        {"event": t.event, "ledger_seq": t.seq, "token": asdict(token)},
        f"Token {token.serial}: {token.status} ({place}); ledger entry {t.seq} ({t.event}).",
    )
    warn_spares(station)
    return 0


def cmd_return(args: argparse.Namespace) -> int:
    return _move(args, "return_token", location=args.location, site=args.site)


def cmd_report_lost(args: argparse.Namespace) -> int:
    return _move(args, "report_lost")


def cmd_report_damaged(args: argparse.Namespace) -> int:
    return _move(args, "report_damaged", location=args.location, site=args.site)


def cmd_block(args: argparse.Namespace) -> int:
    return _move(args, "unblock" if args.unblock else "block")


def cmd_found(args: argparse.Namespace) -> int:
    return _move(args, "found", location=args.location, site=args.site)


def cmd_retire(args: argparse.Namespace) -> int:
    if args.witness:
        return _move(
            args,
            "retire",
            how=args.how,
            witness=args.witness,
            needs=("witness", f"retiring token {args.serial}"),
        )
    return _move(args, "retire", how=args.how)


def cmd_reset(args: argparse.Namespace) -> int:
    return _move(
        args, "reset_token", approver=args.approver, needs=("approver", f"resetting token {args.serial}")
    )


def cmd_transfer(args: argparse.Namespace) -> int:
    from .inventory.custody import transfer

    station = open_for_work(args)
    taker = None
    if args.to and args.to != args.session.operator:
        # The custodian taking the tokens over signs in to accept them.
        taker = second(args, station, args.to, "taking custody of the tokens")
    result = transfer(
        station,
        serials_from(args),
        operator=operator(args),
        to_custodian=taker,
        location=args.location,
        site=args.site,
        reason=args.reason,
    )
    place = f"{result.site}{'/' + result.location if result.location else ''}"
    emit(
        args,
        asdict(result),
        f"Moved {len(result.serials)} token(s) to {result.to_custodian} at {place};"
        f" ledger entry {result.seq}.",
    )
    warn_spares(station)
    return 0


def cmd_token_show(args: argparse.Namespace) -> int:
    from .inventory.common import clean_serial, get_token

    station = open_for_reading(args)
    serial = clean_serial(args.serial)
    token = get_token(station.ledger.db, serial)
    history = list(
        station.ledger.db.query(
            "SELECT seq, at, type, actor, second_operator, owner, reason FROM token_history WHERE serial = ?"
            " ORDER BY seq",
            [serial],
        )
    )
    emit(
        args,
        {"token": token, "history": history},
        "\n".join(f"{k}: {v}" for k, v in token.items() if v is not None) + "\n\n" + table(history),
    )
    return 0


def register(sub: argparse._SubParsersAction, verb: Verb) -> None:
    def serial_verb(
        name: str, fn: object, help_: str, reason: bool = True, place: bool = False
    ) -> argparse.ArgumentParser:
        p = verb(name, fn, help_)
        p.add_argument("--serial", required=True)
        p.add_argument("--reason", required=reason, help="why, in a few words")
        if place:
            p.add_argument("--location", help="where the token goes now")
            p.add_argument("--site")
        add_operator(p)
        return p

    p = verb("receive", cmd_receive, "receive tokens into stock: the keys inserted, a list of serials, or a"
             " seed file")
    p.add_argument("serials", nargs="*", metavar="SERIAL")
    p.add_argument(
        "--inserted", action="store_true", help="the YubiKeys inserted now (serial and model read)"
    )
    p.add_argument("--file", help="a list of serials, one per line (- for stdin)")
    p.add_argument("--seed-file", help="a vendor seed file, Yubico log or export (see station import)")
    p.add_argument("--model", help="model of the listed keys, e.g. 'YubiKey 5 NFC'")
    p.add_argument("--location")
    p.add_argument("--site")
    p.add_argument("--reason")
    from .cli_idp import add_import_options

    add_import_options(p)
    add_operator(p)

    serial_verb("return", cmd_return, "an owner hands a token back", reason=False, place=True)
    serial_verb("report-lost", cmd_report_lost, "a token is missing: its codes stop at once")
    serial_verb("report-damaged", cmd_report_damaged, "a token is broken (and back at the desk)", place=True)
    serial_verb("block", cmd_block, "suspend a token's codes while something is unclear").set_defaults(
        unblock=False
    )
    serial_verb("unblock", cmd_block, "lift a block (supervisor)").set_defaults(unblock=True)
    serial_verb("found", cmd_found, "a lost token turned up (it comes back to the desk)", place=True)
    p = serial_verb("retire", cmd_retire, "destroy, send back or write off a token (supervisor)")
    p.add_argument("--how", required=True, choices=("destroyed", "sent_back", "written_off"))
    p.add_argument("--witness", help="a second operator who saw it done (they sign in)")
    p = serial_verb(
        "reset",
        cmd_reset,
        "reset an owner's token: its codes stop, it comes back to be programmed again (four-eyes)",
    )
    p.add_argument(
        "--approver", help="the supervisor or admin approving it (they sign in; default $STATION_APPROVER)"
    )

    p = verb("transfer", cmd_transfer, "move tokens to another custodian and/or place (both sides recorded)")
    p.add_argument("serials", nargs="*", metavar="SERIAL")
    p.add_argument("--file", help="serials, one per line")
    p.add_argument("--to", help="the custodian taking them over (they sign in to accept; default: you)")
    p.add_argument("--location")
    p.add_argument("--site")
    p.add_argument("--reason")
    add_operator(p, "the custodian handing them over")

    token = sub.add_parser("token", help="one token").add_subparsers(dest="noun_verb", required=True)
    p = verb("show", cmd_token_show, "a token's state and its whole history", token)
    p.add_argument("serial")
