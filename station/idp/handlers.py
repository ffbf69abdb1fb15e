"""Projection handlers for the hand-off: export events, and what each token event asks of the IdP.

`FOLLOWERS` run after the inventory's own handler for the same event (the token row is already
updated): an issue asks the IdP to register the token; a return, loss, damage, block, retirement or
reset asks it to deactivate the token, if the IdP was ever told of it (a token never exported needs no
deactivation). An export covers what it carries until it is confirmed (done) or withdrawn (pending
again); anything newer than the export is not covered by it.
"""

from __future__ import annotations

import sqlite_utils

from ledger.entry import Entry


def _row(db: sqlite_utils.Database, serial: str) -> dict:
    db.execute("INSERT OR IGNORE INTO idp_tokens (serial) VALUES (?)", [serial])
    cur = db.execute("SELECT * FROM idp_tokens WHERE serial = ?", [serial])
    return dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True))


def _set(db: sqlite_utils.Database, serial: str, **cols: object) -> None:
    sets = ", ".join(f"{name} = ?" for name in cols)
    db.execute(f"UPDATE idp_tokens SET {sets} WHERE serial = ?", [*cols.values(), serial])  # noqa: S608


def _known_to_idp(row: dict) -> bool:
    """The IdP has (or may have, from an export not yet confirmed) this token registered."""
    return row["idp_state"] == "registered" or (row["need"] == "register" and row["covered_by"] is not None)


def on_received(db: sqlite_utils.Database, e: Entry) -> None:
    serial = str(e.body["serial"])
    _row(db, serial)
    if e.body.get("batch"):
        _set(db, serial, batch=e.body["batch"])


def on_issued(db: sqlite_utils.Database, e: Entry) -> None:
    serial = str(e.body["serial"])
    _row(db, serial)
    _set(db, serial, need="register", need_seq=e.seq, covered_by=None, prior_need=None)


def on_gone(db: sqlite_utils.Database, e: Entry) -> None:
    """Returned, lost, damaged, retired: the IdP must stop accepting it, if it ever knew it."""
    serial = str(e.body["serial"])
    row = _row(db, serial)
    if _known_to_idp(row) or row["need"] == "deactivate":
        _set(db, serial, need="deactivate", need_seq=e.seq, covered_by=None)
    else:
        _set(db, serial, need=None, need_seq=None, covered_by=None)


def on_blocked(db: sqlite_utils.Database, e: Entry) -> None:
    serial = str(e.body["serial"])
    row = _row(db, serial)
    _set(db, serial, prior_need=row["need"])
    on_gone(db, e)


def on_unblocked(db: sqlite_utils.Database, e: Entry) -> None:
    serial = str(e.body["serial"])
    row = _row(db, serial)
    status = db.execute("SELECT status FROM tokens WHERE serial = ?", [serial]).fetchone()[0]
    told_to_stop = row["idp_state"] == "deactivated" or (row["need"] == "deactivate" and row["covered_by"])
    if told_to_stop and status == "issued":
        _set(db, serial, need="register", need_seq=e.seq, covered_by=None, prior_need=None)
    else:
        _set(
            db,
            serial,
            need=row["prior_need"],
            need_seq=e.seq if row["prior_need"] else None,
            covered_by=None,
            prior_need=None,
        )


def on_exported(db: sqlite_utils.Database, e: Entry) -> None:
    b = e.body
    total = sum(len(v) for v in b["items"].values())
    db.execute(
        "INSERT INTO idp_exports (id, seq, at, actor, format, idp, purpose, path, sha256, bytes, protection,"
        " tokens, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
        [
            b["export_id"],
            e.seq,
            e.at,
            e.actor,
            b["format"],
            b["idp"],
            b["purpose"],
            b["path"],
            b["sha256"],
            b["bytes"],
            b["protection"],
            total,
        ],
    )
    for action, serials in b["items"].items():
        for serial in serials:
            db.execute(
                "INSERT OR IGNORE INTO idp_export_items (export_id, serial, action) VALUES (?, ?, ?)",
                [b["export_id"], serial, action],
            )
            row = _row(db, serial)
            if row["need"] == action and row["covered_by"] is None:
                _set(db, serial, covered_by=b["export_id"])


def _settle(db: sqlite_utils.Database, e: Entry, status: str) -> list[tuple[str, str]]:
    export_id = e.body["export_id"]
    db.execute(
        "UPDATE idp_exports SET status = ?, settled_at = ?, settled_by = ?, note = ? WHERE id = ?",
        [status, e.at, e.actor, e.body.get("note") or e.body.get("reason"), export_id],
    )
    return list(db.execute("SELECT serial, action FROM idp_export_items WHERE export_id = ?", [export_id]))


def _export_seq(db: sqlite_utils.Database, export_id: str) -> int:
    return db.execute("SELECT seq FROM idp_exports WHERE id = ?", [export_id]).fetchone()[0]


def on_confirmed(db: sqlite_utils.Database, e: Entry) -> None:
    export_id = e.body["export_id"]
    made_at = _export_seq(db, export_id)
    for serial, action in _settle(db, e, "confirmed"):
        row = _row(db, serial)
        state = "registered" if action == "register" else "deactivated"
        _set(db, serial, idp_state=state, state_export=export_id, state_at=e.at)
        # Done, unless something newer than this export happened to the token since.
        if row["need"] == action and (row["need_seq"] or 0) < made_at:
            _set(db, serial, need=None, need_seq=None, covered_by=None)


def on_withdrawn(db: sqlite_utils.Database, e: Entry) -> None:
    export_id = e.body["export_id"]
    for serial, action in _settle(db, e, "withdrawn"):
        row = _row(db, serial)
        if row["covered_by"] != export_id:
            continue
        # Another pending export made after the need arose may still carry it.
        other = db.execute(
            "SELECT x.id FROM idp_export_items i JOIN idp_exports x ON x.id = i.export_id WHERE i.serial = ?"
            " AND i.action = ? AND x.status = 'pending' AND x.seq > ? ORDER BY x.seq LIMIT 1",
            [serial, action, row["need_seq"] or 0],
        ).fetchone()
        _set(db, serial, covered_by=other[0] if other else None)


HANDLERS = {
    "idp.exported": on_exported,
    "idp.export_confirmed": on_confirmed,
    "idp.export_withdrawn": on_withdrawn,
}

FOLLOWERS = {
    "token.received": on_received,
    "token.issued": on_issued,
    "token.returned": on_gone,
    "token.reported_lost": on_gone,
    "token.reported_damaged": on_gone,
    "token.retired": on_gone,
    "token.reset": on_gone,  # its credential is revoked; it comes back to be programmed again
    "token.blocked": on_blocked,
    "token.unblocked": on_unblocked,
}
