"""Stock intake: YubiKeys by insertion or from a list of serials, classic OATH tokens from seed files.

Intake is all or nothing by default: a list or seed file with any bad entry records nothing and says
which entries are wrong; `accept_partial` records the good ones and lists the rest in the ledger.
Seeds go to the vault; the ledger holds serials and keyed fingerprints only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import firmware_profiles

from ..core import Station
from ..devices import present_keys
from ..errors import InputError
from ..operators.sessions import Session
from .common import clean_reason, find_token, resolve_place, yubikey_serial
from .roles import require

MIN_SEED_BYTES = 16  # RFC 4226 section 4, R6: the shared secret MUST be at least 128 bits
MAX_ENTRIES = 100_000


class TokenSeed(Protocol):
    """A classic OATH token's seed as a seed-file parser hands it over (station.seedfiles)."""

    serial: str
    secret: bytes
    oath_type: str  # "TOTP" or "HOTP"
    algorithm: str  # "SHA1", "SHA256" or "SHA512"
    digits: int
    period: int | None  # TOTP time step in seconds
    counter: int | None  # HOTP moving factor


@dataclass(frozen=True)
class Reject:
    """An entry that was not received, and why (never the secret)."""

    entry: str
    serial: str | None
    reason: str


@dataclass(frozen=True)
class ReceiveReport:
    received: tuple[str, ...]
    rejected: tuple[Reject, ...]
    already_known: tuple[str, ...] = ()


class EntriesRejected(InputError):
    """Some entries are wrong; nothing was received. `rejected` lists every one."""

    def __init__(self, what: str, rejected: Sequence[Reject], hint: str) -> None:
        shown = "; ".join(
            f"{r.entry}{f' ({r.serial})' if r.serial else ''}: {r.reason}" for r in rejected[:10]
        )
        more = f"; and {len(rejected) - 10} more" if len(rejected) > 10 else ""
        super().__init__(
            f"{what}: {len(rejected)} bad entr{'y' if len(rejected) == 1 else 'ies'}, nothing"
            f" was received. {shown}{more}.",
            hint,
        )
        self.rejected = tuple(rejected)


def _model_name(model: str | None) -> str | None:
    if not model:
        return None
    for profile in firmware_profiles.load_all():
        if model.strip().lower() in (profile.model_id, profile.model_name.lower()):
            return profile.model_name
    names = sorted({p.model_name for p in firmware_profiles.load_all()})
    raise InputError(
        f"{model!r} is not a YubiKey model this station knows.", f"Use one of: {', '.join(names)}."
    )


def yubikey_body(
    serial: int,
    model: str | None,
    firmware: str | None,
    custodian: str,
    site: str,
    location: str | None,
    how: str,
    reason: str,
) -> dict:
    return {
        "serial": serial,
        "kind": "yubikey",
        "model": model,
        "firmware": firmware,
        "custodian": custodian,
        "site": site,
        "location": location,
        "how": how,
        "reason": reason,
    }


def receive_serials(
    station: Station,
    serials: Iterable[str | int],
    *,
    operator: Session,
    model: str | None = None,
    location: str | None = None,
    site: str | None = None,
    reason: str | None = None,
    accept_partial: bool = False,
) -> ReceiveReport:
    """Receive YubiKeys from a list (a delivery note): model as listed, firmware read when inserted."""
    model_name = _model_name(model)
    reason = clean_reason(reason, "stock intake from a list")
    good, rejected, seen = [], [], set()
    for n, raw in enumerate(serials, 1):
        if n > MAX_ENTRIES:
            raise InputError(f"More than {MAX_ENTRIES} serials in one list.", "Split the list.")
        try:
            serial = yubikey_serial(raw)
        except InputError as exc:
            rejected.append(Reject(f"entry {n}", str(raw)[:40], exc.message))
            continue
        if serial in seen:
            rejected.append(Reject(f"entry {n}", str(serial), "listed twice"))
            continue
        seen.add(serial)
        good.append((n, serial))
    with station.record() as tx:
        operator_id = require(tx.db, operator, "receive", station.now()).id
        site, location = resolve_place(tx.db, station.config.site, site, location)
        fresh = []
        for n, serial in good:
            known = find_token(tx.db, str(serial))
            if known is not None:
                rejected.append(
                    Reject(f"entry {n}", str(serial), f"already in the inventory ({known['status']})")
                )
            else:
                fresh.append(serial)
        if rejected and not accept_partial:
            raise EntriesRejected(
                "The list of serials",
                rejected,
                "Correct the list and receive it again, or accept the good entries (--accept-partial).",
            )
        for serial in fresh:
            tx.append(
                "token.received",
                yubikey_body(serial, model_name, None, operator_id, site, location, "list", reason),
                actor=operator_id,
                at=station.now(),
            )
    return ReceiveReport(tuple(str(s) for s in fresh), tuple(rejected))


def receive_inserted(
    station: Station,
    *,
    operator: Session,
    serial: int | None = None,
    location: str | None = None,
    site: str | None = None,
    reason: str | None = None,
) -> ReceiveReport:
    """Receive the YubiKeys present (or only this serial): serial, model and firmware read from each key."""
    keys = present_keys(station.bus)
    if serial is not None:
        keys = [k for k in keys if k.serial == serial]
        if not keys:
            raise InputError(f"No YubiKey with serial {serial} is inserted.", "Insert the key and try again.")
    reason = clean_reason(reason, "stock intake by insertion")
    received, known, rejected = [], [], []
    with station.record() as tx:
        operator_id = require(tx.db, operator, "receive", station.now()).id
        site, location = resolve_place(tx.db, station.config.site, site, location)
        for key in keys:
            if key.serial is None:
                rejected.append(Reject(key.reader, None, f"{key.model} reports no serial number"))
                continue
            if find_token(tx.db, str(key.serial)) is not None:
                known.append(str(key.serial))
                continue
            tx.append(
                "token.received",
                yubikey_body(
                    key.serial, key.model, key.firmware, operator_id, site, location, "inserted", reason
                ),
                actor=operator_id,
                at=station.now(),
            )
            received.append(str(key.serial))
    return ReceiveReport(tuple(received), tuple(rejected), tuple(known))
