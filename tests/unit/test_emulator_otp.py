"""The Yubico OTP applet of the virtual key, driven in-process by yubikit's YubiOtpSession."""

from __future__ import annotations

import hashlib
import hmac
import json
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from yubikit.core.otp import CommandRejectedError, modhex_decode
from yubikit.core.smartcard import ApduError
from yubikit.yubiotp import (
    SLOT,
    HmacSha1SlotConfiguration,
    HotpSlotConfiguration,
    StaticPasswordSlotConfiguration,
    UpdateConfiguration,
    YubiOtpSession,
    YubiOtpSlotConfiguration,
)

from drivers.emulator import VirtualConnection, VirtualYubiKey

SERIAL = 7654321
PUBLIC_ID = bytes.fromhex("ff0000123456")
PRIVATE_ID = bytes.fromhex("a1a2a3a4a5a6")
AES_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
ACCESS = bytes.fromhex("010203040506")

# RFC 2202, HMAC-SHA1 test cases 1-3 and 6-7 (key, data, digest). Case 4 has a 25-byte key, which
# the slot cannot hold (20 bytes at most, yubikit refuses); case 5 is a truncated digest. Keys of
# 80 bytes are hashed to 20 by yubikit before they reach the key (as HMAC itself would).
RFC2202 = [
    (b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    (b"Jefe", b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (b"\xaa" * 20, b"\xdd" * 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
    (
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "aa4ae5e15272d00e95705637ce8a3b55ed402112",
    ),
    (
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
        "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
    ),
]


@pytest.fixture
def key(tmp_path) -> VirtualYubiKey:
    return VirtualYubiKey.open(SERIAL, state_path=tmp_path / "key.json")


def session(key: VirtualYubiKey) -> YubiOtpSession:
    return YubiOtpSession(VirtualConnection(key))


# -- an independent Yubico OTP decoder, written from the YubiKey OTP spec -----------------------


def crc16_iso13239(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0x8408
    return crc


def decode_otp(otp: str, aes_key: bytes) -> dict:
    """Split public id and token, decrypt, check the CRC (residual 0xF0B8), unpack the fields."""
    assert len(otp) >= 32
    public, token = modhex_decode(otp[:-32]), modhex_decode(otp[-32:])
    decryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()
    plain = decryptor.update(token) + decryptor.finalize()
    assert crc16_iso13239(plain) == 0xF0B8, "ticket CRC does not check"
    # The stored CRC is the one's complement of the CRC of the first 14 bytes, little endian.
    assert struct.unpack("<H", plain[14:16])[0] == 0xFFFF & ~crc16_iso13239(plain[:14])
    return {
        "public_id": public,
        "private_id": plain[0:6],
        "use_counter": struct.unpack("<H", plain[6:8])[0],
        "timestamp": int.from_bytes(plain[8:11], "little"),
        "session_counter": plain[11],
        "random": struct.unpack("<H", plain[12:14])[0],
    }


# -- status, serial ------------------------------------------------------------------------------


def test_fresh_key_has_empty_slots_and_reports_serial(key):
    s = session(key)
    state = s.get_config_state()
    assert not state.is_configured(SLOT.ONE) and not state.is_configured(SLOT.TWO)
    assert s.get_serial() == SERIAL
    assert s.version == (5, 4, 3)


# -- HMAC-SHA1 challenge-response ----------------------------------------------------------------


@pytest.mark.parametrize(("secret", "challenge", "digest"), RFC2202)
def test_hmac_sha1_rfc2202(key, secret, challenge, digest):
    s = session(key)
    s.put_configuration(SLOT.TWO, HmacSha1SlotConfiguration(secret))
    if len(challenge) > 64:  # case 7: the key takes at most 64 bytes; the card refuses more
        with pytest.raises(ApduError):
            s.backend.send_and_receive(0x38, challenge, 20)
        return
    assert s.calculate_hmac_sha1(SLOT.TWO, challenge).hex() == digest


def test_chalresp_with_touch_needs_a_touch(tmp_path):
    from drivers.emulator.touch import TouchSensor

    key = VirtualYubiKey.open(SERIAL, touch=TouchSensor("never", 0.0))
    s = session(key)
    s.put_configuration(SLOT.ONE, HmacSha1SlotConfiguration(b"k" * 20).require_touch(True))
    with pytest.raises(ApduError):
        s.calculate_hmac_sha1(SLOT.ONE, b"c")
    s.put_configuration(SLOT.TWO, HmacSha1SlotConfiguration(b"k" * 20))  # no touch needed
    assert s.calculate_hmac_sha1(SLOT.TWO, b"c") == hmac.new(b"k" * 20, b"c", hashlib.sha1).digest()


def test_hmac_challenge_padding_edge_cases(key):
    """yubikit pads to 64 bytes with a byte unlike the last; the key strips that run again."""
    secret = bytes(range(20))
    s = session(key)
    s.put_configuration(SLOT.ONE, HmacSha1SlotConfiguration(secret))
    for challenge in (b"", b"\x00", b"abc\x00", b"abc\x01", b"x" * 63):
        expected = hmac.new(secret, challenge, hashlib.sha1).digest()
        assert s.calculate_hmac_sha1(SLOT.ONE, challenge) == expected, challenge
    # With HMAC_LT64 (yubikit's default) a full 64-byte challenge loses its trailing run of equal
    # bytes, as on a real key: the key cannot tell it from a padded one.
    full = bytes(range(1, 63)) + b"\x07\x07"
    assert s.calculate_hmac_sha1(SLOT.ONE, full) == hmac.new(secret, full[:-2], hashlib.sha1).digest()
    state = s.get_config_state()
    assert state.is_configured(SLOT.ONE) and not state.is_touch_triggered(SLOT.ONE)


def test_hmac_on_a_slot_without_chalresp_is_refused(key):
    s = session(key)
    with pytest.raises(ApduError):
        s.calculate_hmac_sha1(SLOT.ONE, b"abc")


# -- Yubico OTP ----------------------------------------------------------------------------------


def test_yubico_otp_press_decodes(key):
    s = session(key)
    s.put_configuration(SLOT.ONE, YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, AES_KEY))
    state = s.get_config_state()
    assert state.is_configured(SLOT.ONE) and state.is_touch_triggered(SLOT.ONE)

    otps = [key.press_button(1) for _ in range(3)]
    assert all(o.startswith("vvccccbdefgh") for o in otps)  # modhex of ff 00 00 12 34 56
    assert len({o for o in otps}) == 3
    decoded = [decode_otp(o, AES_KEY) for o in otps]
    for d in decoded:
        assert d["public_id"] == PUBLIC_ID
        assert d["private_id"] == PRIVATE_ID
        assert d["use_counter"] == 1  # first use since power-up
    assert [d["session_counter"] for d in decoded] == [0, 1, 2]
    # The 8 Hz timestamp never goes backwards within a session (mod 2^24).
    stamps = [d["timestamp"] for d in decoded]
    assert all((b - a) % (1 << 24) < 8 * 60 for a, b in zip(stamps, stamps[1:], strict=False))


def test_yubico_otp_counters_across_power_ups_and_restarts(tmp_path):
    path = tmp_path / "key.json"
    key = VirtualYubiKey.open(SERIAL, state_path=path)
    session(key).put_configuration(SLOT.TWO, YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, AES_KEY))
    assert decode_otp(key.press_button(2), AES_KEY)["use_counter"] == 1
    key.reinsert()  # power cycle: the usage counter moves at first use, the session restarts
    first = decode_otp(key.press_button(2), AES_KEY)
    assert (first["use_counter"], first["session_counter"]) == (2, 0)

    again = VirtualYubiKey.open(SERIAL, state_path=path)  # a restart: counter persisted
    d = decode_otp(again.press_button(2), AES_KEY)
    assert (d["use_counter"], d["session_counter"]) == (3, 0)

    # The session counter wraps after 256 presses, carrying into the usage counter.
    for _ in range(255):
        again.press_button(2)
    d = decode_otp(again.press_button(2), AES_KEY)
    assert (d["use_counter"], d["session_counter"]) == (4, 0)
    assert json.loads(path.read_text())["otp"]["slots"][1]["use_counter"] == 4


def test_timestamp_moves_at_8hz(key):
    clock = [1000.0]
    key.otp._clock = lambda: clock[0]
    key.otp.power_up()
    session(key).put_configuration(SLOT.ONE, YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, AES_KEY))
    t0 = decode_otp(key.press_button(1), AES_KEY)["timestamp"]
    clock[0] += 10.0
    t1 = decode_otp(key.press_button(1), AES_KEY)["timestamp"]
    assert (t1 - t0) % (1 << 24) == 80


# -- other slot types ----------------------------------------------------------------------------


def test_hotp_rfc4226_codes(key):
    secret = b"12345678901234567890"  # RFC 4226 appendix D
    s = session(key)
    s.put_configuration(SLOT.ONE, HotpSlotConfiguration(secret))
    assert [key.press_button(1) for _ in range(3)] == ["755224", "287082", "359152"]


def test_hotp_token_id_and_imf(key):
    secret = b"12345678901234567890"
    s = session(key)
    token = modhex_decode("cccc") + bytes.fromhex("00001234")  # OMP+TT modhex, MUI as digits
    s.put_configuration(SLOT.TWO, HotpSlotConfiguration(secret).token_id(token).imf(16).digits8(True))
    # RFC 4226 counter 16, 8 digits.
    mac = hmac.new(secret, struct.pack(">Q", 16), hashlib.sha1).digest()
    off = mac[-1] & 15
    code = (struct.unpack(">I", mac[off : off + 4])[0] & 0x7FFFFFFF) % 10**8
    assert key.press_button(2) == f"cccc00001234{code:08d}"


def test_static_password(key):
    from ykman.scancodes import KEYBOARD_LAYOUT, encode

    s = session(key)
    s.put_configuration(
        SLOT.ONE, StaticPasswordSlotConfiguration(encode("Secret-Pass_42!", KEYBOARD_LAYOUT.US))
    )
    assert key.press_button(1) == "Secret-Pass_42!"
    assert s.get_config_state().is_touch_triggered(SLOT.ONE)


# -- access codes, swap, delete, update ------------------------------------------------------------


def test_access_code_protects_the_slot(key):
    s = session(key)
    s.put_configuration(SLOT.ONE, HmacSha1SlotConfiguration(b"k" * 20), acc_code=ACCESS)
    seq = s._status[3]
    for wrong in (None, bytes.fromhex("000000000001")):
        with pytest.raises(CommandRejectedError):
            s.put_configuration(SLOT.ONE, HmacSha1SlotConfiguration(b"x" * 20), cur_acc_code=wrong)
        with pytest.raises(CommandRejectedError):
            s.delete_slot(SLOT.ONE, cur_acc_code=wrong)
    assert s._status[3] == seq  # nothing written
    assert s.calculate_hmac_sha1(SLOT.ONE, b"c") == hmac.new(b"k" * 20, b"c", hashlib.sha1).digest()

    # With the right code: overwrite (keeping the code), then delete.
    s.put_configuration(SLOT.ONE, HmacSha1SlotConfiguration(b"y" * 20), acc_code=ACCESS, cur_acc_code=ACCESS)
    assert s.calculate_hmac_sha1(SLOT.ONE, b"c") == hmac.new(b"y" * 20, b"c", hashlib.sha1).digest()
    s.delete_slot(SLOT.ONE, cur_acc_code=ACCESS)
    assert not s.get_config_state().is_configured(SLOT.ONE)


def test_swap_and_delete(key):
    s = session(key)
    s.put_configuration(SLOT.ONE, YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, AES_KEY))
    s.put_configuration(SLOT.TWO, HmacSha1SlotConfiguration(b"k" * 20))
    s.swap_slots()
    state = s.get_config_state()
    assert state.is_configured(SLOT.ONE) and state.is_configured(SLOT.TWO)
    assert not state.is_touch_triggered(SLOT.ONE) and state.is_touch_triggered(SLOT.TWO)
    assert s.calculate_hmac_sha1(SLOT.ONE, b"c") == hmac.new(b"k" * 20, b"c", hashlib.sha1).digest()
    assert decode_otp(key.press_button(2), AES_KEY)["private_id"] == PRIVATE_ID

    s.delete_slot(SLOT.ONE)
    assert not s.get_config_state().is_configured(SLOT.ONE)
    s.delete_slot(SLOT.TWO)
    assert s._status[3] == 0  # the programming sequence restarts once no slot is valid
    with pytest.raises(ValueError):
        key.press_button(2)


