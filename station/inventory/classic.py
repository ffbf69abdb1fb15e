"""Issue a classic OATH hardware token: bind it to its owner by serial once its first code verifies.

Nothing is written to the token (its seed came from the vendor). The owner reads a code off the token;
only if it verifies against the sealed seed is the issue recorded, so a token handed out by mistake, or
one whose seed file entry belongs to another token, is caught at the desk. A wrong first code is
recorded (token.issue.failed) and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..clock import rfc3339
from ..core import Station
from ..errors import StationError, VerificationFailed
from ..operators.sessions import Session
from .common import clean_id, clean_serial
from .first_code import check_first_code
from .owners import check_issue

RECIPE = "classic-oath"


@dataclass(frozen=True)
class ClassicIssueResult:
    serial: str
    owner: str
    oath_type: str
    issued_at: str
    ledger_seq: int
    recovery_codes: tuple[str, ...] = field(default=(), repr=False)  # a replacement's new set, shown once


def _seed(station: Station, serial: str) -> dict:
    cur = station.ledger.db.execute("SELECT * FROM seeds WHERE serial = ?", [serial])
    row = cur.fetchone()
    if row is None:
        raise StationError(f"Token {serial} has no seed on record.", "Receive it from its seed file first.")
    return dict(zip([c[0] for c in cur.description], row, strict=True))


def issue_classic(
    station: Station,
    serial: str,
    *,
    owner: str,
    operator: Session,
    code: str,
    approver: Session | None = None,
) -> ClassicIssueResult:
    """Bind a classic token in stock to an owner after the first code from it verifies.

    Replacing the owner's lost or damaged token needs `approver` (a second operator's approval)."""
    from ..binding import append_approved, on_bound

    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    serial, owner = clean_serial(serial), clean_id("owner", owner)
    with station.record() as tx:
        check_issue(tx.db, serial, owner, operator, station.now(), kind="oath", approver=approver)
    seed = _seed(station, serial)
    factor = check_first_code(seed, station.secret(seed["vault_record"]), code, station.now())
    if factor is None:
        station.append(
            "token.issue.failed",
            {"serial": serial, "kind": "oath", "owner": owner, "reason": "first code did not verify"},
            actor=operator.operator,
        )
        raise VerificationFailed(
            f"The code does not match token {serial}'s seed; the token was not issued.",
            "Check the serial on the token and read the next code; a token whose codes never match"
            " goes back to the vendor.",
        )
    at = station.now()
    with station.record() as tx:
        _token, access_end = check_issue(tx.db, serial, owner, operator, at, kind="oath", approver=approver)
        body = {
            "serial": serial,
            "kind": "oath",
            "owner": owner,
            "custodian": operator.operator,
            "credential_id": serial,
            "oath_type": seed["oath_type"],
            "algorithm": seed["algorithm"],
            "digits": seed["digits"],
            "period": seed["period"],
            "first_step": factor,
            "seed_fingerprint": seed["seed_fingerprint"],
            "vault_record": seed["vault_record"],
            "profile": RECIPE,
            "site": _token["site"],
            "access_end": access_end,
        }
        entry = append_approved(
            tx, station, "token.issued", body, operator=operator, approver=approver, at=at
        )
        recovery = on_bound(
            tx, station, owner, actor=operator.operator, at=at, replacement="replaces" in entry.body
        )
    return ClassicIssueResult(
        serial,
        owner,
        seed["oath_type"],
        rfc3339(entry.at_datetime),
        entry.seq,
        () if recovery is None else recovery.codes,
    )
