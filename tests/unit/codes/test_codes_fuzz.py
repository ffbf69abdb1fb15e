"""Property tests: whatever is typed, in whatever state and at whatever time, a verifier answers with a
result (never an exception), the result explains itself, and it never shows an expected code."""

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.codes import (
    Accepted,
    HashCost,
    HotpState,
    HotpToken,
    Malformed,
    Rejected,
    TotpState,
    TotpToken,
    YubicoOtpKey,
    YubicoOtpState,
    current_step,
    grant_temporary_code,
    human,
    issue_recovery_codes,
    parse_yubico_otp,
    resync_hotp,
    verify_hotp,
    verify_recovery_code,
    verify_temporary_code,
    verify_totp,
    verify_yubico_otp,
)
from station.codes.oath import MAX_COUNTER

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHEAP = HashCost(memory_kib=64, iterations=1, lanes=1)
T = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
TOTP = TotpToken(b"\x11" * 20, digits=6)
HOTP = HotpToken(b"\x22" * 20, digits=8)
YUBI = YubicoOtpKey(bytes.fromhex("ff0000123456"), bytes.fromhex("a1a2a3a4a5a6"), bytes(range(16)))
RECOVERY = issue_recovery_codes(T, count=3, cost=CHEAP)
TEMPORARY = grant_temporary_code(T, datetime(2026, 12, 3, 9, 0, tzinfo=UTC), single_use=True, cost=CHEAP)

# Mostly nonsense, plus strings close to each kind of code so the deeper paths are reached too.
digits = st.text(alphabet="0123456789 -", min_size=0, max_size=12)
modhex = st.text(alphabet="cbdefghijklnrtuvCBDEF0123456789 ", min_size=28, max_size=70)
crockford = st.text(alphabet=human.ALPHABET + "oilu- ", min_size=8, max_size=18)
typed = st.one_of(st.text(max_size=80), digits, modhex, crockford, st.none(), st.integers(),
                  st.binary(max_size=8))
times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))


def explained(result) -> str:
    assert isinstance(result, Accepted | Rejected | Malformed), result
    if isinstance(result, Accepted):
        assert result.message
        return result.message
    assert result.message and result.hint and str(result.reason)
    return result.message + result.hint


@FUZZ
@given(code=typed, now=times, last_step=st.integers(-1, 2**40), drift=st.integers(-(2**20), 2**20),
       window=st.integers(0, 3))
def test_totp_answers_everything(code, now, last_step, drift, window):
    text = explained(verify_totp(TOTP, TotpState(last_step, drift), code, now, window=window))
    step = current_step(TOTP, now)
    for s in range(max(0, step - 13), step + 14):
        assert TOTP.code_at(s) not in text


@FUZZ
@given(code=typed, second=typed, counter=st.integers(0, MAX_COUNTER + 1), look_ahead=st.integers(0, 20))
def test_hotp_answers_everything(code, second, counter, look_ahead):
    shown = explained(verify_hotp(HOTP, HotpState(counter), code, look_ahead=look_ahead))
    shown += explained(resync_hotp(HOTP, HotpState(counter), code, second, window=50))
    for c in range(max(0, counter - 51), min(counter + 52, MAX_COUNTER + 1)):
        assert HOTP.code_at(c) not in shown


@FUZZ
@given(otp=typed, usage=st.integers(-1, 0x7FFF), session=st.integers(-1, 255))
def test_yubico_otp_answers_everything(otp, usage, session):
    explained(verify_yubico_otp(YUBI, YubicoOtpState(usage, session), otp))
    parsed = parse_yubico_otp(otp)
    assert isinstance(parsed, Malformed | tuple)


@FUZZ
@given(code=typed, now=times)
def test_recovery_and_temporary_codes_answer_everything(code, now):
    codes, kept = RECOVERY
    shown = explained(verify_recovery_code(kept, code, now))
    temporary, record = TEMPORARY
    shown += explained(verify_temporary_code(record, code, now))
    for secret in (*codes, temporary):
        assert secret not in shown and secret.replace("-", "") not in shown


@FUZZ
@given(groups=st.integers(2, 5), data=st.data())
def test_generated_codes_always_read_back(groups, data):
    raw = data.draw(st.binary(min_size=4 * groups - 1, max_size=4 * groups - 1))
    code = human.generate(groups, lambda n: raw[:n])
    canonical = code.replace("-", "")
    assert human.read(code, groups, what="code") == canonical
    assert human.read(code.lower().replace("0", "o").replace("1", "l"), groups, what="code") == canonical