def test_update_changes_flags_and_access_code_only(key):
    s = session(key)
    s.put_configuration(SLOT.ONE, YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, AES_KEY))
    s.update_configuration(SLOT.ONE, UpdateConfiguration().append_cr(False), acc_code=ACCESS)
    # The credential is unchanged; now the access code is required.
    assert decode_otp(key.press_button(1), AES_KEY)["private_id"] == PRIVATE_ID
    with pytest.raises(CommandRejectedError):
        s.delete_slot(SLOT.ONE)
    s.update_configuration(SLOT.ONE, UpdateConfiguration(), cur_acc_code=ACCESS)  # removes the code
    s.delete_slot(SLOT.ONE)


def test_update_refused_without_allow_update_or_on_empty_slot(key):
    s = session(key)
    with pytest.raises(CommandRejectedError):
        s.update_configuration(SLOT.TWO, UpdateConfiguration())
    s.put_configuration(SLOT.TWO, HmacSha1SlotConfiguration(b"k" * 20).allow_update(False))
    with pytest.raises(CommandRejectedError):
        s.update_configuration(SLOT.TWO, UpdateConfiguration())


def test_bad_crc_is_refused(key):
    s = session(key)
    config = bytearray(YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, AES_KEY).get_config())
    config[0] ^= 1
    with pytest.raises(CommandRejectedError):
        s.backend.write_update(0x01, bytes(config) + bytes(6))
    assert not s.get_config_state().is_configured(SLOT.ONE)


