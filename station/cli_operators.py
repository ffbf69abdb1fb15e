"""CLI verbs for operators and owners' codes: sign-in sessions, operators, break-glass reviews,
recovery codes and temporary access. How a command signs its operator in: cli_auth."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime

from .cli_inventory import Verb
from .cli_support import (
    add_operator,
    emit,
    open_for_reading,
    open_for_work,
    open_unlocked,
    operator,
    second,
    table,
)
from .errors import InputError


def _token(args: argparse.Namespace, station: object, operator_id: str) -> object:
    from .cli import _read_text
    from .operators.credentials import program_yubikey_token, token_from_otpauth

    if args.token_uri and args.token_serial:
        raise InputError("Give the operator's token once: --token-uri or --token-serial.", "Choose one.")
    if args.token_uri:
        return token_from_otpauth(_read_text(args.token_uri))
    if args.token_serial:
        return program_yubikey_token(station.bus, args.token_serial, operator_id, args.token_kind)
    return None


def _add_token_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--token-serial",
        metavar="SERIAL",
        help="the operator's YubiKey, inserted: the station programs their sign-in token onto it",
    )
    p.add_argument(
        "--token-kind",
        choices=("yubico-otp", "totp"),
        default="yubico-otp",
        help="Yubico OTP in slot 1 (default) or an OATH-TOTP credential",
    )
    p.add_argument(
        "--token-uri", metavar="FILE", help="or: a file with the otpauth:// URI of their TOTP/HOTP token"
    )


def _credentials(args: argparse.Namespace, station: object, operator_id: str) -> bool:
    from .cli_auth import new_pin
    from .operators.credentials import set_credentials
    from .operators.pins import check_pin

    token = _token(args, station, operator_id)
    if token is None:
        return False
    pin = check_pin(new_pin("STATION_NEW_PIN", operator_id), operator_id)
    set_credentials(station, operator_id, pin=pin, token=token, operator=operator(args))
    return True


def cmd_operator_add(args: argparse.Namespace) -> int:
    from .inventory.admin import enrol_operator

    station = open_for_work(args)
    op = enrol_operator(station, args.id, args.role, operator=operator(args), name=args.name)
    has = _credentials(args, station, op.id)
    data = {
        "id": op.id,
        "name": op.name,
        "roles": sorted(r.value for r in op.roles),
        "status": op.status,
        "credentials": has,
    }
    more = (
        "" if has else f" No PIN and token yet: station operator credentials {op.id} --token-serial SERIAL."
    )
    emit(args, data, f"Operator {op.id} enrolled as {', '.join(data['roles'])}.{more}")
    return 0


def cmd_operator_credentials(args: argparse.Namespace) -> int:
    station = open_for_work(args)
    if not _credentials(args, station, args.id):
        raise InputError(
            "No token given.", "Give --token-serial SERIAL (the key inserted) or --token-uri FILE."
        )
    emit(
        args,
        {"id": args.id, "credentials": True},
        f"{args.id} has a new PIN and token; their open sessions ended.",
    )
    return 0


def cmd_operator_list(args: argparse.Namespace) -> int:
    station = open_for_reading(args)
    rows = list(
        station.ledger.db.query(
            "SELECT o.id, o.name, o.roles, o.status, o.break_glass, o.failures, o.locked_until,"
            " t.kind AS token,"
            " t.serial AS token_serial, o.last_sign_in FROM operators o LEFT JOIN operator_tokens t"
            " ON t.operator = o.id ORDER BY o.id"
        )
    )
    emit(args, rows, table(rows))
    return 0


def cmd_operator_deactivate(args: argparse.Namespace) -> int:
    from .inventory.admin import deactivate_operator

    deactivate_operator(open_for_work(args), args.id, operator=operator(args), reason=args.reason)
    emit(args, {"id": args.id, "status": "deactivated"}, f"Operator {args.id} deactivated.")
    return 0


def cmd_operator_lock(args: argparse.Namespace) -> int:
    from .operators.lockout import lock_operator

    seq = lock_operator(open_for_work(args), args.id, operator=operator(args), reason=args.reason)
    emit(
        args,
        {"id": args.id, "status": "locked", "ledger_seq": seq},
        f"Operator {args.id} locked; their sessions ended (ledger entry {seq}).",
    )
    return 0


def cmd_operator_unlock(args: argparse.Namespace) -> int:
    from .operators.lockout import unlock_operator

    station = open_for_work(args)
    approver = second(args, station, args.approver, f"unlocking operator {args.id}")
    seq = unlock_operator(station, args.id, operator=operator(args), approver=approver, reason=args.reason)
    emit(
        args,
        {"id": args.id, "status": "active", "ledger_seq": seq, "approved_by": approver.operator},
        f"Operator {args.id} unlocked, approved by {approver.operator} (ledger entry {seq}).",
    )
    return 0


def cmd_operator_break_glass(args: argparse.Namespace) -> int:
    from .operators.breakglass import reissue_envelope

    station = open_for_work(args)
    approver = second(args, station, args.approver, "a new break-glass envelope")
    envelope = reissue_envelope(station, operator=operator(args), approver=approver, reason=args.reason)
    emit(
        args,
        {"operator": envelope.operator, "pin": envelope.pin, "codes": list(envelope.codes)},
        "The old envelope no longer works. Print this once, cut it in two, seal each part:\n"
        + envelope.text(),
    )
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    from .cli_auth import SESSION_ENV, operator_credentials
    from .operators.signin import sign_in

    station = open_unlocked(args)
    who, pin, code = operator_credentials(args)
    session = sign_in(station, who, pin, code)
    idle = station.config.policy.idle_minutes
    emit(
        args,
        {"session": session.export(), "operator": session.operator, "idle_minutes": idle},
        f"export {SESSION_ENV}={session.export()}\n"
        f"# {session.operator} signed in; the session ends after {idle} minutes without a command, or with"
        " 'station logout'.",
    )
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    import os

    from .cli_auth import SESSION_ENV
    from .operators.sessions import resume
    from .operators.signin import sign_out

    exported = os.environ.get(SESSION_ENV)
    if not exported:
        raise InputError("No session to end: STATION_SESSION is not set.", "Nothing to do.")
    station = open_unlocked(args)
    with station.record() as tx:
        session = resume(tx.db, exported, station.now())
    sign_out(station, session)
    emit(
        args,
        {"operator": session.operator, "signed_out": True},
        f"{session.operator} signed out.\nunset {SESSION_ENV}",
    )
    return 0


def cmd_review_list(args: argparse.Namespace) -> int:
    from .operators.breakglass import open_reviews

    rows = open_reviews(open_for_reading(args), everything=args.all)
    text = (
        "\n".join(
            f"{r['id']}  {r['status']:<6} {r['operator']} signed in {r['opened_at']}"
            f"{' until ' + r['ended_at'] if r['ended_at'] else ''}: "
            + (", ".join(f"#{a['seq']} {a['type']}" for a in r["actions"]) or "no actions")
            for r in rows
        )
        or "No break-glass use awaits review."
    )
    emit(args, rows, text)
    return 0


def cmd_review_close(args: argparse.Namespace) -> int:
    from .operators.breakglass import close_review

    seq = close_review(open_for_work(args), args.id, operator=operator(args), note=args.note)
    emit(args, {"review": args.id, "closed": True, "ledger_seq": seq}, f"Review {args.id} closed.")
    return 0


def cmd_recovery_issue(args: argparse.Namespace) -> int:
    from .access.recovery import issue_recovery_codes

    issued = issue_recovery_codes(
        open_for_work(args), args.owner, operator=operator(args), reason=args.reason
    )
    data = {**asdict(issued), "codes": list(issued.codes)}
    emit(
        args,
        data,
        f"Recovery codes for {issued.owner} (set {issued.set_id}; the previous set no longer works)."
        " Print them once for a sealed envelope; they are not shown again:\n"
        + "\n".join(f"  {c}" for c in issued.codes)
        + f"\nRotate before {issued.rotation_due}.",
    )
    return 0


def cmd_recovery_list(args: argparse.Namespace) -> int:
    from .access.recovery import list_sets, rotation_due

    station = open_for_reading(args)
    rows = rotation_due(station) if args.due else list_sets(station, args.owner)
    emit(args, rows, table(rows))
    return 0


def _until(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InputError(f"{text!r} is not a time with its zone.", "Give it as 2026-12-03T22:00:00Z.")
    return at


def cmd_temporary_grant(args: argparse.Namespace) -> int:
    from .access.temporary import grant_temporary_access

    until = _until(args.until)
    station = open_for_work(args)
    approver = second(args, station, args.approver, f"temporary access for {args.owner}")
    grant = grant_temporary_access(
        station,
        args.owner,
        operator=operator(args),
        approver=approver,
        reason=args.reason,
        expires_at=until,
        single_use=args.once,
    )
    use = "once" if grant.single_use else "until it expires"
    emit(
        args,
        asdict(grant),
        f"Temporary access code for {grant.owner}, usable {use}, expires {grant.expires_at}:"
        f"\n  {grant.code}\nHand it over now; it is not shown again. It stops when {grant.owner}'s new"
        " token is"
        " bound.",
    )
    return 0


def cmd_temporary_revoke(args: argparse.Namespace) -> int:
    from .access.temporary import revoke_temporary_access

    revoked = revoke_temporary_access(
        open_for_work(args), args.owner, operator=operator(args), reason=args.reason
    )
    emit(args, {"owner": args.owner, "revoked": revoked}, f"Revoked {len(revoked)} code(s) of {args.owner}.")
    return 0


def cmd_temporary_list(args: argparse.Namespace) -> int:
    from .access.temporary import list_grants

    rows = list_grants(open_for_reading(args), args.owner)
    emit(args, rows, table(rows))
    return 0


def register(sub: argparse._SubParsersAction, verb: Verb) -> None:
    def noun(name: str, help_: str) -> argparse._SubParsersAction:
        return sub.add_parser(name, help=help_).add_subparsers(dest="noun_verb", required=True)

    p = verb("login", cmd_login, "sign in once for a series of commands: prints STATION_SESSION to export")
    add_operator(p)
    verb("logout", cmd_logout, "end the session in STATION_SESSION")

    ops = noun("operator", "the station's operators: roles, PIN and token, locks")
    p = verb(
        "add",
        cmd_operator_add,
        "enrol an operator (with their PIN and token), or change their roles (admin)",
        ops,
    )
    p.add_argument("id")
    p.add_argument("--role", required=True, help="custodian, supervisor, auditor, admin (comma-separated)")
    p.add_argument("--name")
    _add_token_options(p)
    add_operator(p)
    p = verb(
        "credentials", cmd_operator_credentials, "give an operator a new PIN and token (another admin)", ops
    )
    p.add_argument("id")
    _add_token_options(p)
    add_operator(p)
    verb("list", cmd_operator_list, "list operators, their token and lock state", ops)
    p = verb(
        "lock", cmd_operator_lock, "lock an operator out now; their sessions end (admin or supervisor)", ops
    )
    p.add_argument("id")
    p.add_argument("--reason", required=True)
    add_operator(p)
    p = verb(
        "unlock", cmd_operator_unlock, "unlock an operator (admin, with a second operator approving)", ops
    )
    p.add_argument("id")
    p.add_argument("--reason", required=True)
    p.add_argument("--approver", help="the second operator (they sign in; default $STATION_APPROVER)")
    add_operator(p)
    p = verb("deactivate", cmd_operator_deactivate, "take an operator's right to act away (admin)", ops)
    p.add_argument("id")
    p.add_argument("--reason", required=True)
    add_operator(p)
    p = verb(
        "break-glass",
        cmd_operator_break_glass,
        "print a new break-glass envelope; the old one stops working (admin, with a second operator)",
        ops,
    )
    p.add_argument("--reason", required=True)
    p.add_argument("--approver", help="the second operator (they sign in; default $STATION_APPROVER)")
    add_operator(p)

    review = noun("review", "break-glass uses awaiting an auditor")
    p = verb("list", cmd_review_list, "break-glass sessions and what was done in them", review)
    p.add_argument("--all", action="store_true", help="closed ones too")
    p = verb("close", cmd_review_close, "an auditor closes a review with a note", review)
    p.add_argument("id")
    p.add_argument("--note", required=True)
    add_operator(p)

    recovery = noun("recovery", "owners' recovery codes")
    p = verb(
        "issue",
        cmd_recovery_issue,
        "a new set of recovery codes for an owner, shown once (rotates the old set)",
        recovery,
    )
    p.add_argument("--owner", required=True)
    p.add_argument("--reason")
    add_operator(p)
    p = verb("list", cmd_recovery_list, "recovery code sets (no codes)", recovery)
    p.add_argument("--owner")
    p.add_argument("--due", action="store_true", help="only sets older than the policy's age")

    temporary = noun("temporary", "temporary access codes")
    p = verb(
        "grant",
        cmd_temporary_grant,
        "a temporary access code for an owner, shown once (supervisor, with a second operator)",
        temporary,
    )
    p.add_argument("--owner", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--until", help="expiry, e.g. 2026-12-03T22:00:00Z (default: end of shift)")
    p.add_argument("--once", action="store_true", help="usable once (default: until it expires)")
    p.add_argument("--approver", help="the second operator (they sign in; default $STATION_APPROVER)")
    add_operator(p)
    p = verb("revoke", cmd_temporary_revoke, "revoke an owner's temporary access codes", temporary)
    p.add_argument("--owner", required=True)
    p.add_argument("--reason", required=True)
    add_operator(p)
    p = verb("list", cmd_temporary_list, "temporary access grants (no codes)", temporary)
    p.add_argument("--owner")
