"""The virtual key as a card: APDU parsing, applet routing, Management, state file, pulls."""

from __future__ import annotations

import json
import stat

import pytest
from yubikit.core import TRANSPORT
from yubikit.core.smartcard import SW, ApduError
from yubikit.management import CAPABILITY, FORM_FACTOR, ManagementSession
from yubikit.oath import HASH_ALGORITHM, OATH_TYPE, CredentialData, OathSession
from yubikit.support import read_info

from drivers.emulator import KeyPulled, StateError, VirtualConnection, VirtualYubiKey
from drivers.emulator.apdu import ApduError as CardApduError
from drivers.emulator.apdu import parse_apdu
from drivers.emulator.card import USB_ATR, contactless_atr
from drivers.emulator.management import TAG_MORE_DATA

SEED = b"12345678901234567890"


def cred(name: str) -> CredentialData:
    return CredentialData(name, OATH_TYPE.TOTP, HASH_ALGORITHM.SHA1, SEED)


# -- APDU parsing ----------------------------------------------------------------------------


def test_parse_short_and_extended_cases():
    assert parse_apdu(bytes.fromhex("00a10000")).data == b""
    c2 = parse_apdu(bytes.fromhex("00a1000000"))
    assert c2.ne == 256 and not c2.extended
    c3 = parse_apdu(bytes.fromhex("00a4040003a0b0c0"))
    assert c3.data == bytes.fromhex("a0b0c0") and c3.ne == 0
    c4 = parse_apdu(bytes.fromhex("00a4040003a0b0c010"))
    assert c4.ne == 0x10
    e3 = parse_apdu(bytes.fromhex("00010000000003010203"))
    assert e3.extended and e3.data == bytes.fromhex("010203")
    e4 = parse_apdu(bytes.fromhex("00010000000003010203") + b"\x01\x00")
    assert e4.ne == 256 and e4.data == bytes.fromhex("010203")
    e2 = parse_apdu(bytes.fromhex("00a1000000") + b"\x00\x00")
    assert e2.extended and e2.ne == 65536


@pytest.mark.parametrize("raw", ["00a1", "00a4040005a0b0", "0001000000000501"])
def test_bad_lengths_are_wrong_length(raw):
    with pytest.raises(CardApduError) as err:
        parse_apdu(bytes.fromhex(raw))
    assert err.value.sw == 0x6700


def test_routing_status_words():
    key = VirtualYubiKey.open(2000001)
    conn = VirtualConnection(key)
    assert conn.send_and_receive(bytes.fromhex("00a4040005a000000308"))[1] == SW.FILE_NOT_FOUND
    conn.send_and_receive(bytes.fromhex("00a4040007a0000005272101"))
    assert conn.send_and_receive(bytes.fromhex("00ee0000"))[1] == SW.INVALID_INSTRUCTION
    assert conn.send_and_receive(bytes.fromhex("00a1"))[1] == SW.WRONG_LENGTH


# -- ATR and Management ------------------------------------------------------------------------


def test_atrs_tell_ykman_the_transport():
    atr = contactless_atr()
    assert atr[:4] == bytes.fromhex("3b8d8001") and atr[1] & 0xF0 != 0xF0
    tck = 0
    for b in atr[1:]:
        tck ^= b
    assert tck == 0  # TCK makes the XOR of T0..TCK zero
    assert USB_ATR[1] & 0xF0 == 0xF0


@pytest.mark.parametrize("transport", ["nfc", "usb"])
def test_device_info_as_ykman_reads_it(transport):
    key = VirtualYubiKey.open(2000002, "5.4.3", transport=transport)
    conn = VirtualConnection(key)
    if transport == "nfc":
        info = read_info(conn)
    else:
        info = ManagementSession(conn).read_device_info()
    assert info.serial == 2000002
    assert info.version == (5, 4, 3)
    assert info.form_factor == FORM_FACTOR.USB_A_KEYCHAIN
    assert CAPABILITY.OATH in info.supported_capabilities[TRANSPORT.NFC]
    assert CAPABILITY.HSMAUTH in info.config.enabled_capabilities[TRANSPORT.USB]
    assert not info.is_locked


def test_newer_firmware_pages_device_info():
    key = VirtualYubiKey.open(2000003, "5.7.1")
    pages = key._applets[bytes.fromhex("a000000527471117")].pages()
    assert len(pages) == 2 and bytes([TAG_MORE_DATA, 1, 1]) in pages[0]
    info = ManagementSession(VirtualConnection(key)).read_device_info()
    assert info.serial == 2000003 and info.version == (5, 7, 1)
    assert info.fips_capable == 0 and not info.pin_complexity


def test_write_config_empty_is_accepted():
    # WRITE CONFIG is emulated (tests/unit/test_emulator_management.py); an empty config changes nothing.
    key = VirtualYubiKey.open(2000004)
    conn = VirtualConnection(key)
    conn.send_and_receive(bytes.fromhex("00a4040008a000000527471117"))
    assert conn.send_and_receive(bytes.fromhex("001c000001" + "00"))[1] == SW.OK


# -- state file --------------------------------------------------------------------------------


