"""Issuing YubiKeys per recipe, in-process: the virtual key on a virtual bus, the real station code.

Stock intake by insertion, the auto-receive of a key issued straight from its box, the operator and
owner checks, and a key pulled mid-write that leaves the token 'issuing' until reconcile settles it.
"""

import base64
import hashlib

import pyotp
import pytest
from desk_fixtures import op
from yubikit.oath import OathSession

from drivers.emulator import VirtualConnection
from station.errors import DeviceError, InputError
from station.inventory.common import find_token
from station.inventory.intake import receive_inserted
from station.inventory.roles import NotPermitted
from station.issue import IssueRequest, issue_totp
from station.operators.sessions import NotSignedIn, Session
from station.operators.signin import SignInFailed
from station.projection import rebuild, snapshot
from station.reconcile import reconcile
from station.verify import verify_totp

SERIAL = 20000001


def test_receive_by_insertion_reads_serial_model_and_firmware(desk):
    desk.insert(SERIAL)
    desk.insert(SERIAL + 1, firmware="5.7.1", model="yubikey-5c-nfc")
    report = receive_inserted(desk.station, operator=op("carol"))
    assert report.received == (str(SERIAL), str(SERIAL + 1))
    token = find_token(desk.station.ledger.db, str(SERIAL + 1))
    assert (token["status"], token["model"], token["firmware"], token["custodian"], token["site"]) == (
        "in_stock",
        "YubiKey 5C NFC",
        "5.7.1",
        "carol",
        "branch-07",
    )
    again = receive_inserted(desk.station, operator=op("carol"))
    assert again.received == () and again.already_known == (str(SERIAL), str(SERIAL + 1))


def test_issue_programs_the_key_and_the_code_verifies(desk):
    key = desk.insert(SERIAL)
    result = issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol")))
    assert result.credential_id == "Token Station:alice"
    # The key itself computes the code; the station checks it against the sealed seed.
    oath = OathSession(VirtualConnection(key))
    cred = next(c for c in oath.list_credentials() if c.id == b"Token Station:alice")
    code = oath.calculate_code(cred, int(desk.clock().timestamp())).value
    assert verify_totp(desk.station, "alice", code, operator=op("carol")).serial == SERIAL
    token = find_token(desk.station.ledger.db, str(SERIAL))
    assert (token["status"], token["owner"], token["profile"]) == ("issued", "alice", "yubikey-oath-totp")
    # Straight from its box: received in the same transaction as the intent.
    assert desk.types()[-4:] == ["token.received", "token.issue.started", "token.issued", "otp.accepted"]


def test_recipe_with_touch_and_sha256(desk):
    key = desk.insert(SERIAL)
    issue_totp(desk.station, IssueRequest(SERIAL, "bob", op("carol"), profile="yubikey-oath-totp-touch"))
    codes = OathSession(VirtualConnection(key)).calculate_all(int(desk.clock().timestamp()))
    [(cred, code)] = codes.items()
    assert cred.id == b"Token Station:bob" and cred.touch_required and code is None  # touch first
    row = desk.station.ledger.db.execute("SELECT algorithm FROM credentials").fetchone()
    assert row[0] == "SHA256"


def test_operator_and_owner_checks_come_before_the_key(desk):
    desk.insert(SERIAL)
    with pytest.raises(SignInFailed):
        op("mallory")  # not enrolled: cannot sign in
    op("audrey"), op("carol")
    before = desk.types()
    forged = Session("0000000000000000", "carol", desk.clock())  # a session value nobody signed in for
    with pytest.raises(NotSignedIn, match="not signed in"):
        issue_totp(desk.station, IssueRequest(SERIAL, "alice", forged))
    with pytest.raises(NotPermitted, match="may not issue: that needs the custodian or supervisor role"):
        issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("audrey")))
    with pytest.raises(InputError, match="to themselves"):
        issue_totp(desk.station, IssueRequest(SERIAL, "carol", op("carol")))
    with pytest.raises(InputError, match="Unknown|no provisioning recipe"):
        issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol"), profile="nope"))
    assert desk.types() == before
    issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol")))
    with pytest.raises(InputError, match="already issued to alice"):
        issue_totp(desk.station, IssueRequest(SERIAL, "bob", op("carol")))


def test_security_key_without_oath_is_refused_before_anything_is_recorded(desk):
    desk.insert(SERIAL, model="security-key-nfc-ee", firmware="5.4.3")
    op("carol")
    before = desk.types()
    with pytest.raises(DeviceError, match="has no OATH application"):
        issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol")))
    assert desk.types() == before


def test_key_pulled_mid_write_is_issuing_until_reconciled(desk):
    key = desk.insert(SERIAL)
    key.pull_on(0x01)  # the OATH PUT never reaches the key
    with pytest.raises(DeviceError, match="removed while the credential was being written"):
        issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol")))
    db = desk.station.ledger.db
    assert find_token(db, str(SERIAL))["status"] == "issuing"
    assert reconcile(desk.station, operator=op("carol"))[0].endswith("insert that key to settle it")
    desk.bus.remove(key)
    key.pull_on(None)
    desk.bus.insert(key)
    assert "recorded as failed" in reconcile(desk.station, operator=op("carol"))[0]
    assert find_token(db, str(SERIAL))["status"] == "in_stock"
    issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol")))
    assert find_token(db, str(SERIAL))["status"] == "issued"
    live = snapshot(db)
    rebuild(db, list(desk.station.ledger.entries()))
    assert snapshot(db) == live


def test_seed_sealed_never_in_the_ledger(desk):
    desk.insert(SERIAL)
    issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol")))
    record = desk.station.ledger.db.execute("SELECT vault_record FROM credentials").fetchone()[0]
    seed = desk.station.secret(record)
    raw = b"".join(e.raw for e in desk.station.ledger.entries())
    for form in (seed, seed.hex().encode(), base64.b32encode(seed), base64.b64encode(seed)):
        assert form not in raw
    assert pyotp.TOTP(base64.b32encode(seed).decode(), digest=hashlib.sha1).now()  # a usable seed
