"""Which tokens an export takes, and what the identity provider must do with each.

A selection is a set of filters, all of which a token must pass:
- since_last: tokens with a change the IdP has not been sent yet (an issue to register; a return,
  loss, damage, block or retirement to deactivate), and changes whose export was withdrawn;
- site: tokens at a site; batch: tokens received in one intake (a seed file's batch id);
- issued_since / issued_until: a rollout wave, by issue time (UTC, RFC 3339 or a date);
- replacement: one replacement, named by the lost token's serial or its replacement's: the lost
  token to deactivate and the new one to register;
- serials: these tokens, whatever is outstanding: register if in use or in stock, deactivate if lost,
  blocked, damaged, returned or retired.
Without since_last or serials, the filters take the tokens in use (issued) and those to deactivate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlite_utils

from ..errors import InputError
from ..inventory.common import NotFound, clean_serial

REGISTER, DEACTIVATE = "register", "deactivate"
TO_DEACTIVATE = ("lost", "blocked", "damaged", "returned", "retired")
TO_REGISTER = ("issued", "in_stock")


@dataclass(frozen=True)
class Selection:
    since_last: bool = False
    site: str | None = None
    batch: str | None = None
    issued_since: str | None = None
    issued_until: str | None = None
    replacement: str | None = None
    serials: tuple[str, ...] = field(default_factory=tuple)

    def is_empty(self) -> bool:
        return not (
            self.since_last
            or self.site
            or self.batch
            or self.issued_since
            or self.issued_until
            or self.replacement
            or self.serials
        )

    def as_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Chosen:
    serial: str
    action: str
    status: str


def _action_for_state(status: str) -> str | None:
    if status in TO_REGISTER:
        return REGISTER
    if status in TO_DEACTIVATE:
        return DEACTIVATE
    return None


def _replacement(db: sqlite_utils.Database, serial: str) -> dict[str, str]:
    row = db.execute(
        "SELECT serial, replacement_serial FROM incidents WHERE serial = ? OR replacement_serial = ?"
        " ORDER BY seq DESC LIMIT 1",
        [serial, serial],
    ).fetchone()
    if row is None:
        raise NotFound(
            f"Token {serial} is not part of a replacement (no loss or damage on record).",
            "Give the serial of the lost or damaged token, or of the token that replaced it.",
        )
    if row[1] is None:
        raise InputError(
            f"Token {row[0]}'s owner has no replacement token yet.",
            "Issue the replacement first, or export the deactivation alone (--serial).",
        )
    return {row[0]: DEACTIVATE, row[1]: REGISTER}


def choose(db: sqlite_utils.Database, selection: Selection) -> list[Chosen]:
    """The tokens the selection takes, each with what the IdP must do, sorted by serial."""
    if selection.is_empty():
        raise InputError(
            "No tokens chosen for the export.",
            "Say which: --since-last, --site, --batch, --issued-since, --replacement or --serial.",
        )
    clauses, params = [], []
    explicit: dict[str, str] = {}
    if selection.replacement:
        explicit.update(_replacement(db, clean_serial(selection.replacement)))
    for raw in selection.serials:
        explicit[clean_serial(raw)] = ""
    if explicit:
        clauses.append(f"t.serial IN ({', '.join('?' * len(explicit))})")
        params += list(explicit)
    if selection.site:
        clauses.append("t.site = ?")
        params.append(selection.site)
    if selection.batch:
        clauses.append("i.batch = ?")
        params.append(selection.batch)
    if selection.issued_since:
        clauses.append("t.issued_at >= ?")
        params.append(selection.issued_since)
    if selection.issued_until:
        clauses.append("t.issued_at < ?")
        params.append(selection.issued_until)
    if selection.since_last:
        clauses.append("i.need IS NOT NULL AND i.covered_by IS NULL")
    where = " AND ".join(clauses)  # fixed clauses; the values are bound
    head = "SELECT t.serial, t.status, i.need FROM tokens t LEFT JOIN idp_tokens i ON i.serial = t.serial"
    sql = f"{head} WHERE {where} ORDER BY t.serial"  # noqa: S608
    rows = db.execute(sql, params).fetchall()
    found = {serial for serial, _s, _n in rows}
    missing = [s for s in explicit if s not in found]
    if missing:
        raise NotFound(f"Not in this station's inventory: {', '.join(missing)}.", "Check the serials.")
    chosen = []
    for serial, status, need in rows:
        if explicit.get(serial):
            action = explicit[serial]
        elif serial in explicit:
            action = _action_for_state(status)
        elif selection.since_last:
            action = need
        else:  # site, batch, wave: the tokens in use, and those the IdP must stop trusting
            action = REGISTER if status == "issued" else (need if need == DEACTIVATE else None)
        if action is not None:
            chosen.append(Chosen(serial, action, status))
        elif serial in explicit:
            raise InputError(
                f"Token {serial} is {status}: there is nothing to tell the IdP about it yet.",
                "Settle the key write first (station reconcile).",
            )
    return chosen
