"""How the CLI signs its operator (and a second operator) in: the kiosk's rules, for a shell and scripts.

Every verb that changes something needs a signed-in operator, and a fresh approval by a second
operator where four-eyes applies. In order of preference:

1. ``STATION_SESSION``: a session from ``station login`` (``eval "$(station login)"``), which asked
   for the operator id, PIN and a code once. It ends after the policy's idle time (10 minutes by
   default) or with ``station logout``; only its hash is kept at the station.
2. Interactive: on a terminal the CLI asks for the operator id (unless ``--operator`` or
   ``STATION_OPERATOR``), the PIN (hidden) and a code from the operator's token.
3. Automation: ``STATION_OPERATOR`` + ``STATION_OPERATOR_PIN`` + ``STATION_OPERATOR_OTP`` (a fresh
   code; each is accepted once). The PIN sits in the environment of one process, so this is for a
   harness that obtains the code from the operator's token at run time, not for stored scripts.

A second operator is never a passed-on session: they sign in for the one action, interactively or
with ``STATION_APPROVER`` (or the verb's option naming them), ``STATION_APPROVER_PIN`` and
``STATION_APPROVER_OTP``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from .core import Station
from .errors import InputError
from .operators.sessions import Session, resume
from .operators.signin import approve, sign_in

SESSION_ENV = "STATION_SESSION"
OPERATOR_ENV = "STATION_OPERATOR"
PIN_ENV = "STATION_OPERATOR_PIN"  # noqa: S105 - the variable's name, not a secret
OTP_ENV = "STATION_OPERATOR_OTP"
APPROVER_ENV = "STATION_APPROVER"
APPROVER_PIN_ENV = "STATION_APPROVER_PIN"  # noqa: S105 - the variable's name, not a secret
APPROVER_OTP_ENV = "STATION_APPROVER_OTP"


def _ask(prompt: str, *, secret: bool = False) -> str:
    # Prompts go to stderr so that `eval "$(station login)"` and --json stay clean on stdout.
    if secret:
        return getpass.getpass(prompt, stream=sys.stderr)
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().rstrip("\n")


def _value(env: str, prompt: str, missing: str, *, secret: bool = False, given: str | None = None) -> str:
    if given:
        return given
    value = os.environ.get(env)
    if value:
        return value
    if sys.stdin.isatty():
        return _ask(prompt, secret=secret)
    raise InputError(missing, f"Run it in a terminal to be asked, or see README 'Scripts' ({env}).")


def operator_credentials(args: argparse.Namespace) -> tuple[str, str, str]:
    who = _value(
        OPERATOR_ENV,
        "Operator id: ",
        "No operator id: nobody is signed in for this command.",
        given=getattr(args, "operator", None),
    )
    pin = _value(PIN_ENV, f"PIN for {who}: ", f"No PIN for {who}.", secret=True)
    code = _value(OTP_ENV, f"Code from {who}'s token: ", f"No code from {who}'s token.")
    return who, pin, code


def signed_in(args: argparse.Namespace, station: Station) -> Session:
    """The operator acting in this command: resumed session, or a sign-in now."""
    exported = os.environ.get(SESSION_ENV)
    if exported:
        with station.record() as tx:
            session = resume(tx.db, exported, station.now())
        named = getattr(args, "operator", None)
        if named and named != session.operator:
            raise InputError(
                f"STATION_SESSION is {session.operator}'s session, not {named}'s.",
                "Leave out --operator, or sign in as that operator.",
            )
        return session
    who, pin, code = operator_credentials(args)
    return sign_in(station, who, pin, code)


def second_operator(station: Station, who: str | None, what: str) -> Session:
    """A second operator signs in to approve `what` (one action)."""
    who = _value(
        APPROVER_ENV, f"Second operator approving {what}: ", f"{what} needs a second operator.", given=who
    )
    pin = _value(APPROVER_PIN_ENV, f"PIN for {who}: ", f"No PIN for the second operator {who}.", secret=True)
    code = _value(APPROVER_OTP_ENV, f"Code from {who}'s token: ", f"No code from {who}'s token.")
    return approve(station, who, pin, code)


def new_pin(env: str, who: str) -> str:
    """A new PIN, typed twice (or from `env` for scripts that enrol test stations)."""
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise InputError(
            f"No PIN for {who}: there is no terminal to type it on.",
            f"Run the command in a terminal, where {who} types the PIN (twice).",
        )
    first = _ask(f"New PIN for {who} (they type it): ", secret=True)
    if _ask("Repeat the PIN: ", secret=True) != first:
        raise InputError("The two PINs differ.", "Run the command again.")
    return first


def add_operator_option(p: argparse.ArgumentParser, help_: str = "your operator id") -> None:
    p.add_argument(
        "--operator",
        default=None,
        help=f"{help_} (default $STATION_OPERATOR; you sign in with your PIN and a code, or use"
        " $STATION_SESSION from 'station login')",
    )
