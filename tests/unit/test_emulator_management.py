"""The Management applet through yubikit's ManagementSession: device info pages and WRITE CONFIG."""

from __future__ import annotations

import json

import pytest
from yubikit.core import TRANSPORT
from yubikit.core.smartcard import SW, ApduError, ApplicationNotAvailableError
from yubikit.management import CAPABILITY, DEVICE_FLAG, DeviceConfig, ManagementSession
from yubikit.oath import OathSession

from drivers.emulator import KeyPulled, VirtualConnection, VirtualYubiKey
from drivers.emulator.apdu import parse_tlvs
from drivers.emulator.management import PAGE_MAX, TAG_MORE_DATA

LOCK = bytes.fromhex("00112233445566778899aabbccddeeff")
ALL = CAPABILITY.OTP | CAPABILITY.U2F | CAPABILITY.OPENPGP | CAPABILITY.PIV | CAPABILITY.OATH
ALL |= CAPABILITY.HSMAUTH | CAPABILITY.FIDO2
# What a YubiKey 5 reports: the applications plus bit 04, the CCID interface (a real 5.4.3 reports
# 033F, yubikey-manager issue #685; see test_emulator_device_info.py).
REPORTED = ALL | 0x04


def session(key: VirtualYubiKey) -> ManagementSession:
    return ManagementSession(VirtualConnection(key))  # a new connection powers the key up


@pytest.mark.parametrize("firmware", ["5.4.3", "5.7.1"])
def test_device_info_pages_fit_a_short_apdu(firmware):
    key = VirtualYubiKey.open(3000001, firmware=firmware)
    pages = key.management.pages()
    assert all(len(p) <= PAGE_MAX for p in pages)
    for page in pages[:-1]:  # every page but the last says "more", as yubikit's read loop expects
        assert parse_tlvs(page)[-1] == (TAG_MORE_DATA, b"\x01")
    assert TAG_MORE_DATA not in dict(parse_tlvs(pages[-1]))
    assert len(pages) == (2 if firmware == "5.7.1" else 1)
    info = session(key).read_device_info()
    assert info.serial == 3000001 and info.supported_capabilities[TRANSPORT.USB] == REPORTED
    assert info.config.enabled_capabilities[TRANSPORT.NFC] == REPORTED and not info.is_locked


def test_disable_oath_over_usb_takes_effect_at_power_up(tmp_path):
    path = tmp_path / "key.json"
    key = VirtualYubiKey.open(3000002, state_path=path, transport="usb")
    conn = VirtualConnection(key)
    m = ManagementSession(conn)
    m.write_device_config(DeviceConfig({TRANSPORT.USB: ALL & ~CAPABILITY.OATH}))
    info = m.read_device_info()  # the key reports the stored config at once
    assert CAPABILITY.OATH not in info.config.enabled_capabilities[TRANSPORT.USB]
    assert CAPABILITY.OATH in info.config.enabled_capabilities[TRANSPORT.NFC]
    OathSession(conn)  # ...but OATH still answers until the next power-up
    with pytest.raises(ApplicationNotAvailableError):
        OathSession(VirtualConnection(key))
    # Persisted: the key comes back from its file with OATH disabled over USB.
    again = VirtualYubiKey.open(3000002, state_path=path, transport="usb")
    with pytest.raises(ApplicationNotAvailableError):
        OathSession(VirtualConnection(again))
    # Over NFC the USB setting does not matter.
    nfc = VirtualYubiKey.open(3000002, state_path=path, transport="nfc")
    OathSession(VirtualConnection(nfc))
    session(again).write_device_config(DeviceConfig({TRANSPORT.USB: ALL}))
    OathSession(VirtualConnection(again))


