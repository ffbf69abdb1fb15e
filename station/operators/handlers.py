"""Projection handlers for operator credentials, sign-ins, lockouts and break-glass reviews.

The sign-in functions decide (lockout delays, token state); the events carry the outcome, so these
handlers only copy it and a rebuild from the ledger gives the same tables.
"""

from __future__ import annotations

import sqlite_utils

from ledger.entry import Entry

STATE_COLUMNS = ("last_step", "drift", "usage_counter", "session_counter", "used_codes")


def on_credentials_set(db: sqlite_utils.Database, e: Entry) -> None:
    b, t = e.body, e.body["token"]
    db.execute(
        "UPDATE operators SET credentials_at = ?, signer_key = ?, failures = 0, locked_until = NULL,"
        " updated_at = ? WHERE id = ?",
        [e.at, b.get("signer"), e.at, b["operator"]],
    )
    db.execute(
        "INSERT OR REPLACE INTO operator_tokens (operator, token_id, kind, algorithm, digits, period, serial,"
        " public_id, vault_record, pin_record, last_step, enrolled_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            b["operator"],
            t["id"],
            t["kind"],
            t.get("algorithm"),
            t.get("digits"),
            t.get("period"),
            t.get("serial"),
            t.get("public_id"),
            t["vault_record"],
            b["pin_record"],
            t.get("last_step", -1),
            e.at,
        ],
    )


def on_signed_in(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    state = {k: v for k, v in (b.get("token_state") or {}).items() if k in STATE_COLUMNS}
    if state:
        sets = ", ".join(f"{k} = ?" for k in state)
        db.execute(
            f"UPDATE operator_tokens SET {sets} WHERE operator = ?",  # noqa: S608 - fixed names
            [*state.values(), b["operator"]],
        )
    db.execute(
        "UPDATE operators SET failures = 0, locked_until = NULL, last_sign_in = ? WHERE id = ?",
        [e.at, b["operator"]],
    )
    if b.get("break_glass"):
        db.execute(
            "INSERT OR REPLACE INTO reviews (id, kind, operator, opened_at, opened_seq, status)"
            " VALUES (?, 'break-glass', ?, ?, ?, 'open')",
            [b["session"], b["operator"], e.at, e.seq],
        )


def on_signed_out(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE reviews SET ended_at = ?, ended_seq = ? WHERE id = ? AND ended_at IS NULL",
        [e.at, e.seq, e.body["session"]],
    )


def on_sign_in_failed(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    if b.get("operator") is None or "failures" not in b:
        return
    db.execute(
        "UPDATE operators SET failures = ?, locked_until = ? WHERE id = ?",
        [b["failures"], b.get("locked_until"), b["operator"]],
    )


def on_locked(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE operators SET status = 'locked', lock_reason = ?, updated_at = ? WHERE id = ?",
        [e.body["reason"], e.at, e.body["operator"]],
    )


def on_unlocked(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE operators SET status = CASE status WHEN 'locked' THEN 'active' ELSE status END, failures = 0,"
        " locked_until = NULL, lock_reason = NULL, updated_at = ? WHERE id = ?",
        [e.at, e.body["operator"]],
    )


def on_review_closed(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE reviews SET status = 'closed', closed_by = ?, closed_at = ?, note = ? WHERE id = ?",
        [e.actor, e.at, e.body.get("note"), e.body["review"]],
    )


HANDLERS = {
    "operator.credentials_set": on_credentials_set,
    "operator.signed_in": on_signed_in,
    "operator.signed_out": on_signed_out,
    "operator.sign_in_failed": on_sign_in_failed,
    "operator.locked": on_locked,
    "operator.unlocked": on_unlocked,
    "review.closed": on_review_closed,
}
