"""The hand-off tables: a projection of the ledger like the inventory, rebuilt from it at will.

`idp_tokens` says, per token, what the identity provider still has to be told (`need`: register or
deactivate, since ledger entry `need_seq`), which pending export carries it (`covered_by`), and what
the IdP has confirmed (`idp_state`: registered or deactivated, by which export, when). A token is
active only when it is issued, the IdP confirmed its registration and nothing newer is outstanding.
"""

from __future__ import annotations

TABLES: dict[str, tuple[str, str]] = {
    "idp_exports": (
        """CREATE TABLE idp_exports (
        id TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
        format TEXT NOT NULL, idp TEXT NOT NULL, purpose TEXT NOT NULL, path TEXT NOT NULL,
        sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, protection TEXT NOT NULL, tokens INTEGER NOT NULL,
        status TEXT NOT NULL, settled_at TEXT, settled_by TEXT, note TEXT)""",
        "id",
    ),
    "idp_export_items": (
        """CREATE TABLE idp_export_items (
        export_id TEXT NOT NULL, serial TEXT NOT NULL, action TEXT NOT NULL,
        PRIMARY KEY (export_id, serial, action))""",
        "export_id, serial, action",
    ),
    "idp_tokens": (
        """CREATE TABLE idp_tokens (
        serial TEXT PRIMARY KEY NOT NULL, batch TEXT, need TEXT, need_seq INTEGER, prior_need TEXT,
        covered_by TEXT, idp_state TEXT NOT NULL DEFAULT 'unknown', state_export TEXT, state_at TEXT)""",
        "serial",
    ),
}

INDEXES = (
    "CREATE INDEX idp_exports_status ON idp_exports(status, at)",
    "CREATE INDEX idp_export_items_serial ON idp_export_items(serial)",
    "CREATE INDEX idp_tokens_need ON idp_tokens(need, covered_by)",
    "CREATE INDEX idp_tokens_batch ON idp_tokens(batch)",
)

# An issued token the IdP knows and nothing outstanding: what reports call active.
ACTIVE_SQL = (
    "EXISTS (SELECT 1 FROM idp_tokens i WHERE i.serial = {t}.serial AND i.idp_state = 'registered'"
    " AND i.need IS NULL)"
)


def active(alias: str = "t") -> str:
    """SQL true for a row of `tokens AS alias` that is active at the IdP (see module docstring)."""
    return f"({alias}.status = 'issued' AND {ACTIVE_SQL.format(t=alias)})"
