"""`station verify` for every kind of code, at the edges the issue names, through the station's own
functions: the token's state lives in the projection (rebuildable) and every outcome is a ledger event.

TOTP and HOTP codes are RFC 6238 / RFC 4226 computations on the RFC test secret; Yubico OTPs are typed
by the virtual YubiKey's own OTP slot (its button), programmed by the station at issue.
"""

import base64
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import pytest
from desk_fixtures import approval, op
from yubikit.core.otp import modhex_decode, modhex_encode
from yubikit.yubiotp import SLOT, YubiOtpSession, YubiOtpSlotConfiguration

from drivers.emulator.connection import VirtualConnection
from station.code_check import MAX_RECORDED_COUNTER
from station.errors import InputError, VerificationFailed
from station.inventory.classic import issue_classic
from station.inventory.seed_intake import receive_seed_file
from station.issue import IssueRequest, issue_totp
from station.projection import rebuild, snapshot
from station.verify import verify_code

SECRET = b"12345678901234567890"  # RFC 4226 appendix D, RFC 6238 appendix B (SHA-1)
TOTP = pyotp.TOTP(base64.b32encode(SECRET).decode())
HOTP = pyotp.HOTP(base64.b32encode(SECRET).decode())
SERIAL = 33000001


@dataclass(frozen=True)
class Seed:
    serial: str
    secret: bytes
    oath_type: str = "TOTP"
    algorithm: str = "SHA1"
    digits: int = 6
    period: int | None = 30
    counter: int | None = None


def classic(desk, owner, seed: Seed, first_code: str):
    receive_seed_file(desk.station, [seed], operator=op("carol"), source="v.pskc", sha256="00" * 32)
    issue_classic(desk.station, seed.serial, owner=owner, operator=op("carol"), code=first_code)


def check(desk, owner, code, **kw):
    return verify_code(desk.station, owner, code, operator=op("dave"), **kw)


def refused(desk, owner, code, says, **kw):
    with pytest.raises(VerificationFailed, match=says):
        check(desk, owner, code, **kw)
    return list(desk.station.ledger.entries())[-1]


def step(desk) -> int:
    return int(desk.clock().timestamp()) // 30


def test_totp_drift_at_both_window_edges_is_followed_and_replays_refused(desk):
    classic(desk, "alice", Seed("FT1", SECRET), TOTP.generate_otp(step(desk)))
    desk.clock.advance(minutes=2)
    now = step(desk)
    refused(desk, "alice", TOTP.generate_otp(now + 2), "does not match")  # outside the window
    assert check(desk, "alice", TOTP.generate_otp(now + 1)).drift == 1  # the edge ahead
    desk.clock.advance(minutes=5)
    now = step(desk)
    # The window now centres on now + 1 (the remembered drift): now + 2 is inside, now - 1 is not.
    refused(desk, "alice", TOTP.generate_otp(now - 1), "does not match")
    assert check(desk, "alice", TOTP.generate_otp(now + 2)).drift == 2
    desk.clock.advance(minutes=5)
    now = step(desk)
    assert check(desk, "alice", TOTP.generate_otp(now + 1)).drift == 1  # the edge behind the expected step
    entry = refused(desk, "alice", TOTP.generate_otp(now + 1), "already used")
    assert entry.type == "otp.rejected" and entry.body["reason"] == "replay"
    live = snapshot(desk.station.ledger.db)
    rebuild(desk.station.ledger.db, desk.station.ledger.entries())
    assert snapshot(desk.station.ledger.db) == live  # the state (step, drift) is the ledger read forwards


def test_hotp_look_ahead_resync_and_no_replay_after_resync(desk):
    classic(desk, "bob", Seed("FT2", SECRET, "HOTP", period=None, counter=0), HOTP.at(0))
    assert check(desk, "bob", HOTP.at(3)).step == 3  # within the look-ahead (1 and 2 skipped)
    refused(desk, "bob", HOTP.at(2), "older than one already used")
    refused(desk, "bob", HOTP.at(50), "does not match")  # too far ahead: resynchronise
    # Two codes, not consecutive: refused, the counter does not move.
    entry = refused(desk, "bob", HOTP.at(50), "not consecutive", next_code=HOTP.at(52))
    assert entry.body["reason"] == "not consecutive"
    result = check(desk, "bob", HOTP.at(50), next_code=HOTP.at(51))
    assert (result.kind, result.step) == ("hotp", 51)
    assert list(desk.station.ledger.entries())[-1].type == "otp.resynced"
    for old in (HOTP.at(50), HOTP.at(51)):  # the codes resync accepted never come back
        refused(desk, "bob", old, "already used|older than one already used")
    refused(desk, "bob", HOTP.at(4), "does not match")  # nor anything it passed over
    refused(desk, "bob", HOTP.at(50), "older|already used|not consecutive", next_code=HOTP.at(51))
    assert check(desk, "bob", HOTP.at(52)).step == 52


def test_hotp_counter_stops_at_the_last_recordable_value_never_wrapping(desk):
    start = MAX_RECORDED_COUNTER - 2
    classic(desk, "erin", Seed("FT3", SECRET, "HOTP", period=None, counter=start), HOTP.at(start))
    assert check(desk, "erin", HOTP.at(MAX_RECORDED_COUNTER)).step == MAX_RECORDED_COUNTER
    refused(desk, "erin", HOTP.at(MAX_RECORDED_COUNTER + 1), "past the last value")
    refused(desk, "erin", HOTP.at(0), "does not match")  # the counter never starts again


