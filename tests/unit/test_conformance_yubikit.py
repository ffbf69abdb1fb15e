"""Conformance in-process: yubikit's own sessions against one virtual key of every firmware profile.

The ykman CLI suite (tests/integration/test_conformance_ykman.py) goes through pcscd; this one drives the
same applets with yubikit's ManagementSession, OathSession and YubiOtpSession directly, on the transport
a real key of the model offers a PC/SC host (NFC when the model has it, else USB). Expected values are
standard test vectors (RFC 6238 appendix B, RFC 4226 appendix D, RFC 2202) and the model facts of the
profile; the version gates are yubikit's (yubikit/oath.py rename_credential: 5.3.1), and where yubikit
leaves a check to the key (SHA-512 before 4.3.1, a full applet) the key refuses with the YKOATH status
word and stores nothing.
"""

from __future__ import annotations

import pytest
from yubico_otp_decode import decode
from yubikit.core import TRANSPORT, NotSupportedError
from yubikit.core.smartcard import SW, ApduError, ApplicationNotAvailableError
from yubikit.management import CAPABILITY, FORM_FACTOR, ManagementSession
from yubikit.oath import HASH_ALGORITHM, OATH_TYPE, CredentialData, OathSession
from yubikit.support import get_name
from yubikit.yubiotp import (
    SLOT,
    HmacSha1SlotConfiguration,
    StaticPasswordSlotConfiguration,
    YubiOtpSession,
    YubiOtpSlotConfiguration,
)

import firmware_profiles
from drivers.emulator import VirtualConnection, VirtualYubiKey
from firmware_profiles import FirmwareProfile

