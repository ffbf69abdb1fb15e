"""Settle device intents left open by a pulled key or a crash.

An intent without outcome means the station does not know whether the key was programmed. We ask the
key: if it holds the credential and computes the same code as the seed sealed with the intent, the
write happened and `token.issued` is recorded; if the credential is absent, it did not and
`token.issue.failed` is recorded. A key that is not present leaves the intent open for next time. When
the recipe also writes Yubico OTP (after the OATH credential), a slot still empty is written now from
the secret sealed with the intent.
"""

from __future__ import annotations

from drivers.errors import DriverError
from drivers.oath import open_oath
from drivers.otp import open_otp

from .core import Station
from .inventory.roles import require
from .operators.sessions import Session
from .verify import _code_at


def on_bound(*args: object, **kwargs: object) -> object:
    from .binding import on_bound as bound  # binding imports access modules that import core only

    return bound(*args, **kwargs)


def _finish_yubico_otp(station: Station, body: dict) -> bool:
    """The OATH credential is there; the recipe's OTP slot is written now if the pull came before it."""
    from .issue import write_yubico_otp

    otp = body["yubico_otp"]
    try:
        with open_otp(body["serial"], station.bus) as key:
            done = key.configured(otp["slot"])
        if not done:
            write_yubico_otp(
                station, body["serial"], otp["slot"], otp["public_id"], station.secret(otp["vault_record"])
            )
    except DriverError:
        return False
    return True


def open_intents(station: Station) -> list[dict]:
    # In the order they were started (the table is keyed by intent id, which says nothing of it).
    return list(
        station.ledger.db.query("SELECT * FROM device_intents WHERE status = 'open' ORDER BY started_seq")
    )


def _started_body(station: Station, seq: int) -> dict:
    for entry in station.ledger.entries(start=seq):
        return dict(entry.body)
    raise LookupError(seq)


def reconcile(station: Station, *, operator: Session, serial: int | None = None) -> list[str]:
    """Resolve every open intent whose key is present (or only this serial's); one line each."""
    settled = []
    intents = [i for i in open_intents(station) if serial is None or i["serial"] == serial]
    if not intents:
        return settled
    with station.record() as tx:
        actor = require(tx.db, operator, "reconcile", station.now()).id
    for intent in intents:
        if serial is not None and intent["serial"] != serial:
            continue
        body = _started_body(station, intent["started_seq"])
        try:
            with open_oath(intent["serial"], station.bus) as key:
                now = int(station.now().timestamp())
                present = body["credential_id"].encode() in key.credential_ids()
                written = False
                if present:
                    seed = station.secret(body["vault_record"])
                    expected = _code_at(seed, body["algorithm"], body["digits"], now // body["period"])
                    written = key.calculate(body["credential_id"].encode(), now) == expected
        except DriverError:
            # The key is not here: the intent stays open, and the operator is told which key to bring.
            settled.append(
                f"key {intent['serial']}: a write interrupted at {intent['started_at']} is still open;"
                " insert that key to settle it"
            )
            continue
        if written and body.get("yubico_otp"):
            written = _finish_yubico_otp(station, body)
        if written:
            at = station.now()
            with station.record() as tx:
                tx.append("token.issued", dict(body, reconciled=True), actor=actor, at=at)
                on_bound(
                    tx,
                    station,
                    body["owner"],
                    actor=actor,
                    at=at,
                    replacement="replaces" in body,
                    show_codes=False,
                )
            settled.append(f"key {intent['serial']}: write had completed; issuance recorded")
        else:
            station.append(
                "token.issue.failed",
                {
                    "intent_id": intent["intent_id"],
                    "serial": intent["serial"],
                    "reason": "interrupted",
                    "detail": "credential absent or different on the key",
                },
                actor=actor,
            )
            settled.append(f"key {intent['serial']}: write had not completed; recorded as failed")
    return settled
