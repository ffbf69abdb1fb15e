"""The inventory as a projection of ledger events into ordinary tables.

Every event type that changes state has an `_on_<type>` handler here. The same handlers run when an
event is appended (inside the append's transaction) and when the tables are rebuilt from the ledger
alone, which is how a test proves the live tables are nothing but the ledger read forwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlite_utils

from ledger.entry import Entry

TABLES = {
    "tokens": (
        {
            "serial": int,
            "kind": str,
            "model": str,
            "firmware": str,
            "status": str,
            "owner": str,
            "custodian": str,
            "updated_at": str,
            "last_seq": int,
        },
        "serial",
    ),
    "credentials": (
        {
            "id": str,
            "serial": int,
            "credential_id": str,
            "owner": str,
            "oath_type": str,
            "algorithm": str,
            "digits": int,
            "period": int,
            "seed_fingerprint": str,
            "vault_record": str,
            "status": str,
            "issued_at": str,
            "last_step": int,
            "drift": int,
        },
        "id",
    ),
    "device_intents": (
        {
            "intent_id": str,
            "action": str,
            "serial": int,
            "credential_id": str,
            "status": str,
            "started_at": str,
            "started_seq": int,
        },
        "intent_id",
    ),
}


def ensure_tables(db: sqlite_utils.Database) -> bool:
    """Create missing tables; True when a table lacks a column of this layout (rebuild it from the ledger)."""
    stale = False
    for name, (columns, pk) in TABLES.items():
        if not db[name].exists():
            db[name].create(columns, pk=pk, not_null={pk})
        elif set(columns) - set(db[name].columns_dict):
            stale = True
    db.execute("CREATE INDEX IF NOT EXISTS credentials_owner ON credentials(owner, status)")
    return stale


def credential_key(serial: int, credential_id: str) -> str:
    return f"{serial}/{credential_id}"


def _on_token_issue_started(db: sqlite_utils.Database, entry: Entry) -> None:
    b = entry.body
    db["device_intents"].insert(
        {
            "intent_id": b["intent_id"],
            "action": "issue",
            "serial": b["serial"],
            "credential_id": b["credential_id"],
            "status": "open",
            "started_at": entry.at,
            "started_seq": entry.seq,
        },
        replace=True,
    )


def _close_intent(db: sqlite_utils.Database, intent_id: str, status: str) -> None:
    if db["device_intents"].count_where("intent_id = ?", [intent_id]):
        db["device_intents"].update(intent_id, {"status": status})


def _on_token_issued(db: sqlite_utils.Database, entry: Entry) -> None:
    b = entry.body
    _close_intent(db, b["intent_id"], "done")
    db["tokens"].upsert(
        {
            "serial": b["serial"],
            "kind": "yubikey",
            "model": b["model"],
            "firmware": b["firmware"],
            "status": "issued",
            "owner": b["owner"],
            "custodian": b["custodian"],
            "updated_at": entry.at,
            "last_seq": entry.seq,
        },
        pk="serial",
    )
    db["credentials"].insert(
        {
            "id": credential_key(b["serial"], b["credential_id"]),
            "serial": b["serial"],
            "credential_id": b["credential_id"],
            "owner": b["owner"],
            "oath_type": "TOTP",
            "algorithm": b["algorithm"],
            "digits": b["digits"],
            "period": b["period"],
            "seed_fingerprint": b["seed_fingerprint"],
            "vault_record": b["vault_record"],
            "status": "active",
            "issued_at": entry.at,
            "last_step": -1,
            "drift": 0,
        },
        replace=True,
    )


def _on_token_issue_failed(db: sqlite_utils.Database, entry: Entry) -> None:
    _close_intent(db, entry.body["intent_id"], "failed")


def _on_otp_accepted(db: sqlite_utils.Database, entry: Entry) -> None:
    b = entry.body
    # The drift is where the token's clock was at this code, where the next code is looked for.
    db["credentials"].update(credential_key(b["serial"], b["credential_id"]),
                             {"last_step": b["step"], "drift": b.get("drift", 0)})


HANDLERS: dict[str, Callable[[sqlite_utils.Database, Entry], None]] = {
    "token.issue.started": _on_token_issue_started,
    "token.issued": _on_token_issued,
    "token.issue.failed": _on_token_issue_failed,
    "otp.accepted": _on_otp_accepted,
}


def apply(db: sqlite_utils.Database, entry: Entry) -> None:
    """Apply one ledger entry to the tables (events with no state effect are ignored)."""
    handler = HANDLERS.get(entry.type)
    if handler is not None:
        handler(db, entry)


def rebuild(db: sqlite_utils.Database, entries: Iterable[Entry]) -> None:
    """Drop and rebuild every projected table from the ledger alone, in one transaction."""
    with db.conn:
        for name in TABLES:
            db[name].drop(ignore=True)
        ensure_tables(db)
        for entry in entries:
            apply(db, entry)


def snapshot(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Every projected row, sorted, for comparing live tables with a rebuild."""
    return {
        name: list(db.query(f"SELECT * FROM [{name}] ORDER BY [{pk}]"))  # noqa: S608 - fixed names
        for name, (_cols, pk) in TABLES.items()
    }
