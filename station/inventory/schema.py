"""The inventory's tables: a projection of the ledger, rebuilt from it at will.

Nothing here is a source of truth. `handlers.py` fills these tables from ledger events, in the
append's transaction and on rebuild alike. Each table lists its primary key for snapshots.
"""

from __future__ import annotations

# name -> (CREATE TABLE statement, ORDER BY for a stable snapshot). The tables written on every token
# event are WITHOUT ROWID: one b-tree keyed by the primary key instead of a rowid table and an index on
# the key, so each event's commit writes one page fewer per table (tests/bench/bench_ledger_append.py).
TABLES: dict[str, tuple[str, str]] = {
    "tokens": (
        """CREATE TABLE tokens (
        serial TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, model TEXT, firmware TEXT,
        status TEXT NOT NULL, prior_status TEXT, owner TEXT, last_owner TEXT, custodian TEXT,
        site TEXT, location TEXT, access_end TEXT, profile TEXT, received_at TEXT, issued_at TEXT,
        status_since TEXT, updated_at TEXT, last_seq INTEGER) WITHOUT ROWID""",
        "serial",
    ),
    "seeds": (
        """CREATE TABLE seeds (
        serial TEXT PRIMARY KEY NOT NULL, oath_type TEXT NOT NULL, algorithm TEXT NOT NULL,
        digits INTEGER NOT NULL, period INTEGER, counter INTEGER, vendor TEXT,
        seed_fingerprint TEXT NOT NULL, vault_record TEXT NOT NULL, public_id TEXT, slot INTEGER,
        batch TEXT)""",
        "serial",
    ),
    "sites": (
        """CREATE TABLE sites (
        id TEXT PRIMARY KEY NOT NULL, name TEXT, region TEXT, audit_every_days INTEGER,
        added_at TEXT, audited_at TEXT)""",
        "id",
    ),
    "locations": (
        """CREATE TABLE locations (
        id TEXT PRIMARY KEY NOT NULL, site TEXT NOT NULL, kind TEXT, name TEXT,
        audit_every_days INTEGER, added_at TEXT, audited_at TEXT)""",
        "id",
    ),
    "operators": (
        """CREATE TABLE operators (
        id TEXT PRIMARY KEY NOT NULL, name TEXT, roles TEXT NOT NULL, status TEXT NOT NULL,
        enrolled_by TEXT, enrolled_at TEXT, updated_at TEXT, break_glass INTEGER NOT NULL DEFAULT 0,
        credentials_at TEXT, signer_key TEXT, failures INTEGER NOT NULL DEFAULT 0, locked_until TEXT,
        lock_reason TEXT, last_sign_in TEXT)""",
        "id",
    ),
    "employees": (
        """CREATE TABLE employees (
        id TEXT PRIMARY KEY NOT NULL, name TEXT, department TEXT, site TEXT, grp TEXT,
        contractor INTEGER NOT NULL DEFAULT 0, access_end TEXT, status TEXT NOT NULL, updated_at TEXT)""",
        "id",
    ),
    "directory_imports": (
        """CREATE TABLE directory_imports (
        seq INTEGER PRIMARY KEY, at TEXT, actor TEXT, source TEXT, sha256 TEXT,
        added INTEGER, changed INTEGER, removed INTEGER)""",
        "seq",
    ),
    "spare_levels": (
        """CREATE TABLE spare_levels (
        site TEXT NOT NULL, location TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT '',
        minimum INTEGER NOT NULL, set_by TEXT, set_at TEXT, PRIMARY KEY (site, location, kind))""",
        "site, location, kind",
    ),
    "audits": (
        """CREATE TABLE audits (
        id TEXT PRIMARY KEY NOT NULL, site TEXT NOT NULL, location TEXT, status TEXT NOT NULL,
        started_by TEXT, started_at TEXT, closed_by TEXT, second_operator TEXT, closed_at TEXT,
        found INTEGER, missing INTEGER, unexpected INTEGER, wrong_place INTEGER)""",
        "id",
    ),
    "audit_counts": (
        """CREATE TABLE audit_counts (
        audit_id TEXT NOT NULL, serial TEXT NOT NULL, location TEXT, counted_by TEXT, counted_at TEXT,
        PRIMARY KEY (audit_id, serial))""",
        "audit_id, serial",
    ),
    "audit_results": (
        """CREATE TABLE audit_results (
        audit_id TEXT NOT NULL, serial TEXT NOT NULL, outcome TEXT NOT NULL, expected TEXT, counted TEXT,
        note TEXT, PRIMARY KEY (audit_id, serial))""",
        "audit_id, serial",
    ),
    "incidents": (
        """CREATE TABLE incidents (
        seq INTEGER PRIMARY KEY, serial TEXT NOT NULL, owner TEXT, kind TEXT NOT NULL, reported_at TEXT,
        site TEXT, replaced_at TEXT, replacement_serial TEXT)""",
        "seq",
    ),
    "support_requests": (
        """CREATE TABLE support_requests (
        seq INTEGER PRIMARY KEY, owner TEXT, kind TEXT NOT NULL, at TEXT)""",
        "seq",
    ),
    "token_history": (
        """CREATE TABLE token_history (
        seq INTEGER NOT NULL, serial TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL,
        actor TEXT NOT NULL, second_operator TEXT, owner TEXT, reason TEXT,
        PRIMARY KEY (serial, seq)) WITHOUT ROWID""",
        "serial, seq",
    ),
}

INDEXES = (
    "CREATE INDEX tokens_status ON tokens(status, site, location)",
    "CREATE INDEX tokens_owner ON tokens(owner)",
    "CREATE INDEX tokens_custodian ON tokens(custodian)",
    "CREATE INDEX tokens_place ON tokens(site, location)",
    "CREATE INDEX employees_dept ON employees(status, department)",
    "CREATE INDEX employees_site ON employees(status, site)",
    "CREATE INDEX incidents_owner ON incidents(owner, replaced_at)",
    "CREATE INDEX incidents_kind ON incidents(kind, reported_at)",
    "CREATE INDEX locations_site ON locations(site)",
    "CREATE INDEX audits_place ON audits(site, location, status)",
)
