"""Projection handlers for recovery codes and temporary access (issue, use, rotation, revocation)."""

from __future__ import annotations

import sqlite_utils

from ledger.entry import Entry


def on_recovery_issued(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "INSERT INTO recovery_sets (set_id, owner, vault_record, issued_at, issued_by, count, status,"
        " rotation_due)"
        " VALUES (?, ?, ?, ?, ?, ?, 'active', ?)",
        [b["set"], b["owner"], b["vault_record"], e.at, e.actor, b["count"], b["rotation_due"]],
    )


def on_recovery_used(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE recovery_sets SET used_codes = ? WHERE set_id = ?", [e.body["used_codes"], e.body["set"]]
    )


def on_recovery_revoked(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE recovery_sets SET status = 'revoked', revoked_at = ?, revoke_reason = ? WHERE set_id = ?",
        [e.at, e.body["reason"], e.body["set"]],
    )


def on_temporary_granted(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    db.execute(
        "INSERT INTO temporary_grants (grant_id, owner, vault_record, granted_by, approved_by, granted_at,"
        " expires_at, single_use, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            b["grant"],
            b["owner"],
            b["vault_record"],
            e.actor,
            b.get("second_operator"),
            e.at,
            b["expires_at"],
            int(b["single_use"]),
            b.get("reason"),
        ],
    )


def on_temporary_used(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE temporary_grants SET uses = ?, first_used_at = COALESCE(first_used_at, ?) WHERE grant_id = ?",
        [e.body["uses"], e.at, e.body["grant"]],
    )


def on_temporary_revoked(db: sqlite_utils.Database, e: Entry) -> None:
    db.execute(
        "UPDATE temporary_grants SET revoked_at = ?, revoke_reason = ?"
        " WHERE grant_id = ? AND revoked_at IS NULL",
        [e.at, e.body["reason"], e.body["grant"]],
    )


HANDLERS = {
    "recovery.issued": on_recovery_issued,
    "recovery.used": on_recovery_used,
    "recovery.revoked": on_recovery_revoked,
    "temporary.granted": on_temporary_granted,
    "temporary.used": on_temporary_used,
    "temporary.revoked": on_temporary_revoked,
}