def issue_with_otp(desk, owner="frank"):
    key = desk.insert(SERIAL)
    result = issue_totp(
        desk.station, IssueRequest(SERIAL, owner, op("carol"), profile="yubikey-oath-totp-otp")
    )
    assert result.yubico_otp_public_id == modhex_encode(b"\xff\x00" + SERIAL.to_bytes(4, "big"))
    return key


def test_yubico_otp_from_the_key_counters_replay_lower_and_wrong_private_id(desk):
    key = issue_with_otp(desk)
    first, second = key.press_button(1), key.press_button(1)
    assert len(first) == 44
    result = check(desk, "frank", second.upper())  # upper case, as caps lock types it
    assert result.kind == "yubico-otp" and result.serial == SERIAL
    assert check(desk, None, key.press_button(1)).owner == "frank"  # the public id names the key
    entry = refused(desk, "frank", first, "older than one already used")
    assert entry.body["reason"] == "older code" and entry.body["kind"] == "yubico-otp"
    refused(desk, "frank", second, "already used")
    with pytest.raises(InputError, match="malformed|not a Yubico OTP|44"):
        check(desk, "frank", first[:-2], kind="yubico-otp")  # wrong length: malformed, not wrong
    refused(desk, "alice", key.press_button(1), "not alice's")
    # The slot reprogrammed with the same public id and AES key but another private id.
    session = YubiOtpSession(VirtualConnection(key))
    aes_key, public_id = None, b"\xff\x00" + SERIAL.to_bytes(4, "big")
    secret = desk.station.secret(
        desk.station.ledger.db.execute(
            "SELECT vault_record FROM credentials WHERE oath_type = 'YUBICO_OTP'"
        ).fetchone()[0]
    )
    import json

    aes_key = bytes.fromhex(json.loads(secret)["aes_key"])
    session.delete_slot(SLOT.ONE)
    session.put_configuration(SLOT.ONE, YubiOtpSlotConfiguration(public_id, b"other!", aes_key))
    entry = refused(desk, "frank", key.press_button(1), "another private id")
    assert entry.body["reason"] == "wrong private id"
    assert modhex_decode(first)[:6] == public_id


def test_recovery_codes_single_use_rotation_and_age(desk):
    from station.access.recovery import issue_recovery_codes, rotation_due

    issued = issue_recovery_codes(desk.station, "alice", operator=op("carol"))
    assert len(issued.codes) == 10 and len(set(issued.codes)) == 10
    raw = (desk.station.data_dir / "station.db").read_bytes()
    assert not any(c.encode() in raw or c.replace("-", "").encode() in raw for c in issued.codes)
    result = check(desk, "alice", issued.codes[3].lower())
    assert result.kind == "recovery" and "9 left" in result.message
    refused(desk, "alice", issued.codes[3], "already used")
    with pytest.raises(InputError, match="typing error"):
        check(desk, "alice", issued.codes[4][:-1] + ("0" if issued.codes[4][-1] != "0" else "1"))
    again = issue_recovery_codes(desk.station, "alice", operator=op("carol"), reason="envelope opened")
    refused(desk, "alice", issued.codes[5], "neither a temporary access code nor a recovery code")
    desk.clock.advance(days=366)
    assert [r["owner"] for r in rotation_due(desk.station)] == ["alice"]
    refused(desk, "alice", again.codes[0], "older than 12 months")
    types = [e.type for e in desk.station.ledger.entries() if e.type.startswith("recovery.")]
    assert types == ["recovery.issued", "recovery.used", "recovery.revoked", "recovery.issued"]


def test_temporary_access_expires_at_end_of_shift_and_is_revoked_when_a_token_is_bound(desk):
    from station.access.temporary import grant_temporary_access

    grant = grant_temporary_access(
        desk.station, "gina", operator=op("sam"), approver=approval("carol"), reason="token at home"
    )
    assert grant.expires_at == "2026-12-03T14:00:00Z"  # the shift ends at 14:00 (policy default)
    assert check(desk, "gina", grant.code).kind == "temporary"
    assert check(desk, "gina", grant.code).kind == "temporary"  # usable for its period
    once = grant_temporary_access(
        desk.station, "gina", operator=op("sam"), approver=approval("carol"), reason="second", single_use=True
    )
    check(desk, "gina", once.code)
    refused(desk, "gina", once.code, "already used")
    desk.insert(SERIAL)
    issue_totp(desk.station, IssueRequest(SERIAL, "gina", op("carol")))
    refused(desk, "gina", grant.code, "revoked")
    revoked = [e.body for e in desk.station.ledger.entries() if e.type == "temporary.revoked"]
    assert [b["reason"] for b in revoked] == ["new token bound", "new token bound"]
    late = grant_temporary_access(
        desk.station,
        "hugo",
        operator=op("sam"),
        approver=approval("carol"),
        reason="x",
        expires_at=desk.clock() + timedelta(minutes=5),
    )
    desk.clock.advance(minutes=6)
    refused(desk, "hugo", late.code, "expired")
    with pytest.raises(InputError, match="at most 12 hours"):
        grant_temporary_access(
            desk.station,
            "hugo",
            operator=op("sam"),
            approver=approval("carol"),
            reason="x",
            expires_at=desk.clock() + timedelta(hours=13),
        )


def test_malformed_codes_are_said_to_be_malformed_and_are_not_recorded(desk):
    op("dave")
    before = desk.station.ledger.size()
    for bad in ("12a45", "1234567890", "!!!!", "vvvv", "ABCD-EFGH"):
        with pytest.raises(InputError, match="malformed"):
            check(desk, "alice", bad)
    assert desk.station.ledger.size() == before
