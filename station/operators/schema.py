"""Projected tables for operators' own tokens and the break-glass reviews (rebuilt from the ledger)."""

from __future__ import annotations

TABLES: dict[str, tuple[str, str]] = {
    "operator_tokens": (
        """CREATE TABLE operator_tokens (
        operator TEXT PRIMARY KEY NOT NULL, token_id TEXT NOT NULL, kind TEXT NOT NULL, algorithm TEXT,
        digits INTEGER, period INTEGER, serial TEXT, public_id TEXT, vault_record TEXT NOT NULL,
        pin_record TEXT NOT NULL, last_step INTEGER NOT NULL DEFAULT -1, drift INTEGER NOT NULL DEFAULT 0,
        usage_counter INTEGER NOT NULL DEFAULT -1, session_counter INTEGER NOT NULL DEFAULT -1,
        used_codes TEXT NOT NULL DEFAULT '', enrolled_at TEXT)""",
        "operator",
    ),
    "reviews": (
        """CREATE TABLE reviews (
        id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, operator TEXT NOT NULL, opened_at TEXT NOT NULL,
        opened_seq INTEGER NOT NULL, ended_at TEXT, ended_seq INTEGER, status TEXT NOT NULL, closed_by TEXT,
        closed_at TEXT, note TEXT)""",
        "id",
    ),
}
INDEXES = ("CREATE INDEX reviews_status ON reviews(status, opened_at)",)
