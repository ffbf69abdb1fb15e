"""Who may receive a token: the owner checks shared by YubiKey and classic-token issue."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from ..errors import InputError
from ..operators.sessions import Session
from .common import NotFound, get_token, today
from .roles import NotPermitted, require
from .states import Action, TokenState, check


def directory_in_use(db: sqlite_utils.Database) -> bool:
    return db.execute("SELECT 1 FROM employees LIMIT 1").fetchone() is not None


def check_owner(db: sqlite_utils.Database, owner: str, at: datetime) -> str | None:
    """The owner's access end date (None if open-ended), or a refusal naming what is wrong.

    Until an employee directory is imported, any owner id is accepted (a station may run without
    one); once one is, owners must be in it, present, and within their access end date.
    """
    if not directory_in_use(db):
        return None
    row = db.execute("SELECT status, access_end FROM employees WHERE id = ?", [owner]).fetchone()
    if row is None:
        raise NotFound(
            f"{owner} is not in the employee directory.",
            "Check the id; a new employee appears after the next directory import.",
        )
    status, access_end = row
    if status != "active":
        raise NotPermitted(
            f"{owner} has left: they are no longer in the employee directory.",
            "Tokens are issued to current employees only.",
        )
    if access_end and access_end < today(at).isoformat():
        raise NotPermitted(
            f"{owner}'s access ended on {access_end}.",
            "Ask HR to extend the access end date in the directory, then import it again.",
        )
    return access_end


def replaces(db: sqlite_utils.Database, owner: str) -> dict | None:
    """The owner's lost or damaged token that a new issue would replace (an open incident), if any."""
    row = db.execute(
        "SELECT serial, kind FROM incidents WHERE owner = ? AND replaced_at IS NULL ORDER BY seq LIMIT 1",
        [owner],
    ).fetchone()
    return None if row is None else {"serial": row[0], "kind": row[1]}


def check_issue(
    db: sqlite_utils.Database,
    serial: str,
    owner: str,
    operator: Session,
    at: datetime,
    *,
    kind: str,
    approver: Session | None = None,
) -> tuple[dict | None, str | None]:
    """(token row or None if the key is new to the inventory, owner's access end) or a refusal.

    An issue that replaces the owner's lost or damaged token is four-eyes: without a second operator's
    approval it is refused here, before anything is written (the caller then uses the approval up
    with roles.require_second in its transaction).
    """
    custodian = require(db, operator, "issue", at).id
    if owner == custodian:
        raise InputError(
            "The custodian cannot issue a token to themselves.", "Ask another custodian to issue your token."
        )
    old = replaces(db, owner)
    if old is not None and approver is None:
        raise NotPermitted(
            f"This issue replaces {owner}'s {old['kind']} token {old['serial']}: a second operator must"
            " approve it.",
            "A supervisor or admin (not the owner) signs in to approve the replacement.",
        )
    access_end = check_owner(db, owner, at)
    try:
        token = get_token(db, serial)
    except NotFound:
        if kind == "yubikey":
            return None, access_end  # a YubiKey straight from its box is received as it is issued
        raise
    if token["kind"] != kind:
        other = "a YubiKey" if token["kind"] == "yubikey" else "a classic OATH token"
        raise InputError(
            f"Token {serial} is {other}.",
            "YubiKeys are issued with the key inserted; classic tokens with --code.",
        )
    if token["status"] == TokenState.ISSUED and token["owner"] == owner and kind == "yubikey":
        return token, access_end  # another credential for the same holder
    if token["status"] == TokenState.ISSUED:
        raise InputError(
            f"Key {serial} is already issued to {token['owner']}.",
            "Take another key from stock for this owner; this one stays with its holder.",
        )
    check(Action.ISSUE, token)
    return token, access_end
