"""Projection handlers for token events: intake, issue, return, loss, damage, blocks, custody, retirement.

The station function that appends an event has already checked that the move is legal (states.py);
a handler only applies it. Every token event also lands in `token_history`, one row per token.
"""

from __future__ import annotations

import sqlite_utils

from ledger.entry import Entry


def credential_key(serial: int | str, credential_id: str) -> str:
    return f"{serial}/{credential_id}"


def _history(db: sqlite_utils.Database, e: Entry, serial: object, *, owner: str | None = None) -> None:
    b = e.body
    db.execute(
        "INSERT OR REPLACE INTO token_history (seq, serial, type, at, actor, second_operator, owner, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            e.seq,
            str(serial),
            e.type,
            e.at,
            e.actor,
            b.get("second_operator"),
            owner or b.get("owner"),
            b.get("reason"),
        ],
    )


def _token(db: sqlite_utils.Database, serial: object) -> dict | None:
    cur = db.execute("SELECT * FROM tokens WHERE serial = ?", [str(serial)])
    row = cur.fetchone()
    return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))


def _update(db: sqlite_utils.Database, e: Entry, serial: object, **cols: object) -> None:
    cols.update(updated_at=e.at, last_seq=e.seq)
    if "status" in cols:
        cols["status_since"] = e.at
    sets = ", ".join(f"{name} = ?" for name in cols)
    db.execute(f"UPDATE tokens SET {sets} WHERE serial = ?", [*cols.values(), str(serial)])  # noqa: S608


def _credentials(db: sqlite_utils.Database, serial: object, status: str, *, only: str | None = None) -> None:
    """Set the status of the token's live credentials (revoked codes stop verifying at once)."""
    where = "status = ?" if only else "status IN ('active', 'suspended')"
    db.execute(
        f"UPDATE credentials SET status = ? WHERE serial = ? AND {where}",  # noqa: S608
        [status, serial, *([only] if only else [])],
    )


def on_received(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    serial = str(b["serial"])
    db.execute(
        "INSERT INTO tokens (serial, kind, model, firmware, status, custodian, site, location, received_at,"
        " status_since, updated_at, last_seq) VALUES (?, ?, ?, ?, 'in_stock', ?, ?, ?, ?, ?, ?, ?)",
        [
            serial,
            b["kind"],
            b.get("model"),
            b.get("firmware"),
            b["custodian"],
            b["site"],
            b.get("location"),
            e.at,
            e.at,
            e.at,
            e.seq,
        ],
    )
    if "vault_record" in b:  # a classic token's seed, or a YubiKey OTP slot's key from a seed file
        db.execute(
            "INSERT INTO seeds (serial, oath_type, algorithm, digits, period, counter, vendor,"
            " seed_fingerprint, vault_record, public_id, slot, batch)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                serial,
                b["oath_type"],
                b["algorithm"],
                b["digits"],
                b.get("period"),
                b.get("counter"),
                b.get("vendor"),
                b["seed_fingerprint"],
                b["vault_record"],
                b.get("public_id"),
                b.get("slot"),
                b.get("batch"),
            ],
        )
    _history(db, e, serial)


