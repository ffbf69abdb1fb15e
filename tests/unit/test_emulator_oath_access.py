"""OATH access key (password), RENAME by firmware, touch and SHA-512 gating, via yubikit in-process."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import threading

import pytest
from yubikit.core import NotSupportedError
from yubikit.core.smartcard import SW, ApduError
from yubikit.oath import HASH_ALGORITHM, OATH_TYPE, CredentialData, OathSession

from drivers.emulator import VirtualConnection, VirtualYubiKey
from drivers.emulator.state import KeyState
from drivers.emulator.touch import TouchSensor

SEED = b"12345678901234567890"
OATH_SELECT = bytes.fromhex("00a4040007a0000005272101")
# RFC 4226 appendix D, counters 0 and 1.
HOTP_0, HOTP_1 = "755224", "287082"


def session(key: VirtualYubiKey) -> OathSession:
    """A fresh OathSession: a new SELECT, as every ykman invocation does."""
    return OathSession(VirtualConnection(key))


def totp(name: str) -> CredentialData:
    return CredentialData(name, OATH_TYPE.TOTP, HASH_ALGORITHM.SHA1, SEED)


def hotp(name: str) -> CredentialData:
    return CredentialData(name, OATH_TYPE.HOTP, HASH_ALGORITHM.SHA1, SEED)


def raw(key: VirtualYubiKey, apdu_hex: str) -> tuple[bytes, int]:
    conn = VirtualConnection(key)
    conn.send_and_receive(OATH_SELECT)
    return conn.send_and_receive(bytes.fromhex(apdu_hex))


def sw_of(call) -> int:  # noqa: ANN001 - any zero-argument callable
    with pytest.raises(ApduError) as err:
        call()
    return err.value.sw


@pytest.fixture
def key() -> VirtualYubiKey:
    return VirtualYubiKey.open(2000001, "5.4.3")


@pytest.fixture
def protected(key: VirtualYubiKey) -> VirtualYubiKey:
    """A key with one TOTP credential and the password "hunter2"."""
    s = session(key)
    s.put_credential(totp("acme:alice"))
    s.set_key(s.derive_key("hunter2"))
    return key


# -- access key -------------------------------------------------------------------------------


def test_select_carries_challenge_and_algorithm_only_with_a_key(key):
    conn = VirtualConnection(key)
    data, sw = conn.send_and_receive(OATH_SELECT)
    assert sw == 0x9000 and len(data) == 2 + 3 + 2 + 8  # version and salt, no challenge
    s = session(key)
    s.set_key(s.derive_key("pw"))
    data, sw = conn.send_and_receive(OATH_SELECT)
    assert sw == 0x9000
    # version (79 03 ..), salt (71 08 ..), challenge (74 08 ..), algorithm (7B 01 01 = SHA-1)
    assert data[15:17] == b"\x74\x08" and data[25:] == b"\x7b\x01\x01"
    again, _ = conn.send_and_receive(OATH_SELECT)
    assert again[17:25] != data[17:25]  # a fresh challenge every SELECT


def test_locked_applet_refuses_everything_but_validate_and_reset(protected):
    s = session(protected)
    assert s.has_key and s.locked
    cred_id = b"acme:alice"
    for call in (
        s.list_credentials,
        lambda: s.calculate_all(59),
        lambda: s.calculate(cred_id, b"\0" * 8),
        lambda: s.put_credential(totp("bob")),
        lambda: s.delete_credential(cred_id),
        lambda: s.rename_credential(cred_id, "carol"),
        s.unset_key,
        lambda: s.set_key(b"k" * 16),
    ):
        assert sw_of(call) == SW.SECURITY_CONDITION_NOT_SATISFIED
    assert [c.name for c in protected.state.oath.credentials] == [cred_id]
    assert protected.state.oath.access_key is not None


def test_validate_unlocks_this_selection_only(protected):
    s = session(protected)
    s.validate(s.derive_key("hunter2"))  # yubikit also checks the key's answer to its challenge
    assert not s.locked
    assert [c.id for c in s.list_credentials()] == [b"acme:alice"]
    assert s.calculate_code(s.list_credentials()[0], 59).value == "287082"
    again = session(protected)  # re-SELECT: locked again
    assert again.locked
    assert sw_of(again.list_credentials) == SW.SECURITY_CONDITION_NOT_SATISFIED


def test_wrong_password_is_wrong_syntax_and_never_blocks(protected):
    s = session(protected)
    for _ in range(25):  # far beyond any PIN-style retry counter: YKOATH has none
        assert sw_of(lambda: s.validate(s.derive_key("wrong"))) == SW.INCORRECT_PARAMETERS
    s.validate(s.derive_key("hunter2"))
    assert len(s.list_credentials()) == 1


def test_validate_answers_the_hosts_challenge_with_the_access_key(protected):
    conn = VirtualConnection(protected)
    data, _ = conn.send_and_receive(OATH_SELECT)
    salt, challenge = data[7:15], data[17:25]
    access_key = hashlib.pbkdf2_hmac("sha1", b"hunter2", salt, 1000, 16)
    host_challenge = bytes(range(8))
    body = (b"\x75\x14" + hmac.new(access_key, challenge, "sha1").digest()
            + b"\x74\x08" + host_challenge)
    resp, sw = conn.send_and_receive(bytes([0, 0xA3, 0, 0, len(body)]) + body)
    assert sw == 0x9000
    assert resp == b"\x75\x14" + hmac.new(access_key, host_challenge, "sha1").digest()
    # The challenge is used up: the same VALIDATE again is refused.
    _, sw = conn.send_and_receive(bytes([0, 0xA3, 0, 0, len(body)]) + body)
    assert sw == 0x6A80


def test_validate_without_a_key_is_auth_not_enabled(key):
    body = "7514" + "00" * 20 + "7408" + "00" * 8
    _, sw = raw(key, f"00a30000{len(body) // 2:02x}{body}")
    assert sw == SW.DATA_INVALID


def test_set_code_with_a_mismatched_response_is_refused(key):
    body = "7311" + "21" + "aa" * 16 + "7408" + "01" * 8 + "7514" + "00" * 20
    _, sw = raw(key, f"00030000{len(body) // 2:02x}{body}")
    assert sw == SW.DATA_INVALID
    assert key.state.oath.access_key is None and not session(key).locked


def test_change_and_clear_the_password(protected):
    s = session(protected)
    s.validate(s.derive_key("hunter2"))
    s.set_key(s.derive_key("new one"))
    s = session(protected)
    assert sw_of(lambda: s.validate(s.derive_key("hunter2"))) == SW.INCORRECT_PARAMETERS
    s.validate(s.derive_key("new one"))
    s.unset_key()
    s = session(protected)
    assert not s.has_key and not s.locked
    assert len(s.list_credentials()) == 1


def test_reset_while_locked_clears_key_and_credentials(protected):
    s = session(protected)
    s.reset()
    assert not s.has_key and not s.locked and s.list_credentials() == []
    assert protected.state.oath.access_key is None
    assert not session(protected).locked


def test_the_password_survives_a_restart_and_old_state_files_load(tmp_path):
    path = tmp_path / "key.json"
    key = VirtualYubiKey.open(2000002, "5.4.3", state_path=path)
    s = session(key)
    s.set_key(s.derive_key("pw"))
    again = VirtualYubiKey.open(2000002, "5.4.3", state_path=path)
    s = session(again)
    assert s.locked
    s.validate(s.derive_key("pw"))
    # A state file from before access keys existed has no "access_key": it loads unlocked.
    data = json.loads(path.read_text())
    del data["oath"]["access_key"]
    assert KeyState.from_json(data).oath.access_key is None


# -- RENAME by firmware ------------------------------------------------------------------------


def test_rename_refused_before_5_3_1():
    key = VirtualYubiKey.open(2000003, "5.2.7")
    s = session(key)
    s.put_credential(totp("old"))
    with pytest.raises(NotSupportedError):  # yubikit refuses on the host already
        s.rename_credential(b"old", "new")
    body = "7103" + b"old".hex() + "7103" + b"new".hex()
    _, sw = raw(key, f"00050000{len(body) // 2:02x}{body}")
    assert sw == SW.INVALID_INSTRUCTION
    assert [c.name for c in key.state.oath.credentials] == [b"old"]


def test_rename_to_a_name_in_use_is_refused(key):
    s = session(key)
    s.put_credential(totp("a"))
    s.put_credential(totp("b"))
    assert sw_of(lambda: s.rename_credential(b"a", "b")) == SW.INCORRECT_PARAMETERS


# -- touch -------------------------------------------------------------------------------------


def touch_key(policy: str, timeout: float = 15.0) -> VirtualYubiKey:
    return VirtualYubiKey.open(2000004, "5.4.3", touch=TouchSensor(policy, timeout))


def test_touch_auto_grants_at_once():
    key = touch_key("auto")
    s = session(key)
    cred = s.put_credential(hotp("touchy"), touch_required=True)
    assert s.calculate_code(cred).value == HOTP_0
    assert key.touch_sensor.requests == 1


def test_touch_never_times_out_with_6982_and_moves_no_counter():
    key = touch_key("never", timeout=0.05)
    s = session(key)
    cred = s.put_credential(hotp("touchy"), touch_required=True)
    assert sw_of(lambda: s.calculate_code(cred)) == SW.SECURITY_CONDITION_NOT_SATISFIED
    assert key.state.oath.find(b"touchy").counter == 0
    key.touch()  # nobody is listening: a "never" key ignores the finger too
    assert sw_of(lambda: s.calculate_code(cred)) == SW.SECURITY_CONDITION_NOT_SATISFIED


def test_touch_wait_takes_a_press_while_waiting():
    key = touch_key("wait", timeout=10)
    s = session(key)
    cred = s.put_credential(hotp("touchy"), touch_required=True)
    plain = s.put_credential(hotp("plain"))
    assert s.calculate_code(plain).value == HOTP_0  # no touch needed, none asked for
    assert key.touch_sensor.requests == 0

    def finger() -> None:
        assert key.touch_sensor.waiting.wait(10)
        key.touch()

    t = threading.Thread(target=finger)
    t.start()
    assert s.calculate_code(cred).value == HOTP_0
    t.join()
    assert key.state.oath.find(b"touchy").counter == 1


def test_touch_before_the_key_asks_does_not_count():
    key = touch_key("wait", timeout=0.05)
    s = session(key)
    cred = s.put_credential(totp("touchy"), touch_required=True)
    key.touch()
    assert sw_of(lambda: s.calculate_code(cred, 59)) == SW.SECURITY_CONDITION_NOT_SATISFIED


def test_calculate_all_never_waits_for_touch():
    key = touch_key("never", timeout=5)
    s = session(key)
    s.put_credential(totp("touchy"), touch_required=True)
    (cred, code), = s.calculate_all(59).items()
    assert cred.touch_required and code is None and key.touch_sensor.requests == 0


def test_touch_sensor_rejects_bad_settings():
    with pytest.raises(ValueError):
        TouchSensor("sometimes")
    with pytest.raises(ValueError):
        TouchSensor("wait", -1)


# -- SHA-512 by firmware -----------------------------------------------------------------------


def test_sha512_refused_where_the_profile_lacks_it():
    base = VirtualYubiKey.open(2000005, "5.4.3")
    profile = dataclasses.replace(base.profile, oath_sha512=False)
    key = VirtualYubiKey(KeyState(2000005, base.state.model, base.state.firmware), profile)
    s = session(key)
    data = CredentialData("big", OATH_TYPE.TOTP, HASH_ALGORITHM.SHA512, SEED * 3)
    assert sw_of(lambda: s.put_credential(data)) == SW.INCORRECT_PARAMETERS
    s.put_credential(CredentialData("ok", OATH_TYPE.TOTP, HASH_ALGORITHM.SHA256, SEED))
    assert [c.name for c in key.state.oath.credentials] == [b"ok"]
