"""Yubico OTP: Yubico's published test vector, tickets built from the spec, and a virtual key's OTPs."""

import random
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from yubikit.yubiotp import SLOT, YubiOtpSession, YubiOtpSlotConfiguration

from drivers.emulator import VirtualConnection, VirtualYubiKey
from station.codes import (
    Accepted,
    Malformed,
    MalformedReason,
    Rejected,
    RejectReason,
    YubicoOtpKey,
    YubicoOtpState,
    parse_yubico_otp,
    verify_yubico_otp,
)
from station.codes.yubico_otp import decrypt_ticket

# Yubico's yubico-c test-vectors.txt: the sample OTP, its AES key, and what the ticket holds.
VECTOR_OTP = "dteffujehknhfjbrjnlnldnhcujvddbikngjrtgh"
VECTOR_KEY = YubicoOtpKey(bytes.fromhex("2d344e83"), bytes.fromhex("8792ebfe26cc"),
                          bytes.fromhex("ecde18dbe76fbd0c33330f1c354871db"))
VECTOR_HEX = "2d344e83" + "69b6481c8baba2b60e8f22179b58cd56"  # the modhex decoded, per the same file

PUBLIC_ID = bytes.fromhex("ff0000123456")  # modhex vvccccbdefgh
PRIVATE_ID = bytes.fromhex("a1a2a3a4a5a6")
AES_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
KEY = YubicoOtpKey(PUBLIC_ID, PRIVATE_ID, AES_KEY)


