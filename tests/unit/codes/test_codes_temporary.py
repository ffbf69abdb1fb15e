"""Temporary access codes: period limits, once or for the period, expiry, revocation."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from station.codes import (
    Accepted,
    HashCost,
    Malformed,
    MalformedReason,
    Rejected,
    RejectReason,
    TemporaryCode,
    grant_temporary_code,
    verify_temporary_code,
)
from station.errors import InputError

CHEAP = HashCost(memory_kib=64, iterations=1, lanes=1)
NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
SHIFT_END = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)


def grant(single_use: bool, expires_at: datetime = SHIFT_END):
    return grant_temporary_code(NOW, expires_at, single_use=single_use, cost=CHEAP)


def reason(result) -> RejectReason:
    assert isinstance(result, Rejected), result
    return result.reason


def test_a_single_use_code_works_once():
    code, record = grant(single_use=True)
    first = verify_temporary_code(record, code, NOW + timedelta(minutes=5))
    assert isinstance(first, Accepted) and first.state.uses == 1
    assert first.state.first_used_at == NOW + timedelta(minutes=5)
    assert reason(verify_temporary_code(first.state, code, NOW + timedelta(minutes=6))) is RejectReason.REPLAY


def test_a_period_code_works_until_it_expires():
    code, record = grant(single_use=False)
    state = record
    for minutes in (0, 60, 479):
        result = verify_temporary_code(state, code.lower(), NOW + timedelta(minutes=minutes, seconds=59))
        assert isinstance(result, Accepted) and "valid until 2026-12-03T22:00:00Z" in result.message
        state = result.state
    assert state.uses == 3 and state.first_used_at == NOW + timedelta(seconds=59)
    expired = verify_temporary_code(state, code, SHIFT_END)
    assert reason(expired) is RejectReason.EXPIRED and "22:00:00Z" in expired.message


def test_not_before_it_was_granted():
    code, record = grant(single_use=False)
    early = verify_temporary_code(record, code, NOW - timedelta(seconds=1))
    assert reason(early) is RejectReason.NOT_YET_VALID


def test_revocation_stops_it_and_keeps_the_first_time():
    code, record = grant(single_use=False)
    revoked = record.revoked(NOW + timedelta(hours=1))
    assert isinstance(verify_temporary_code(revoked, code, NOW + timedelta(minutes=59)), Accepted)
    assert reason(verify_temporary_code(revoked, code, NOW + timedelta(hours=1))) is RejectReason.REVOKED
    assert revoked.revoked(NOW + timedelta(hours=2)).revoked_at == NOW + timedelta(hours=1)


def test_wrong_and_malformed_codes():
    code, record = grant(single_use=True)
    other, _ = grant(single_use=True)
    wrong = verify_temporary_code(record, other, NOW)
    assert reason(wrong) is RejectReason.WRONG_CODE and other not in wrong.message + wrong.hint
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    result = verify_temporary_code(record, typo, NOW)
    assert isinstance(result, Malformed) and result.reason is MalformedReason.TYPO
    assert verify_temporary_code(record, code, NOW).state.uses == 1  # the malformed tries cost nothing


@pytest.mark.parametrize("expires_at,says", [
    (NOW, "after it is granted"), (NOW - timedelta(hours=1), "after it is granted"),
    (NOW + timedelta(hours=12, seconds=1), "at most 12 hours"),
])
def test_a_period_that_is_empty_or_too_long_is_refused(expires_at, says):
    with pytest.raises(InputError, match=says):
        grant(single_use=True, expires_at=expires_at)


def test_the_longest_period_is_allowed_and_configurable():
    longest = NOW + timedelta(hours=12)
    assert grant(single_use=False, expires_at=longest)[1].expires_at == longest
    with pytest.raises(InputError, match="at most 4 hours"):
        grant_temporary_code(NOW, SHIFT_END, single_use=True, max_lifetime=timedelta(hours=4), cost=CHEAP)


def test_the_record_keeps_no_code_and_round_trips():
    code, record = grant(single_use=True)
    stored = json.dumps(record.to_json()) + repr(record)
    assert code not in stored and code.replace("-", "") not in stored
    used = verify_temporary_code(record, code, NOW).state.revoked(NOW + timedelta(hours=1))
    assert TemporaryCode.from_json(json.loads(json.dumps(used.to_json()))) == used