PROFILES = firmware_profiles.load_all()
SERIAL = 9_100_001
RFC6238_SEED = b"12345678901234567890"
RFC6238_T59 = {  # RFC 6238 appendix B, T = 59 s, 8 digits, seeds of the hash's output length
    HASH_ALGORITHM.SHA1: (RFC6238_SEED, "94287082"),
    HASH_ALGORITHM.SHA256: ((RFC6238_SEED * 2)[:32], "46119246"),
    HASH_ALGORITHM.SHA512: ((RFC6238_SEED * 4)[:64], "90693936"),
}
RFC4226 = ["755224", "287082", "359152"]
RFC2202 = (bytes([0x0B] * 20), b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00")


def key_for(profile: FirmwareProfile) -> VirtualYubiKey:
    face = "nfc" if profile.nfc else "usb"
    return VirtualYubiKey.open(SERIAL, profile.version_text, profile.model_id, transport=face)


def ids(profile: FirmwareProfile) -> str:
    return f"{profile.model_id}-{profile.version_text}"


def caps(names: frozenset[str]) -> CAPABILITY:
    value = CAPABILITY(0)
    for name in names:
        value |= CAPABILITY[name]
    return value


@pytest.mark.parametrize("profile", PROFILES, ids=ids)
def test_management_session(profile):
    key = key_for(profile)
    conn = VirtualConnection(key)
    session = ManagementSession(conn)
    assert tuple(session.version) == profile.version
    info = session.read_device_info()
    apps = CAPABILITY(sum(CAPABILITY))  # the named applications, without interface bits
    assert info.supported_capabilities[TRANSPORT.USB] & apps == caps(profile.usb_capabilities)
    if profile.nfc:
        assert info.supported_capabilities[TRANSPORT.NFC] & apps == caps(profile.nfc_capabilities)
        assert info.config.enabled_capabilities[TRANSPORT.NFC] == info.supported_capabilities[TRANSPORT.NFC]
    else:
        assert TRANSPORT.NFC not in info.supported_capabilities
    assert info.serial == (SERIAL if profile.serial_visible else None)
    if profile.version >= (5, 0, 0):
        assert info.form_factor == FORM_FACTOR[profile.form_factor]
    else:
        assert info.form_factor == FORM_FACTOR.UNKNOWN  # a YubiKey 4 does not report one
    assert (info.is_fips, info.is_sky) == (profile.fips, profile.sky)
    assert get_name(info, None) == profile.model_name


@pytest.mark.parametrize("profile", PROFILES, ids=ids)
def test_oath_session(profile):
    key = key_for(profile)
    if not profile.has_oath:
        with pytest.raises(ApplicationNotAvailableError):
            OathSession(VirtualConnection(key))
        return
    oath = OathSession(VirtualConnection(key))
    assert tuple(oath.version) == profile.version
    for algorithm, (seed, code) in RFC6238_T59.items():
        data = CredentialData(f"rfc6238-{algorithm.name}", OATH_TYPE.TOTP, algorithm, seed, digits=8)
        if algorithm == HASH_ALGORITHM.SHA512 and profile.version < (4, 3, 1):
            with pytest.raises(ApduError) as refused:
                oath.put_credential(data)
            assert refused.value.sw == SW.INCORRECT_PARAMETERS  # YKOATH "wrong syntax"
            assert data.get_id() not in [c.id for c in oath.list_credentials()]
            continue
        credential = oath.put_credential(data)
        assert oath.calculate_code(credential, timestamp=59).value == code
    hotp = oath.put_credential(CredentialData("rfc4226", OATH_TYPE.HOTP, HASH_ALGORITHM.SHA1, RFC6238_SEED))
    assert [oath.calculate_code(hotp).value for _ in RFC4226] == RFC4226

    if profile.version >= (5, 3, 1):
        oath.rename_credential(hotp.id, "renamed", "Desk")
        assert b"Desk:renamed" in [c.id for c in oath.list_credentials()]
    else:
        with pytest.raises(NotSupportedError):
            oath.rename_credential(hotp.id, "renamed", "Desk")
        # Asked anyway, the applet does not know the instruction (INS 05).
        raw = oath.protocol.send_apdu
        with pytest.raises(ApduError) as unknown:
            raw(0, 0x05, 0, 0, bytes([0x71, len(hotp.id)]) + hotp.id + b"\x71\x01x")
        assert unknown.value.sw == SW.INVALID_INSTRUCTION

    for n in range(len(oath.list_credentials()), profile.oath_capacity):
        oath.put_credential(CredentialData(f"filler-{n}", OATH_TYPE.TOTP, HASH_ALGORITHM.SHA1, b"k" * 20))
    with pytest.raises(ApduError) as full:
        oath.put_credential(CredentialData("one-too-many", OATH_TYPE.TOTP, HASH_ALGORITHM.SHA1, b"k" * 20))
    assert full.value.sw == SW.NO_SPACE
    assert len(oath.list_credentials()) == profile.oath_capacity
    oath.reset()
    assert OathSession(VirtualConnection(key)).list_credentials() == []


@pytest.mark.parametrize("profile", PROFILES, ids=ids)
def test_yubiotp_session(profile):
    key = key_for(profile)
    if "OTP" not in profile.capabilities:
        with pytest.raises(ApplicationNotAvailableError):
            YubiOtpSession(VirtualConnection(key))
        return
    otp = YubiOtpSession(VirtualConnection(key))
    assert tuple(otp.version) == profile.version
    assert otp.get_serial() == SERIAL
    hmac_key, challenge, response = RFC2202
    otp.put_configuration(SLOT.TWO, HmacSha1SlotConfiguration(hmac_key))
    assert otp.calculate_hmac_sha1(SLOT.TWO, challenge).hex() == response

    public_id, private_id, aes_key = b"\xff\x00\x00\x8b\x0e\x2d", bytes(range(6)), bytes(range(16))
    otp.put_configuration(SLOT.ONE, YubiOtpSlotConfiguration(public_id, private_id, aes_key))
    state = otp.get_config_state()
    assert state.is_configured(SLOT.ONE) and state.is_configured(SLOT.TWO)
    token = decode(key.press_button(1), aes_key)
    assert (token.public_id, token.private_id, token.usage_counter, token.session_counter) == (
        public_id, private_id, 1, 0)

    otp.swap_slots()
    assert otp.calculate_hmac_sha1(SLOT.ONE, challenge).hex() == response
    assert decode(key.press_button(2), aes_key).private_id == private_id
    otp.put_configuration(SLOT.ONE, StaticPasswordSlotConfiguration(bytes([0x0B, 0x08, 0x0F, 0x0F, 0x12])))
    assert key.press_button(1) == "hello"
    otp.delete_slot(SLOT.ONE)
    otp.delete_slot(SLOT.TWO)
    state = otp.get_config_state()
    assert not state.is_configured(SLOT.ONE) and not state.is_configured(SLOT.TWO)