def on_issue_started(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    token = _token(db, b["serial"])
    if token is None:  # a ledger from before stock intake existed: the key was never received
        db.execute(
            "INSERT INTO tokens (serial, kind, model, firmware, status, site) VALUES (?, 'yubikey',"
            " ?, ?, 'in_stock', ?)",
            [str(b["serial"]), b["model"], b["firmware"], b.get("site")],
        )
        token = _token(db, b["serial"])
    prior = token["status"]
    db.execute(
        "INSERT OR REPLACE INTO device_intents (intent_id, action, serial, credential_id, status, started_at,"
        " started_seq, prior_status) VALUES (?, 'issue', ?, ?, 'open', ?, ?, ?)",
        [b["intent_id"], b["serial"], b["credential_id"], e.at, e.seq, prior],
    )
    if prior != "issued":  # a second credential for the same holder leaves the token issued
        _update(db, e, b["serial"], status="issuing")
    _history(db, e, b["serial"])


def _intent_prior(db: sqlite_utils.Database, intent_id: str | None, status: str) -> str | None:
    if intent_id is None:
        return None
    row = db.execute("SELECT prior_status FROM device_intents WHERE intent_id = ?", [intent_id]).fetchone()
    if row is None:
        return None
    db.execute("UPDATE device_intents SET status = ? WHERE intent_id = ?", [status, intent_id])
    return row[0]


def on_issued(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    token = _token(db, b["serial"])
    prior = _intent_prior(db, b.get("intent_id"), "done") or (token["status"] if token else None)
    if token is None:
        db.execute(
            "INSERT INTO tokens (serial, kind, status) VALUES (?, 'yubikey', 'issued')", [str(b["serial"])]
        )
    kind = b.get("kind", "yubikey")
    cols: dict[str, object] = dict(
        status="issued",
        owner=b["owner"],
        last_owner=b["owner"],
        custodian=b["custodian"],
        location=None,
        prior_status=None,
        access_end=b.get("access_end"),
        profile=b.get("profile"),
    )
    if kind == "yubikey":
        cols.update(model=b["model"], firmware=b["firmware"])
    if prior != "issued":
        cols["issued_at"] = e.at
    _update(db, e, b["serial"], **cols)
    db.execute(
        "INSERT OR REPLACE INTO credentials (id, serial, credential_id, owner, oath_type, algorithm, digits,"
        " period, seed_fingerprint, vault_record, status, issued_at, last_step)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
        [
            credential_key(b["serial"], b["credential_id"]),
            b["serial"],
            b["credential_id"],
            b["owner"],
            b.get("oath_type", "TOTP"),
            b["algorithm"],
            b["digits"],
            b.get("period"),
            b["seed_fingerprint"],
            b["vault_record"],
            e.at,
            b.get("first_step", -1),
        ],
    )
    otp = b.get("yubico_otp")
    if otp:  # the key's Yubico OTP slot, programmed with the same issue (recipe [yubico_otp])
        db.execute(
            "INSERT OR REPLACE INTO credentials (id, serial, credential_id, owner, oath_type,"
            " seed_fingerprint, vault_record, status, issued_at, public_id)"
            " VALUES (?, ?, ?, ?, 'YUBICO_OTP', ?, ?, 'active', ?, ?)",
            [
                credential_key(b["serial"], otp["credential_id"]),
                b["serial"],
                otp["credential_id"],
                b["owner"],
                otp["fingerprint"],
                otp["vault_record"],
                e.at,
                otp["public_id"],
            ],
        )
    if prior != "issued":
        _close_incident(db, e, b["owner"], str(b["serial"]))
    _history(db, e, b["serial"])


def _close_incident(db: sqlite_utils.Database, e: Entry, owner: str, serial: str) -> None:
    """A token issued to someone whose earlier token was lost or damaged is its replacement."""
    row = db.execute(
        "SELECT seq FROM incidents WHERE owner = ? AND replaced_at IS NULL ORDER BY seq LIMIT 1", [owner]
    ).fetchone()
    if row is None:
        return
    db.execute(
        "UPDATE incidents SET replaced_at = ?, replacement_serial = ? WHERE seq = ?", [e.at, serial, row[0]]
    )
    db.execute(
        "INSERT INTO support_requests (seq, owner, kind, at) VALUES (?, ?, 'replacement', ?)",
        [e.seq, owner, e.at],
    )


def on_issue_failed(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    prior = _intent_prior(db, b.get("intent_id"), "failed")
    token = _token(db, b["serial"])
    if token is not None and token["status"] == "issuing":
        _update(db, e, b["serial"], status=prior or "in_stock")
    _history(db, e, b["serial"])


def on_returned(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    _update(
        db,
        e,
        b["serial"],
        status="returned",
        owner=None,
        custodian=e.actor,
        site=b["site"],
        location=b.get("location"),
    )
    _credentials(db, b["serial"], "revoked")
    _history(db, e, b["serial"])


def _incident(db: sqlite_utils.Database, e: Entry, kind: str, token: dict) -> None:
    db.execute(
        "INSERT INTO incidents (seq, serial, owner, kind, reported_at, site) VALUES (?, ?, ?, ?, ?, ?)",
        [e.seq, token["serial"], e.body.get("owner"), kind, e.at, token["site"]],
    )


def on_reported_lost(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    token = _token(db, b["serial"])
    _update(db, e, b["serial"], status="lost", owner=None, location=None, prior_status=None)
    _credentials(db, b["serial"], "revoked")
    _incident(db, e, "lost", token)
    _history(db, e, b["serial"])


def on_reported_damaged(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    token = _token(db, b["serial"])
    _update(
        db,
        e,
        b["serial"],
        status="damaged",
        owner=None,
        custodian=e.actor,
        site=b["site"],
        location=b.get("location"),
        prior_status=None,
    )
    _credentials(db, b["serial"], "revoked")
    _incident(db, e, "damaged", token)
    _history(db, e, b["serial"])


def on_blocked(db: sqlite_utils.Database, e: Entry) -> None:
    token = _token(db, e.body["serial"])
    _update(db, e, token["serial"], status="blocked", prior_status=token["status"])
    _credentials(db, token["serial"], "suspended", only="active")
    _history(db, e, token["serial"], owner=token["owner"])


def on_unblocked(db: sqlite_utils.Database, e: Entry) -> None:
    token = _token(db, e.body["serial"])
    _update(db, e, token["serial"], status=token["prior_status"], prior_status=None)
    if token["prior_status"] == "issued":
        _credentials(db, token["serial"], "active", only="suspended")
    _history(db, e, token["serial"], owner=token["owner"])


def on_found(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    _update(
        db, e, b["serial"], status="returned", custodian=e.actor, site=b["site"], location=b.get("location")
    )
    _history(db, e, b["serial"])


def on_retired(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    _update(db, e, b["serial"], status="retired", owner=None, location=None, prior_status=None)
    _credentials(db, b["serial"], "revoked")
    _history(db, e, b["serial"])


def on_transferred(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    for move in b["moves"]:
        _update(
            db,
            e,
            move["serial"],
            custodian=b["to_custodian"],
            site=b["to_site"],
            location=b.get("to_location"),
        )
        _history(db, e, move["serial"])


def on_reset(db: sqlite_utils.Database, e: Entry) -> None:
    """Reset: the owner's codes stop, the token is back at the desk to be programmed again."""
    b = e.body
    _update(
        db, e, b["serial"], status="returned", owner=None, custodian=e.actor, location=None, prior_status=None
    )
    _credentials(db, b["serial"], "revoked")
    _history(db, e, b["serial"])
    on_support(db, e)


def on_support(db: sqlite_utils.Database, e: Entry) -> None:
    # Resets and other support requests (issue 6/7 record them); replacements come from on_issued.
    kind = "reset" if e.type == "token.reset" else e.body.get("kind", "other")
    db.execute(
        "INSERT INTO support_requests (seq, owner, kind, at) VALUES (?, ?, ?, ?)",
        [e.seq, e.body.get("owner"), kind, e.at],
    )


HANDLERS = {
    "token.received": on_received,
    "token.issue.started": on_issue_started,
    "token.issued": on_issued,
    "token.issue.failed": on_issue_failed,
    "token.returned": on_returned,
    "token.reported_lost": on_reported_lost,
    "token.reported_damaged": on_reported_damaged,
    "token.blocked": on_blocked,
    "token.unblocked": on_unblocked,
    "token.found": on_found,
    "token.retired": on_retired,
    "token.transferred": on_transferred,
    "token.reset": on_reset,
    "support.requested": on_support,
}