def crc16(data: bytes) -> int:
    """ISO 13239 CRC-16, from the YubiKey manual (independent of the code under test)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def make_otp(usage: int, session: int, *, private_id=PRIVATE_ID, aes_key=AES_KEY, public_id=PUBLIC_ID,
             timestamp: int = 0x123456, rnd: int = 0xBEEF) -> str:
    body = private_id + struct.pack("<H", usage) + timestamp.to_bytes(3, "little") + bytes([session])
    body += struct.pack("<H", rnd)
    ticket = body + struct.pack("<H", 0xFFFF & ~crc16(body))
    encrypted = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor().update(ticket)
    return (public_id + encrypted).hex().translate(str.maketrans("0123456789abcdef", "cbdefghijklnrtuv"))


def reason(result) -> RejectReason:
    assert isinstance(result, Rejected), result
    return result.reason


def test_yubico_test_vector_decrypts_and_is_accepted_once():
    (reading,) = parse_yubico_otp(VECTOR_OTP)
    assert reading.public_id == bytes.fromhex("2d344e83") and reading.public_id_modhex == "dteffuje"
    assert reading.ciphertext == bytes.fromhex("69b6481c8baba2b60e8f22179b58cd56")
    private_id, ticket = decrypt_ticket(VECTOR_KEY, reading.ciphertext)
    assert private_id == bytes.fromhex("8792ebfe26cc")
    assert (ticket.usage_counter, ticket.timestamp, ticket.session_counter) == (19, 0x00C230, 17)
    assert not ticket.caps_lock
    result = verify_yubico_otp(VECTOR_KEY, YubicoOtpState(), VECTOR_OTP)
    assert result == Accepted(YubicoOtpState(19, 17), "OTP accepted.")
    assert reason(verify_yubico_otp(VECTOR_KEY, result.state, VECTOR_OTP)) is RejectReason.REPLAY


@pytest.mark.parametrize("typed", [
    VECTOR_OTP.upper(), f"  {VECTOR_OTP}\n", "dteffuje hknhfjbr jnlnldnh cujvddbi kngjrtgh", VECTOR_HEX,
    VECTOR_HEX.upper(),
])
def test_upper_case_spaced_and_hex_input_are_read(typed):
    assert verify_yubico_otp(VECTOR_KEY, YubicoOtpState(), typed).state == YubicoOtpState(19, 17)


@pytest.mark.parametrize("state,why", [
    (YubicoOtpState(19, 17), RejectReason.REPLAY),
    (YubicoOtpState(19, 18), RejectReason.OLDER),
    (YubicoOtpState(20, 0), RejectReason.OLDER),
])
def test_replayed_or_lower_counters_are_refused(state, why):
    assert reason(verify_yubico_otp(VECTOR_KEY, state, VECTOR_OTP)) is why


def test_a_higher_usage_counter_wins_over_any_session_counter():
    assert isinstance(verify_yubico_otp(VECTOR_KEY, YubicoOtpState(18, 255), VECTOR_OTP), Accepted)
    assert isinstance(verify_yubico_otp(VECTOR_KEY, YubicoOtpState(19, 16), VECTOR_OTP), Accepted)


def test_wrong_private_id_is_refused():
    other = YubicoOtpKey(VECTOR_KEY.public_id, bytes.fromhex("8792ebfe26cd"), VECTOR_KEY.aes_key)
    result = verify_yubico_otp(other, YubicoOtpState(), VECTOR_OTP)
    assert reason(result) is RejectReason.WRONG_PRIVATE_ID
    assert "8792" not in result.message + result.hint


def test_wrong_aes_key_or_a_changed_character_fails_the_checksum():
    other = YubicoOtpKey(VECTOR_KEY.public_id, VECTOR_KEY.private_id, bytes(16))
    assert reason(verify_yubico_otp(other, YubicoOtpState(), VECTOR_OTP)) is RejectReason.BAD_CHECKSUM
    typo = VECTOR_OTP[:20] + ("c" if VECTOR_OTP[20] != "c" else "b") + VECTOR_OTP[21:]
    assert reason(verify_yubico_otp(VECTOR_KEY, YubicoOtpState(), typo)) is RejectReason.BAD_CHECKSUM


def test_an_otp_from_another_key_names_its_public_id():
    result = verify_yubico_otp(KEY, YubicoOtpState(), make_otp(1, 0, public_id=bytes.fromhex("ff0000654321")))
    assert reason(result) is RejectReason.OTHER_KEY
    assert "vvcccchgfedb" in result.message and "vvccccbdefgh" in result.message


@pytest.mark.parametrize("typed,why", [
    ("", MalformedReason.EMPTY),
    (VECTOR_OTP[:-1], MalformedReason.WRONG_LENGTH),  # odd
    (VECTOR_OTP[:-2], MalformedReason.WRONG_LENGTH),  # one byte short of this key's OTP
    (VECTOR_OTP + "cc", MalformedReason.WRONG_LENGTH),
    (VECTOR_OTP[8:18], MalformedReason.WRONG_LENGTH),  # shorter than a ticket
    ("c" * 66, MalformedReason.WRONG_LENGTH),  # longer than 16 bytes of public id allow
    (VECTOR_OTP[:-1] + "x", MalformedReason.BAD_CHARACTERS),
    (VECTOR_OTP[:-1] + "0", MalformedReason.BAD_CHARACTERS),  # modhex and hex mixed
    ("dteffujehknhfjbrjnlnldnhcujvddbikngjrtg\u0127", MalformedReason.BAD_CHARACTERS),
])
def test_malformed_otps(typed, why):
    result = verify_yubico_otp(VECTOR_KEY, YubicoOtpState(), typed)
    assert isinstance(result, Malformed) and result.reason is why and result.hint


def test_session_counter_wrap_and_the_usage_counter_cap():
    state = verify_yubico_otp(KEY, YubicoOtpState(), make_otp(4, 255)).state
    assert verify_yubico_otp(KEY, state, make_otp(5, 0)).state == YubicoOtpState(5, 0)
    top = verify_yubico_otp(KEY, YubicoOtpState(), make_otp(0x7FFF, 3)).state
    assert reason(verify_yubico_otp(KEY, top, make_otp(0x7FFF, 0))) is RejectReason.EXHAUSTED


def test_the_caps_lock_flag_is_not_part_of_the_counter():
    result = verify_yubico_otp(KEY, YubicoOtpState(), make_otp(0x8000 | 7, 2))
    assert result.state == YubicoOtpState(7, 2)
    assert decrypt_ticket(KEY, parse_yubico_otp(make_otp(0x8000 | 7, 2))[0].ciphertext)[1].caps_lock


def _otp_readable_both_ways(encoding: str) -> tuple[YubicoOtpKey, str]:
    """An OTP typed only with b, c, d, e, f (modhex and hex at once) that is valid in `encoding`.

    Found by search: an AES key under which the chosen block decrypts to a ticket with a good CRC.
    """
    rng = random.Random(6238)
    text = "".join(rng.choice("bcdef") for _ in range(32))
    block = (bytes.fromhex(text) if encoding == "hex"
             else bytes.fromhex(text.translate(str.maketrans("cbdef", "01234"))))
    while True:
        aes = rng.randbytes(16)
        plain = Cipher(algorithms.AES(aes), modes.ECB()).decryptor().update(block)
        if crc16(plain) == 0xF0B8:
            return YubicoOtpKey(b"", plain[:6], aes), text


@pytest.mark.parametrize("encoding", ["modhex", "hex"])
def test_an_otp_that_reads_as_modhex_and_as_hex_is_tried_both_ways(encoding):
    key, text = _otp_readable_both_ways(encoding)
    assert len(parse_yubico_otp(text)) == 2
    assert isinstance(verify_yubico_otp(key, YubicoOtpState(), text), Accepted)


# -- end to end with the virtual YubiKey's OTP applet (in-process, no pcscd) ---------------------------


@pytest.fixture
def virtual_key(tmp_path):
    key = VirtualYubiKey.open(7654321, state_path=tmp_path / "key.json")
    YubiOtpSession(VirtualConnection(key)).put_configuration(
        SLOT.ONE, YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, AES_KEY))
    return key


def test_a_virtual_keys_otps_verify_in_order_and_once(virtual_key):
    state = YubicoOtpState()
    presses = [virtual_key.press_button(1) for _ in range(3)]
    virtual_key.reinsert()  # a power cycle: the usage counter moves, the session counter restarts
    presses.append(virtual_key.press_button(1))
    for otp in presses:
        result = verify_yubico_otp(KEY, state, otp)
        assert isinstance(result, Accepted), result
        state = result.state
    assert state == YubicoOtpState(2, 0)
    for otp in presses:
        assert reason(verify_yubico_otp(KEY, state, otp)) in (RejectReason.REPLAY, RejectReason.OLDER)


def test_a_virtual_keys_otp_used_out_of_order_is_refused(virtual_key):
    first, second = virtual_key.press_button(1), virtual_key.press_button(1)
    state = verify_yubico_otp(KEY, YubicoOtpState(), second).state
    assert reason(verify_yubico_otp(KEY, state, first)) is RejectReason.OLDER


def test_a_virtual_keys_session_counter_wrap_is_accepted(virtual_key):
    state = YubicoOtpState()
    for _ in range(257):
        result = verify_yubico_otp(KEY, state, virtual_key.press_button(1))
        assert isinstance(result, Accepted)
        state = result.state
    assert state == YubicoOtpState(2, 0)  # 256 OTPs in session 0..255 of usage 1, then the carry


def test_a_reprogrammed_slot_is_caught(virtual_key):
    YubiOtpSession(VirtualConnection(virtual_key)).put_configuration(
        SLOT.ONE, YubiOtpSlotConfiguration(PUBLIC_ID, bytes(6), AES_KEY))
    assert reason(verify_yubico_otp(KEY, YubicoOtpState(), virtual_key.press_button(1))) \
        is RejectReason.WRONG_PRIVATE_ID
    YubiOtpSession(VirtualConnection(virtual_key)).put_configuration(
        SLOT.ONE, YubiOtpSlotConfiguration(PUBLIC_ID, PRIVATE_ID, bytes(16)))
    assert reason(verify_yubico_otp(KEY, YubicoOtpState(), virtual_key.press_button(1))) \
        is RejectReason.BAD_CHECKSUM