def test_disable_over_nfc_and_select_answers_6a82():
    key = VirtualYubiKey.open(3000003)
    session(key).write_device_config(DeviceConfig({TRANSPORT.NFC: CAPABILITY.FIDO2}))
    conn = VirtualConnection(key)
    assert conn.send_and_receive(bytes.fromhex("00a4040007a0000005272101"))[1] == SW.FILE_NOT_FOUND
    info = ManagementSession(conn).read_device_info()  # Management is never switched off
    assert info.config.enabled_capabilities[TRANSPORT.NFC] == CAPABILITY.FIDO2
    session(key).write_device_config(DeviceConfig({TRANSPORT.NFC: 0}))  # all off over NFC is allowed
    assert session(key).read_device_info().config.enabled_capabilities[TRANSPORT.NFC] == 0


def test_reboot_drops_the_key_and_applies_the_config():
    key = VirtualYubiKey.open(3000004, transport="usb")
    conn = VirtualConnection(key)
    ManagementSession(conn).write_device_config(
        DeviceConfig({TRANSPORT.USB: CAPABILITY.OATH | CAPABILITY.PIV}), reboot=True
    )
    with pytest.raises(KeyPulled):
        conn.send_and_receive(bytes.fromhex("00a4040007a0000005272101"))
    key.reinsert()
    OathSession(conn)
    assert conn.send_and_receive(bytes.fromhex("00a4040007a0000005272001"))[1] == SW.FILE_NOT_FOUND


def test_timeouts_and_flags():
    key = VirtualYubiKey.open(3000005)
    cfg = DeviceConfig({}, auto_eject_timeout=300, challenge_response_timeout=30)
    cfg.device_flags = DEVICE_FLAG.EJECT
    session(key).write_device_config(cfg)
    info = session(key).read_device_info()
    assert info.config.auto_eject_timeout == 300 and info.config.challenge_response_timeout == 30
    assert info.config.device_flags == DEVICE_FLAG.EJECT


def test_lock_code_set_required_cleared(tmp_path):
    path = tmp_path / "key.json"
    key = VirtualYubiKey.open(3000006, state_path=path)
    session(key).write_device_config(new_lock_code=LOCK)
    assert session(key).read_device_info().is_locked
    no_oath = DeviceConfig({TRANSPORT.NFC: ALL & ~CAPABILITY.OATH})
    for wrong in (None, bytes(16), LOCK[::-1]):
        with pytest.raises(ApduError) as exc:
            session(key).write_device_config(no_oath, cur_lock_code=wrong)
        assert exc.value.sw == SW.SECURITY_CONDITION_NOT_SATISFIED
    assert session(key).read_device_info().config.enabled_capabilities[TRANSPORT.NFC] == REPORTED
    session(key).write_device_config(no_oath, cur_lock_code=LOCK)
    assert json.loads(path.read_text())["mgmt"]["lock_code"] == LOCK.hex()
    # Sixteen zero bytes clear the lock (ykman's `config set-lock-code --clear`).
    session(key).write_device_config(cur_lock_code=LOCK, new_lock_code=bytes(16))
    info = session(key).read_device_info()
    assert not info.is_locked
    assert CAPABILITY.OATH not in info.config.enabled_capabilities[TRANSPORT.NFC]


@pytest.mark.parametrize(
    "config",
    [
        DeviceConfig({TRANSPORT.USB: 0}),  # nothing left over USB
        DeviceConfig({TRANSPORT.USB: CAPABILITY.OATH | 0x4000}),  # not a capability of this key
    ],
)
def test_refused_configs_change_nothing(config):
    key = VirtualYubiKey.open(3000007)
    with pytest.raises(ApduError) as exc:
        session(key).write_device_config(config)
    assert exc.value.sw == SW.INCORRECT_PARAMETERS
    assert session(key).read_device_info().config.enabled_capabilities[TRANSPORT.USB] == REPORTED


def test_old_state_file_without_management_config_loads(tmp_path):
    path = tmp_path / "key.json"
    VirtualYubiKey.open(3000008, state_path=path)
    data = json.loads(path.read_text())
    del data["mgmt"]
    path.write_text(json.dumps(data))
    key = VirtualYubiKey.open(3000008, state_path=path)
    assert session(key).read_device_info().config.enabled_capabilities[TRANSPORT.USB] == REPORTED
