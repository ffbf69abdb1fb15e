"""Classic OATH tokens: intake from parsed seed files, and issue bound by serial after the first code.

Seeds are the RFC 4226 / RFC 6238 test secret, so the first codes are the RFCs' published values.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from desk_fixtures import op

from station.errors import InputError, VerificationFailed
from station.inventory.classic import issue_classic
from station.inventory.common import find_token
from station.inventory.intake import EntriesRejected, Reject
from station.inventory.seed_intake import receive_seed_file
from station.verify import verify_totp

RFC_SECRET = b"12345678901234567890"
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]


@dataclass(frozen=True)
class Seed:  # what a seed-file parser hands over (station.inventory.intake.TokenSeed)
    serial: str
    secret: bytes
    oath_type: str = "TOTP"
    algorithm: str = "SHA1"
    digits: int = 6
    period: int | None = 30
    counter: int | None = None


def receive(desk, seeds, rejects=(), **kw):
    return receive_seed_file(
        desk.station,
        seeds,
        rejects,
        operator=op("carol"),
        source="vendor.pskc",
        sha256="00" * 32,
        vendor="Feitian",
        **kw,
    )


def test_seed_file_intake_seals_seeds_and_records_fingerprints_only(desk):
    report = receive(
        desk, [Seed("FT0001", RFC_SECRET), Seed("FT0002", RFC_SECRET[::-1], "HOTP", counter=0, period=None)]
    )
    assert report.received == ("FT0001", "FT0002") and report.rejected == ()
    db = desk.station.ledger.db
    assert find_token(db, "FT0001")["kind"] == "oath" and find_token(db, "FT0001")["status"] == "in_stock"
    entries = list(desk.station.ledger.entries())
    assert [e.type for e in entries[-3:]] == ["token.received", "token.received", "stock.seed_file.received"]
    assert entries[-3].body["seed_fingerprint"] == desk.station.vault.fingerprint(RFC_SECRET)
    raw = b"".join(e.raw for e in entries)
    assert RFC_SECRET not in raw and RFC_SECRET.hex().encode() not in raw
    assert desk.station.secret("seed/FT0001") == RFC_SECRET


def test_any_bad_entry_imports_nothing_unless_partial_is_asked_for(desk):
    receive(desk, [Seed("FT0001", RFC_SECRET)])
    before = desk.types()
    seeds = [
        Seed("FT0002", RFC_SECRET),
        Seed("FT0003", b"short"),
        Seed("FT0002", RFC_SECRET),
        Seed("FT0001", RFC_SECRET),
        Seed("FT0004", RFC_SECRET, algorithm="MD5"),
        Seed("FT 5", RFC_SECRET),
        Seed("FT0006", RFC_SECRET, "HOTP", counter=-1, period=None),
    ]
    parser_rejects = [Reject("KeyPackage 9", "FT0009", "MAC does not match")]
    with pytest.raises(EntriesRejected) as err:
        receive(desk, seeds, parser_rejects)
    reasons = {(r.serial, r.reason) for r in err.value.rejected}
    assert ("FT0009", "MAC does not match") in reasons
    assert ("FT0003", "secret shorter than 128 bits (RFC 4226 requires at least 128)") in reasons
    assert ("FT0002", "serial listed twice in the file") in reasons
    assert ("FT0001", "already in the inventory (in_stock)") in reasons
    assert len(err.value.rejected) == 7 and "nothing was received" in err.value.message
    assert desk.types() == before
    partial = receive(desk, seeds, parser_rejects, accept_partial=True)
    assert partial.received == ("FT0002",)
    summary = list(desk.station.ledger.entries())[-1]
    assert summary.type == "stock.seed_file.received" and len(summary.body["rejected"]) == 7


def test_totp_token_is_issued_only_after_its_first_code_verifies(desk):
    desk.clock.at = datetime.fromtimestamp(1111111109, UTC)
    receive(desk, [Seed("FT0001", RFC_SECRET, digits=8)])
    with pytest.raises(VerificationFailed, match="does not match token FT0001"):
        issue_classic(desk.station, "FT0001", owner="alice", operator=op("carol"), code="12345678")
    assert desk.types()[-1] == "token.issue.failed"
    assert find_token(desk.station.ledger.db, "FT0001")["status"] == "in_stock"
    result = issue_classic(desk.station, "FT0001", owner="alice", operator=op("carol"), code="0708 1804")
    assert result.oath_type == "TOTP"
    token = find_token(desk.station.ledger.db, "FT0001")
    assert (token["status"], token["owner"], token["profile"]) == ("issued", "alice", "classic-oath")
    # The first code was used up by the issue: it is not accepted again.
    with pytest.raises(VerificationFailed, match="already used"):
        verify_totp(desk.station, "alice", "07081804", operator=op("carol"))


def test_hotp_token_first_code_within_the_look_ahead(desk):
    receive(desk, [Seed("DN0001", RFC_SECRET, "HOTP", counter=0, period=None)])
    with pytest.raises(VerificationFailed):  # counter 11 is past the look-ahead of 10
        issue_classic(desk.station, "DN0001", owner="bob", operator=op("carol"), code="000000")
    issue_classic(desk.station, "DN0001", owner="bob", operator=op("carol"), code=RFC4226[5])
    row = desk.station.ledger.db.execute("SELECT oath_type, last_step FROM credentials").fetchone()
    assert row == ("HOTP", 5)


def test_a_yubikey_serial_is_not_a_classic_token(desk):
    desk.insert(20000001)
    from station.inventory.intake import receive_inserted

    receive_inserted(desk.station, operator=op("carol"))
    with pytest.raises(InputError, match="is a YubiKey"):
        issue_classic(desk.station, "20000001", owner="bob", operator=op("carol"), code="123456")
