"""Issue a classic OATH hardware token: bind it to its owner by serial once its first code verifies.

Nothing is written to the token (its seed came from the vendor). The owner reads a code off the token;
only if it verifies against the sealed seed is the issue recorded, so a token handed out by mistake, or
one whose seed file entry belongs to another token, is caught at the desk. A wrong first code is
recorded (token.issue.failed) and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import rfc3339
from ..core import Station
from ..errors import StationError, VerificationFailed
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


def _seed(station: Station, serial: str) -> dict:
    cur = station.ledger.db.execute("SELECT * FROM seeds WHERE serial = ?", [serial])
    row = cur.fetchone()
    if row is None:
        raise StationError(f"Token {serial} has no seed on record.", "Receive it from its seed file first.")
    return dict(zip([c[0] for c in cur.description], row, strict=True))


def issue_classic(
    station: Station, serial: str, *, owner: str, operator: str, code: str
) -> ClassicIssueResult:
    """Bind a classic token in stock to an owner after the first code from it verifies."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    serial, owner = clean_serial(serial), clean_id("owner", owner)
    check_issue(station.ledger.db, serial, owner, operator, station.now(), kind="oath")
    seed = _seed(station, serial)
    factor = check_first_code(seed, station.secret(seed["vault_record"]), code, station.now())
    if factor is None:
        station.append(
            "token.issue.failed",
            {"serial": serial, "kind": "oath", "owner": owner, "reason": "first code did not verify"},
            actor=operator,
        )
        raise VerificationFailed(
            f"The code does not match token {serial}'s seed; the token was not issued.",
            "Check the serial on the token and read the next code; a token whose codes never match"
            " goes back to the vendor.",
        )
    with station.record() as tx:
        _token, access_end = check_issue(tx.db, serial, owner, operator, station.now(), kind="oath")
        body = {
            "serial": serial,
            "kind": "oath",
            "owner": owner,
            "custodian": operator,
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
        entry = tx.append("token.issued", body, actor=operator, at=station.now())
    return ClassicIssueResult(serial, owner, seed["oath_type"], rfc3339(entry.at_datetime), entry.seq)