def test_old_state_file_without_otp_loads(tmp_path, key):
    path = tmp_path / "old.json"
    data = key.state.to_json()
    del data["otp"]
    path.write_text(json.dumps(data))
    old = VirtualYubiKey.open(SERIAL, state_path=path)
    assert old.state.otp.slots == [None, None]


def test_yubico_challenge_response(key):
    from yubikit.yubiotp import CFGFLAG, TKTFLAG

    config = YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, AES_KEY)
    config._update_flags(TKTFLAG.CHAL_RESP, True)  # yubikit has no class for this mode
    config._update_flags(CFGFLAG.CHAL_YUBICO, True)
    s = session(key)
    s.put_configuration(SLOT.ONE, config)
    assert not s.get_config_state().is_touch_triggered(SLOT.ONE)
    challenge = bytes.fromhex("0102030405a6")
    response = s.backend.send_and_receive(0x20, challenge, 16)  # CHAL_OTP_1
    decryptor = Cipher(algorithms.AES(AES_KEY), modes.ECB()).decryptor()
    plain = decryptor.update(response) + decryptor.finalize()
    assert plain[:6] == challenge  # the challenge takes the place of the private id
    assert crc16_iso13239(plain) == 0xF0B8


def test_static_password_types_every_character_of_ykman_s_us_layout():
    """Whatever ykman can put in a static password with `-k us`, the key types back on a US host
    (a generated password once typed "<32>" for a backslash, HID usage 0x32)."""
    from ykman.scancodes import KEYBOARD_LAYOUT, encode

    text = "".join(sorted(KEYBOARD_LAYOUT.US.value))
    key = VirtualYubiKey.open(SERIAL)
    otp = YubiOtpSession(VirtualConnection(key))
    for start in range(0, len(text), 38):  # a slot holds 38 keystrokes
        chunk = text[start:start + 38]
        otp.put_configuration(SLOT.TWO, StaticPasswordSlotConfiguration(encode(chunk, KEYBOARD_LAYOUT.US)))
        assert key.press_button(2) == chunk
