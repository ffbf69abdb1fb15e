"""HOTP: RFC 4226 vectors, look-ahead edges, resynchronisation, and counters that only move forward."""

import pytest
from oath_reference import hotp
from yubikit.yubiotp import SLOT, HotpSlotConfiguration, YubiOtpSession

from drivers.emulator import VirtualConnection, VirtualYubiKey
from station.codes import (
    Accepted,
    HotpState,
    HotpToken,
    Malformed,
    MalformedReason,
    Rejected,
    RejectReason,
    resync_hotp,
    verify_hotp,
)
from station.codes.oath import MAX_COUNTER

RFC4226_SECRET = b"12345678901234567890"
# RFC 4226 appendix D: HOTP values for counters 0 to 9.
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
TOKEN = HotpToken(RFC4226_SECRET)


def code(counter: int, token: HotpToken = TOKEN) -> str:
    return hotp(token.secret, counter, token.digits, token.algorithm)


def reason(result) -> RejectReason:
    assert isinstance(result, Rejected), result
    return result.reason


def test_rfc4226_vectors_in_order_each_once():
    state = HotpState()
    for counter, expected in enumerate(RFC4226):
        assert TOKEN.code_at(counter) == expected
        result = verify_hotp(TOKEN, state, expected)
        assert result == Accepted(HotpState(counter + 1), "Code accepted.")
        assert reason(verify_hotp(TOKEN, result.state, expected)) is RejectReason.REPLAY
        state = result.state


@pytest.mark.parametrize("algorithm,digits", [("SHA256", 6), ("SHA512", 8), ("SHA1", 7)])
def test_other_hashes_and_lengths_match_the_rfc_algorithm(algorithm, digits):
    token = HotpToken(b"\x42" * 32, algorithm, digits)
    assert verify_hotp(token, HotpState(5), code(7, token)).state == HotpState(8)


def test_look_ahead_edges():
    assert verify_hotp(TOKEN, HotpState(), RFC4226[0]).state == HotpState(1)
    edge = verify_hotp(TOKEN, HotpState(), code(10))
    assert edge.state == HotpState(11) and "10 codes skipped" in edge.message
    assert reason(verify_hotp(TOKEN, HotpState(), code(11))) is RejectReason.WRONG_CODE
    assert verify_hotp(TOKEN, HotpState(), code(3), look_ahead=3).state == HotpState(4)
    assert reason(verify_hotp(TOKEN, HotpState(), code(4), look_ahead=3)) is RejectReason.WRONG_CODE
    assert reason(verify_hotp(TOKEN, HotpState(), code(1), look_ahead=0)) is RejectReason.WRONG_CODE


def test_skipped_and_used_codes_are_never_accepted():
    state = verify_hotp(TOKEN, HotpState(), code(5)).state
    assert reason(verify_hotp(TOKEN, state, code(5))) is RejectReason.REPLAY
    for skipped in (0, 4):
        assert reason(verify_hotp(TOKEN, state, code(skipped))) is RejectReason.OLDER


def test_resync_with_two_consecutive_codes_far_ahead():
    out_of_step = verify_hotp(TOKEN, HotpState(), code(500))
    assert reason(out_of_step) is RejectReason.WRONG_CODE and "resynchronise" in out_of_step.hint
    result = resync_hotp(TOKEN, HotpState(), code(500), code(501))
    assert result.state == HotpState(502)
    assert verify_hotp(TOKEN, result.state, code(502)).state == HotpState(503)


def test_replay_after_resync_is_refused():
    state = resync_hotp(TOKEN, HotpState(), code(500), code(501)).state
    assert reason(verify_hotp(TOKEN, state, code(501))) is RejectReason.REPLAY
    assert reason(verify_hotp(TOKEN, state, code(500))) is RejectReason.OLDER
    assert reason(resync_hotp(TOKEN, state, code(500), code(501))) is RejectReason.OLDER
    # Codes from before the resync that were never used stay dead too: the counter only moves forward.
    for before in (3, 499):
        assert isinstance(verify_hotp(TOKEN, state, code(before)), Rejected)
        assert isinstance(resync_hotp(TOKEN, state, code(before), code(before + 1)), Rejected)


