"""TOTP: RFC 6238 vectors, the window's edges, remembered drift, and no second use of a step."""

from datetime import UTC, datetime, timedelta

import pytest
from oath_reference import hotp
from yubikit.oath import HASH_ALGORITHM, OATH_TYPE, CredentialData, OathSession

from drivers.emulator import VirtualConnection, VirtualYubiKey
from station.codes import (
    Accepted,
    Malformed,
    MalformedReason,
    Rejected,
    RejectReason,
    TotpState,
    TotpToken,
    verify_totp,
)
from station.errors import InputError

# RFC 6238 appendix B: the seeds are the ASCII digits repeated to the hash's length.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238 = [  # (Unix time, SHA1, SHA256, SHA512), 8 digits, 30-second steps
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
VECTORS = [(t, alg, codes[i]) for t, *codes in RFC6238 for i, alg in enumerate(("SHA1", "SHA256", "SHA512"))]

SEED = b"\x5a" * 20
T0 = datetime(2026, 12, 3, 3, 0, 10, tzinfo=UTC)
TOKEN = TotpToken(SEED)
STEP = int(T0.timestamp()) // 30


def code(step: int, token: TotpToken = TOKEN) -> str:
    return hotp(token.secret, step, token.digits, token.algorithm)


@pytest.mark.parametrize("unix,algorithm,expected", VECTORS)
def test_rfc6238_vectors_are_accepted_once(unix, algorithm, expected):
    token = TotpToken(SEEDS[algorithm], algorithm, digits=8)
    at = datetime.fromtimestamp(unix, UTC)
    result = verify_totp(token, TotpState(), expected, at, window=0)
    assert result == Accepted(TotpState(unix // 30, 0), "Code accepted.")
    again = verify_totp(token, result.state, expected, at, window=0)
    assert isinstance(again, Rejected) and again.reason is RejectReason.REPLAY


@pytest.mark.parametrize("offset", [-1, 1])
def test_both_edges_of_the_default_window(offset):
    result = verify_totp(TOKEN, TotpState(), code(STEP + offset), T0)
    assert isinstance(result, Accepted)
    assert result.state == TotpState(STEP + offset, offset)
    assert f"30 s {'ahead' if offset > 0 else 'behind'}" in result.message


@pytest.mark.parametrize("offset", [-2, 2])
def test_just_outside_the_window_is_a_wrong_code_and_a_wider_window_takes_it(offset):
    result = verify_totp(TOKEN, TotpState(), code(STEP + offset), T0)
    assert isinstance(result, Rejected) and result.reason is RejectReason.WRONG_CODE
    wider = verify_totp(TOKEN, TotpState(), code(STEP + offset), T0, window=2)
    assert isinstance(wider, Accepted) and wider.state.drift == offset


def test_the_window_follows_the_remembered_drift():
    first = verify_totp(TOKEN, TotpState(), code(STEP + 1), T0)
    assert first.state.drift == 1
    later = T0 + timedelta(minutes=10)
    now = STEP + 20
    # The token runs a step ahead: two ahead of the station is now inside the window, one behind is not.
    assert verify_totp(TOKEN, first.state, code(now + 2), later).state == TotpState(now + 2, 2)
    behind = verify_totp(TOKEN, first.state, code(now - 1), later)
    assert isinstance(behind, Rejected) and behind.reason is RejectReason.WRONG_CODE
    # Without the remembered drift the same code is out of reach.
    assert isinstance(verify_totp(TOKEN, TotpState(first.state.last_step, 0), code(now + 2), later), Rejected)


def test_drift_is_bounded():
    at_limit = TotpState(STEP - 5, 10)
    assert verify_totp(TOKEN, at_limit, code(STEP + 10), T0).state.drift == 10
    beyond = verify_totp(TOKEN, at_limit, code(STEP + 11), T0)
    assert isinstance(beyond, Rejected) and beyond.reason is RejectReason.WRONG_CODE
    # A stored drift past the bound (a damaged record) is clamped, not followed.
    assert isinstance(verify_totp(TOKEN, TotpState(-1, 50), code(STEP + 50), T0), Rejected)
    with pytest.raises(ValueError):
        verify_totp(TOKEN, TotpState(), code(STEP), T0, window=3, max_drift=2)


def test_a_step_at_or_before_the_last_accepted_one_is_never_accepted():
    state = verify_totp(TOKEN, TotpState(), code(STEP + 1), T0).state
    same = verify_totp(TOKEN, state, code(STEP + 1), T0)
    assert isinstance(same, Rejected) and same.reason is RejectReason.REPLAY
    assert "already used" in same.message
    older = verify_totp(TOKEN, state, code(STEP), T0)
    assert isinstance(older, Rejected) and older.reason is RejectReason.OLDER
    # Even when a later drift moves the window back over it.
    assert isinstance(verify_totp(TOKEN, TotpState(STEP + 1, -1), code(STEP), T0), Rejected)
    assert verify_totp(TOKEN, state, code(STEP + 2), T0).state.last_step == STEP + 2


def test_digits_and_period_of_the_token_are_used():
    token = TotpToken(SEED, "SHA256", digits=8, period=60)
    step = int(T0.timestamp()) // 60
    assert verify_totp(token, TotpState(), hotp(SEED, step, 8, "SHA256"), T0).state.last_step == step
    six = verify_totp(token, TotpState(), hotp(SEED, step, 6, "SHA256"), T0)
    assert isinstance(six, Malformed) and six.reason is MalformedReason.WRONG_LENGTH
    assert "8" in six.message


def test_t0_shifts_the_steps():
    token = TotpToken(SEED, t0=15)
    step = (int(T0.timestamp()) - 15) // 30
    assert verify_totp(token, TotpState(), code(step), T0, window=0).state.last_step == step


@pytest.mark.parametrize("layout", ["{} {}", "{}-{}", " {}{}\n", "{}\t{}"])
def test_spaces_dashes_and_line_breaks_are_ignored(layout):
    c = code(STEP)
    assert isinstance(verify_totp(TOKEN, TotpState(), layout.format(c[:3], c[3:]), T0), Accepted)


@pytest.mark.parametrize("typed,reason", [
    ("", MalformedReason.EMPTY), ("  - ", MalformedReason.EMPTY), (None, MalformedReason.EMPTY),
    ("12a456", MalformedReason.BAD_CHARACTERS), ("１２３４５６", MalformedReason.BAD_CHARACTERS),
    ("12345", MalformedReason.WRONG_LENGTH), ("1234567", MalformedReason.WRONG_LENGTH),
    ("12345678", MalformedReason.WRONG_LENGTH), ("123\u00a0456", MalformedReason.BAD_CHARACTERS),
])
def test_malformed_input_is_not_a_wrong_code(typed, reason):
    result = verify_totp(TOKEN, TotpState(), typed, T0)
    assert isinstance(result, Malformed) and result.reason is reason
    assert "malformed" in result.message and result.hint


def test_times_near_the_epoch_and_far_ahead():
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert verify_totp(TOKEN, TotpState(), code(0), epoch).state == TotpState(0, 0)  # step -1 is skipped
    before = verify_totp(TOKEN, TotpState(), "000000", epoch - timedelta(days=1))
    assert isinstance(before, Rejected)
    far = datetime(2200, 1, 1, tzinfo=UTC)  # past 2**32 seconds
    step = int(far.timestamp()) // 30
    assert verify_totp(TOKEN, TotpState(), code(step), far).state.last_step == step


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        verify_totp(TOKEN, TotpState(), "123456", datetime(2026, 1, 1))


def test_results_and_tokens_never_show_the_secret_or_a_code():
    token = TotpToken(b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x10\x11\x12\x13\x14\x15\x16")
    assert "secret" not in repr(token) and "\\x01" not in repr(token)
    expected = [hotp(token.secret, s) for s in (STEP - 1, STEP, STEP + 1)]
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in expected)
    for typed in (wrong, expected[1]):
        result = verify_totp(token, TotpState(), typed, T0)
        shown = repr(result) + str(getattr(result, "hint", ""))
        assert not any(c in shown for c in [*expected, wrong])


def test_bad_token_records_are_refused_clearly():
    with pytest.raises(InputError, match="under 112 bits"):
        TotpToken(b"short seed")
    with pytest.raises(InputError, match="MD5"):
        TotpToken(SEED, "MD5")
    with pytest.raises(InputError, match="6 to 8"):
        TotpToken(SEED, digits=9)
    with pytest.raises(InputError, match="time step"):
        TotpToken(SEED, period=0)


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
def test_codes_from_a_virtual_keys_oath_applet(algorithm):
    """End to end in-process: the virtual YubiKey's OATH applet computes, the core verifies."""
    session = OathSession(VirtualConnection(VirtualYubiKey.open(1000002, "5.4.3")))
    token = TotpToken(SEEDS[algorithm], algorithm, digits=6)
    data = CredentialData("Station:alice", OATH_TYPE.TOTP, HASH_ALGORITHM[algorithm], token.secret, digits=6)
    credential = session.put_credential(data)
    state = TotpState()
    for seconds in (0, 30, 95, 600):
        at = T0 + timedelta(seconds=seconds)
        shown = session.calculate_code(credential, int(at.timestamp())).value
        result = verify_totp(token, state, shown, at)
        assert isinstance(result, Accepted), (seconds, result)
        state = result.state
        assert isinstance(verify_totp(token, state, shown, at), Rejected)
