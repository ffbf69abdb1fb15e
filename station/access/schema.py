"""Projected tables for recovery code sets and temporary access grants (rebuilt from the ledger)."""

from __future__ import annotations

TABLES: dict[str, tuple[str, str]] = {
    "recovery_sets": (
        """CREATE TABLE recovery_sets (
        set_id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, vault_record TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        issued_by TEXT, count INTEGER NOT NULL, used_codes TEXT NOT NULL DEFAULT '', status TEXT NOT NULL,
        rotation_due TEXT NOT NULL, revoked_at TEXT, revoke_reason TEXT)""",
        "set_id",
    ),
    "temporary_grants": (
        """CREATE TABLE temporary_grants (
        grant_id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, vault_record TEXT NOT NULL, granted_by TEXT,
        approved_by TEXT, granted_at TEXT NOT NULL, expires_at TEXT NOT NULL, single_use INTEGER NOT NULL,
        uses INTEGER NOT NULL DEFAULT 0, first_used_at TEXT, revoked_at TEXT, revoke_reason TEXT,
        reason TEXT)""",
        "grant_id",
    ),
}
INDEXES = (
    "CREATE INDEX recovery_owner ON recovery_sets(owner, status)",
    "CREATE INDEX temporary_owner ON temporary_grants(owner, revoked_at)",
)