@pytest.mark.parametrize("first,second", [(500, 502), (501, 500), (500, 600)])
def test_resync_with_non_consecutive_codes_is_refused(first, second):
    result = resync_hotp(TOKEN, HotpState(), code(first), code(second))
    assert reason(result) is RejectReason.NOT_CONSECUTIVE
    assert "not consecutive" in result.message


def test_resync_with_the_same_code_twice_is_refused():
    assert reason(resync_hotp(TOKEN, HotpState(), code(500), code(500))) is RejectReason.NOT_CONSECUTIVE


def test_resync_window_edges():
    assert resync_hotp(TOKEN, HotpState(), code(1000), code(1001)).state == HotpState(1002)
    assert reason(resync_hotp(TOKEN, HotpState(), code(1001), code(1002))) is RejectReason.WRONG_CODE
    assert resync_hotp(TOKEN, HotpState(100), code(150), code(151), window=50).state == HotpState(152)
    beyond = resync_hotp(TOKEN, HotpState(100), code(151), code(152), window=50)
    assert reason(beyond) is RejectReason.WRONG_CODE


def test_the_counter_never_wraps():
    top = MAX_COUNTER
    assert TOKEN.code_at(top) == hotp(RFC4226_SECRET, top)  # the 8-byte counter at its last value
    state = verify_hotp(TOKEN, HotpState(top - 1), code(top - 1)).state
    state = verify_hotp(TOKEN, state, code(top)).state
    assert state == HotpState(top + 1)
    for c in (0, 1, top):
        result = verify_hotp(TOKEN, state, code(c))
        assert reason(result) is RejectReason.EXHAUSTED and "Replace the token" in result.hint
    assert reason(resync_hotp(TOKEN, HotpState(top), code(top), code(0))) is RejectReason.EXHAUSTED
    # The look-ahead stops at the last counter instead of running past it.
    assert verify_hotp(TOKEN, HotpState(top - 3), code(top)).state == HotpState(top + 1)
    assert resync_hotp(TOKEN, HotpState(top - 5), code(top - 1), code(top)).state == HotpState(top + 1)
    with pytest.raises(ValueError):
        TOKEN.code_at(top + 1)
    for damaged in (-1, top + 2):
        with pytest.raises(ValueError):
            HotpState(damaged)


@pytest.mark.parametrize("typed,why", [
    ("", MalformedReason.EMPTY), ("75522", MalformedReason.WRONG_LENGTH),
    ("7552244", MalformedReason.WRONG_LENGTH), ("75522x", MalformedReason.BAD_CHARACTERS),
])
def test_malformed_codes(typed, why):
    for result in (verify_hotp(TOKEN, HotpState(), typed), resync_hotp(TOKEN, HotpState(), typed, RFC4226[1]),
                   resync_hotp(TOKEN, HotpState(), RFC4226[0], typed)):
        assert isinstance(result, Malformed) and result.reason is why


def test_spaces_and_dashes_are_ignored():
    assert verify_hotp(TOKEN, HotpState(), "755 224").state == HotpState(1)
    assert resync_hotp(TOKEN, HotpState(), "287-082", " 359152 ").state == HotpState(3)


def test_codes_from_a_virtual_keys_hotp_slot(tmp_path):
    """End to end in-process: the virtual key's OTP applet types HOTP codes, the core verifies them."""
    key = VirtualYubiKey.open(7654322, state_path=tmp_path / "key.json")
    YubiOtpSession(VirtualConnection(key)).put_configuration(SLOT.TWO, HotpSlotConfiguration(RFC4226_SECRET))
    state = verify_hotp(TOKEN, HotpState(), key.press_button(2)).state
    assert state == HotpState(1)
    for _ in range(4):  # pressed away from the desk: within the look-ahead
        key.press_button(2)
    state = verify_hotp(TOKEN, state, key.press_button(2)).state
    assert state == HotpState(6)
    for _ in range(300):  # a bored holder: far out of step
        key.press_button(2)
    assert isinstance(verify_hotp(TOKEN, state, key.press_button(2)), Rejected)
    state = resync_hotp(TOKEN, state, key.press_button(2), key.press_button(2)).state
    assert state == HotpState(309)
    assert verify_hotp(TOKEN, state, key.press_button(2)).state == HotpState(310)
