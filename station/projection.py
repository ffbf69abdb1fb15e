"""The inventory as a projection of ledger events into ordinary tables.

Every event type that changes state has a handler (here for code checks, in station/inventory for
everything else). The same handlers run when an event is appended (inside the append's transaction)
and when the tables are rebuilt from the ledger alone, which is how a test proves the live tables are
nothing but the ledger read forwards. When the table layout changes, VERSION changes and the tables
are rebuilt from the ledger when the station is next opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlite_utils

from ledger.entry import Entry

from .access import handlers as access_handlers
from .access.schema import INDEXES as ACCESS_INDEXES
from .access.schema import TABLES as ACCESS_TABLES
from .idp import handlers as idp_handlers
from .idp.schema import INDEXES as IDP_INDEXES
from .idp.schema import TABLES as IDP_TABLES
from .inventory import handlers_audits, handlers_people, handlers_tokens
from .inventory.handlers_tokens import credential_key
from .inventory.schema import INDEXES as INVENTORY_INDEXES
from .inventory.schema import TABLES as INVENTORY_TABLES
from .operators import handlers as operator_handlers
from .operators.schema import INDEXES as OPERATOR_INDEXES
from .operators.schema import TABLES as OPERATOR_TABLES

# 3: credentials.drift (where the token's clock stood at its last accepted code)
# 4: either IdP hand-off tables and seeds of YubiKey OTP slots (issue 8), or operators' credentials,
#    lockout and sessions' reviews, Yubico OTP counters, recovery and temporary codes (issue 6)
# 5: both of those; or, on another line of work, WITHOUT ROWID intents, tokens and history
# 6: all of it; a projection of any older version is rebuilt from the ledger
VERSION = 6
META = "projection_meta"

TABLES: dict[str, tuple[str, str]] = {
    "credentials": ("""CREATE TABLE credentials (
        id TEXT PRIMARY KEY NOT NULL, serial INTEGER, credential_id TEXT, owner TEXT, oath_type TEXT,
        algorithm TEXT, digits INTEGER, period INTEGER, seed_fingerprint TEXT, vault_record TEXT,
        status TEXT, issued_at TEXT, last_step INTEGER, drift INTEGER DEFAULT 0, public_id TEXT,
        usage_counter INTEGER NOT NULL DEFAULT -1, session_counter INTEGER NOT NULL DEFAULT -1)""", "id"),
    "device_intents": ("""CREATE TABLE device_intents (
        intent_id TEXT PRIMARY KEY NOT NULL, action TEXT, serial INTEGER, credential_id TEXT, status TEXT,
        started_at TEXT, started_seq INTEGER, prior_status TEXT) WITHOUT ROWID""", "intent_id"),
    **INVENTORY_TABLES,
    **IDP_TABLES,
    **OPERATOR_TABLES,
    **ACCESS_TABLES,
}
INDEXES = ("CREATE INDEX credentials_owner ON credentials(owner, status)",
           "CREATE INDEX credentials_serial ON credentials(serial, status)",
           "CREATE INDEX credentials_public_id ON credentials(public_id, status)",
           *INVENTORY_INDEXES, *IDP_INDEXES, *OPERATOR_INDEXES, *ACCESS_INDEXES)

__all__ = ["TABLES", "apply", "credential_key", "ensure_tables", "is_current", "rebuild", "snapshot"]


def _create(db: sqlite_utils.Database) -> None:
    for statement, _order in TABLES.values():
        db.execute(statement)
    for statement in INDEXES:
        db.execute(statement)
    db.execute(f"CREATE TABLE {META} (version INTEGER NOT NULL)")
    db.execute(f"INSERT INTO {META} (version) VALUES (?)", [VERSION])  # noqa: S608 - fixed name


def is_current(db: sqlite_utils.Database) -> bool:
    """Whether the projection tables exist in this version's layout."""
    if not db[META].exists():
        return False
    row = db.execute(f"SELECT version FROM {META}").fetchone()  # noqa: S608 - fixed name
    return row is not None and row[0] == VERSION


def _drop(db: sqlite_utils.Database) -> None:
    for name in [*TABLES, "tokens", META]:
        db.execute(f"DROP TABLE IF EXISTS [{name}]")


def ensure_tables(db: sqlite_utils.Database) -> bool:
    """Create the tables if missing or of an older layout; True if they must be filled from the ledger."""
    if is_current(db):
        return False
    _drop(db)
    _create(db)
    return True


def _on_otp_accepted(db: sqlite_utils.Database, entry: Entry) -> None:
    b = entry.body
    key = credential_key(b["serial"], b["credential_id"])
    kind = b.get("kind", "totp")
    if kind == "yubico-otp":
        db.execute("UPDATE credentials SET usage_counter = ?, session_counter = ? WHERE id = ?",
                   [b["usage_counter"], b["session_counter"], key])
    elif kind == "hotp":
        db.execute("UPDATE credentials SET last_step = ? WHERE id = ?", [b["counter"], key])
    else:
        # The drift is where the token's clock was at this code, where the next code is looked for.
        db.execute("UPDATE credentials SET last_step = ?, drift = ? WHERE id = ?",
                   [b["step"], b.get("drift", 0), key])


HANDLERS: dict[str, Callable[[sqlite_utils.Database, Entry], None]] = {
    "otp.accepted": _on_otp_accepted,
    "otp.resynced": _on_otp_accepted,
    **operator_handlers.HANDLERS,
    **access_handlers.HANDLERS,
    **handlers_people.HANDLERS,
    **handlers_tokens.HANDLERS,
    **handlers_audits.HANDLERS,
    **idp_handlers.HANDLERS,
}
# Run after the handler of the same event: what the event asks of the identity provider.
FOLLOWERS: dict[str, Callable[[sqlite_utils.Database, Entry], None]] = idp_handlers.FOLLOWERS


def apply(db: sqlite_utils.Database, entry: Entry) -> None:
    """Apply one ledger entry to the tables (events with no state effect are ignored)."""
    handler = HANDLERS.get(entry.type)
    if handler is not None:
        handler(db, entry)
    follower = FOLLOWERS.get(entry.type)
    if follower is not None:
        follower(db, entry)


def rebuild(db: sqlite_utils.Database, entries: Iterable[Entry]) -> None:
    """Drop and rebuild every projected table from the ledger alone, in one transaction."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")  # DDL included: a failed rebuild leaves the old tables
    try:
        _drop(db)
        _create(db)
        for entry in entries:
            apply(db, entry)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def snapshot(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Every projected row, sorted, for comparing live tables with a rebuild."""
    return {
        name: list(db.query(f"SELECT * FROM [{name}] ORDER BY {order}"))  # noqa: S608 - fixed names
        for name, (_statement, order) in TABLES.items()
    }
