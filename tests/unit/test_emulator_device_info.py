"""The virtual key's device info, byte for byte against real YubiKeys.

`ykman --diagnose` prints the Management applet's READ CONFIG answer as "Raw Info"; people filing
yubikey-manager issues paste it. ykman 5.5 printed each page with its length byte, so the hex below is
exactly what the real key answered (page 0, then page 1 where there is one). The virtual key of the
same model, firmware, serial and configuration must answer the same bytes.
"""

from __future__ import annotations

import pytest
from yubikit.core import TRANSPORT, Tlv, Version
from yubikit.management import CAPABILITY, FORM_FACTOR, DeviceInfo

from drivers.emulator import VirtualYubiKey
from drivers.emulator.apdu import parse_tlvs

# (source, model, firmware, serial, usb_enabled, nfc_enabled, the real key's READ CONFIG page 0)
REAL_PAGE0 = [
    # Yubico/yubikey-manager#619: YubiKey 5 NFC 5.2.7, OTP disabled over NFC (NFC enabled 023E).
    ("#619", "yubikey-5-nfc", "5.2.7", 14227594, None, 0x023E,
     "2e0102023f0302023f020400d9188a04010105030502070602000007010f0801000d02023f0e02023e0a01000f0100"),
    # Yubico/yubikey-manager#500: YubiKey 5C Nano 5.2.7 (no NFC tags).
    ("#500", "yubikey-5c-nano", "5.2.7", 15955223, None, None,
     "260102023f0302023f020400f3751704010405030502070602000007010f0801000a01000f0100"),
    # Yubico/yubikey-manager#685: YubiKey 5C NFC 5.4.3 (YubiHSM Auth: 033F).
    ("#685", "yubikey-5c-nfc", "5.4.3", 0x01351BCE, None, None,
     "2e0102033f0302033f020401351bce04010305030504030602000007010f0801000d02033f0e02033f0a01000f0100"),
    # Yubico/yubikey-manager#625: YubiKey 5C NFC 5.7.1, page 0 (ends with "more data").
    ("#625", "yubikey-5c-nfc", "5.7.1", 0x01CA96F1, None, None,
     "3b0102033f0302033f020401ca96f104010305030507010602000007010f0801000d02033f0e02033f0a01000f0100"
     "20030000002103000000100101"),
    # Yubico/yubikey-manager#647: YubiKey 4 4.3.7 with U2F disabled (USB enabled 3D); one-byte fields,
    # no form factor, no version.
    ("#647", "yubikey-4", "4.3.7", 0x008AA35D, 0x3D, None, "0c0101ff0204008aa35d03013d"),
]


def page(key: VirtualYubiKey, number: int) -> bytes:
    return key.management._read_config(number)


@pytest.mark.parametrize(("source", "model", "firmware", "serial", "usb", "nfc", "real"), REAL_PAGE0,
                         ids=[row[0] for row in REAL_PAGE0])
def test_page_0_is_what_the_real_key_answered(source, model, firmware, serial, usb, nfc, real):
    key = VirtualYubiKey.open(serial, firmware=firmware, model=model)
    key.state.mgmt.usb_enabled = usb
    key.state.mgmt.nfc_enabled = nfc
    assert page(key, 0).hex() == real


def test_page_1_of_5_7_has_the_real_tags_but_the_part_number():
    # #625's page 1 starts "25 1104 00000000 120100 130c 3738434c5546583530..." and is 0x25 bytes long:
    # free form, HID init delay, a 12-byte part number, then 14 bytes that only FIPS capable (2 bytes),
    # FIPS approved (2), PIN complexity (1) and NFC restricted (1) fill. The virtual key has no part number.
    key = VirtualYubiKey.open(0x01CA96F1, firmware="5.7.1", model="yubikey-5c-nfc")
    body = page(key, 1)
    assert body[0] == len(body) - 1 == 0x25 - (2 + 12)
    tlvs = parse_tlvs(body[1:])
    assert [tag for tag, _ in tlvs] == [0x11, 0x12, 0x14, 0x15, 0x16, 0x17]
    assert tlvs[:2] == [(0x11, bytes(4)), (0x12, b"\x00")]
    assert [len(value) for _, value in tlvs[2:]] == [2, 2, 1, 1]
    assert page(key, 2) == b"\x00"  # nothing after the last page


def test_yubikey_4_reads_as_ykman_shows_a_real_one():
    """yubikit's view of the YubiKey 4 dump: no form factor (no "Form factor" line in `ykman info`),
    the version from SELECT, USB enabled ignored ("broken on YK4"), the same applications."""
    key = VirtualYubiKey.open(0x008AA35D, firmware="4.3.7", model="yubikey-4")
    real = DeviceInfo.parse_tlvs(Tlv.parse_dict(bytes.fromhex("0101ff0204008aa35d03013d")), Version(4, 3, 7))
    ours = DeviceInfo.parse_tlvs(Tlv.parse_dict(page(key, 0)[1:]), Version(4, 3, 7))
    assert ours == real
    assert ours.form_factor == FORM_FACTOR.UNKNOWN and TRANSPORT.USB not in ours.config.enabled_capabilities
    apps = CAPABILITY.OTP | CAPABILITY.U2F | CAPABILITY.OPENPGP | CAPABILITY.PIV | CAPABILITY.OATH
    assert ours.supported_capabilities[TRANSPORT.USB] & ~0xC4 == apps


def test_a_plain_security_key_has_no_ccid_bit_and_no_serial():
    key = VirtualYubiKey.open(1, firmware="5.4.3", model="security-key-nfc")
    tlvs = dict(parse_tlvs(page(key, 0)[1:]))
    assert 0x02 not in tlvs
    assert tlvs[0x01] == tlvs[0x0D] == (CAPABILITY.U2F | CAPABILITY.FIDO2).to_bytes(2, "big")
    assert tlvs[0x04] == b"\x41"  # USB-A keychain with the Security Key bit


def test_fips_capable_uses_its_own_bit_order():
    """TAG_FIPS_CAPABLE (5.6+) numbers FIDO2, PIV, OpenPGP, OATH, YubiHSM Auth as bits 0-4; yubikit reads
    them back as the applications. (A 5.7 FIPS key, as the 5.4.3 FIPS profile would be on 5.7.)"""
    from dataclasses import replace

    import firmware_profiles
    from drivers.emulator.management import ManagementApplet
    from drivers.emulator.state import KeyState

    profile = replace(firmware_profiles.find("yubikey-5-nfc-fips", "5.4.3"), version=(5, 7, 1))
    applet = ManagementApplet(KeyState(serial=1, model=profile.model_id, firmware="5.7.1"), profile)
    tlvs = {}
    for number in range(len(applet.pages())):
        tlvs.update(Tlv.parse_dict(applet._read_config(number)[1:]))
    info = DeviceInfo.parse_tlvs(tlvs, Version(5, 7, 1))
    expected = CAPABILITY.FIDO2 | CAPABILITY.PIV | CAPABILITY.OPENPGP | CAPABILITY.OATH | CAPABILITY.HSMAUTH
    assert info.fips_capable == expected and info.is_fips