def test_state_survives_restart(tmp_path):
    path = tmp_path / "key.json"
    key = VirtualYubiKey.open(2000005, state_path=path)
    s = OathSession(VirtualConnection(key))
    s.put_credential(cred("kept"))
    device_id = s.device_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    again = VirtualYubiKey.open(2000005, state_path=path)
    s2 = OathSession(VirtualConnection(again))
    assert [c.name for c in s2.list_credentials()] == ["kept"]
    assert s2.device_id == device_id  # same salt


def test_hotp_counter_persists(tmp_path):
    path = tmp_path / "key.json"
    s = OathSession(VirtualConnection(VirtualYubiKey.open(2000006, state_path=path)))
    c = s.put_credential(CredentialData("h", OATH_TYPE.HOTP, HASH_ALGORITHM.SHA1, SEED))
    s.calculate_code(c)
    s.calculate_code(c)
    assert json.loads(path.read_text())["oath"]["credentials"][0]["counter"] == 2


def test_state_of_another_serial_is_refused(tmp_path):
    path = tmp_path / "key.json"
    VirtualYubiKey.open(2000007, state_path=path)
    with pytest.raises(StateError, match="serial 2000007"):
        VirtualYubiKey.open(2000008, state_path=path)


# -- pulling the key mid-command ---------------------------------------------------------------


def test_pull_on_put_leaves_state_unchanged(tmp_path):
    path = tmp_path / "key.json"
    key = VirtualYubiKey.open(2000009, state_path=path)
    s = OathSession(VirtualConnection(key))
    s.put_credential(cred("before"))
    saved = path.read_bytes()

    key.pull_on(0x01)
    with pytest.raises(KeyPulled):
        s.put_credential(cred("lost"))
    assert path.read_bytes() == saved
    with pytest.raises(KeyPulled):  # stays removed
        s.list_credentials()

    key.pull_on(None)
    key.reinsert()
    s = OathSession(VirtualConnection(key))
    assert [c.name for c in s.list_credentials()] == ["before"]
    reloaded = VirtualYubiKey.open(2000009, state_path=path)
    assert [c.name for c in reloaded.state.oath.credentials] == [b"before"]


def test_pull_never_triggers_on_select():
    key = VirtualYubiKey.open(2000010, pull_on_ins=[0xA4])
    s = OathSession(VirtualConnection(key))  # SELECT (INS A4) goes through
    with pytest.raises(KeyPulled):
        s.calculate_all(59)  # CALCULATE ALL (also INS A4) pulls


def test_errors_keep_yubikit_semantics():
    s = OathSession(VirtualConnection(VirtualYubiKey.open(2000011)))
    with pytest.raises(ApduError):
        s.delete_credential(b"missing")


def test_extended_apdu_gets_the_whole_answer_short_one_is_chained():
    """Over USB yubikit sends extended APDUs and the key answers in one piece; short ones get 61xx."""
    from yubikit.oath import HASH_ALGORITHM, OATH_TYPE, CredentialData, OathSession

    key = VirtualYubiKey.open(1234, "5.4.3", transport="usb")
    conn = VirtualConnection(key)
    oath = OathSession(conn)
    for n in range(32):
        name = f"{n:02d}" + "x" * 60
        oath.put_credential(CredentialData(name, OATH_TYPE.TOTP, HASH_ALGORITHM.SHA1, b"k" * 20))
    select = bytes.fromhex("00a4040007a0000005272101")
    conn.send_and_receive(select)
    data, sw = conn.send_and_receive(bytes.fromhex("00a10000000000"))  # LIST, extended Le 0000
    assert sw == 0x9000 and len(data) == 32 * (2 + 1 + 62)
    data, sw = conn.send_and_receive(bytes.fromhex("00a1000000"))  # LIST, short Le 00
    assert sw == 0x61FF and len(data) == 0xFF
    assert len(oath.list_credentials()) == 32  # yubikit over USB (extended) reads them all


@pytest.mark.parametrize(("model", "firmware", "capacity"), [("yubikey-5-nfc", "5.7.1", 64),
                                                            ("yubikey-4", "4.2.6", 32),
                                                            ("security-key-nfc", "5.4.3", 0)])
def test_a_full_key_on_demand(tmp_path, model, firmware, capacity):
    from yubikit.core.smartcard import SW, ApduError
    from yubikit.oath import HASH_ALGORITHM, OATH_TYPE, CredentialData, OathSession

    path = tmp_path / "key.json"
    key = VirtualYubiKey.open(4321, firmware, model, state_path=path, transport="usb")
    assert key.fill_oath() == capacity and key.fill_oath() == 0
    again = VirtualYubiKey.open(4321, firmware, model, state_path=path, transport="usb")  # kept in the file
    assert len(again.state.oath.credentials) == capacity
    if capacity:
        oath = OathSession(VirtualConnection(again))
        with pytest.raises(ApduError) as full:
            oath.put_credential(CredentialData("one-more", OATH_TYPE.TOTP, HASH_ALGORITHM.SHA1, b"k" * 20))
        assert full.value.sw == SW.NO_SPACE
