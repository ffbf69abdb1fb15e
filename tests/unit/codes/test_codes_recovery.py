"""Recovery codes: format, typo detection, slow hashes only, single use, rotation by age."""

import itertools
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from station.codes import (
    Accepted,
    HashCost,
    Malformed,
    MalformedReason,
    RecoveryCodeSet,
    Rejected,
    RejectReason,
    human,
    issue_recovery_codes,
    rotation_due,
    verify_recovery_code,
)
from station.codes.recovery import add_months

CHEAP = HashCost(memory_kib=64, iterations=1, lanes=1)  # the format and rules, without 30 ms per hash
NOW = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def counting_rng():
    counter = itertools.count(1)
    return lambda n: bytes(next(counter) % 256 for _ in range(n))


@pytest.fixture
def issued():
    return issue_recovery_codes(NOW, cost=CHEAP)


def reason(result) -> RejectReason:
    assert isinstance(result, Rejected), result
    return result.reason


def test_a_set_is_ten_distinct_human_codes_and_keeps_only_hashes(issued):
    codes, kept = issued
    assert len(codes) == len(set(codes)) == 10 and all(FORMAT.match(c) for c in codes)
    assert human.random_bits(3) == 55
    stored = json.dumps(kept.to_json()) + repr(kept)
    for c in codes:
        assert c not in stored and c.replace("-", "") not in stored
    assert kept.remaining == 10 and kept.issued_at == NOW


def test_the_stored_hash_is_argon2id_of_the_code(issued):
    codes, kept = issued
    kdf = Argon2id(salt=kept.salt, length=32, iterations=CHEAP.iterations, lanes=CHEAP.lanes,
                   memory_cost=CHEAP.memory_kib)
    assert kdf.derive(codes[0].replace("-", "").encode()) == kept.hashes[0]


def test_the_default_cost_is_owasps_argon2id_minimum():
    codes, kept = issue_recovery_codes(NOW, count=1)
    assert kept.cost == HashCost(19 * 1024, 2, 1) and kept.to_json()["cost"]["kdf"] == "argon2id"
    assert isinstance(verify_recovery_code(kept, codes[0], NOW), Accepted)


def test_each_code_works_once_and_the_others_stay_good(issued):
    codes, kept = issued
    first = verify_recovery_code(kept, codes[3], NOW)
    assert isinstance(first, Accepted) and first.state.remaining == 9 and "9 left" in first.message
    assert first.state.used_at[3] == NOW
    again = verify_recovery_code(first.state, codes[3], NOW)
    assert reason(again) is RejectReason.REPLAY and "already used" in again.message
    state = first.state
    for c in codes[:3] + codes[4:]:
        state = verify_recovery_code(state, c, NOW).state
    assert state.remaining == 0
    assert all(reason(verify_recovery_code(state, c, NOW)) is RejectReason.REPLAY for c in codes)


def test_the_last_code_says_to_issue_a_new_set():
    codes, kept = issue_recovery_codes(NOW, count=1, cost=CHEAP)
    assert "last one" in verify_recovery_code(kept, codes[0], NOW).message


@pytest.mark.parametrize("form", [str.lower, lambda c: c.replace("-", ""), lambda c: c.replace("-", " "),
                                  lambda c: f" {c.lower().replace('-', ' - ')} "])
def test_case_dashes_and_spaces_do_not_matter(issued, form):
    codes, kept = issued
    assert isinstance(verify_recovery_code(kept, form(codes[0]), NOW), Accepted)


def test_o_i_and_l_are_read_as_digits():
    codes, kept = issue_recovery_codes(NOW, rng=counting_rng(), cost=CHEAP)
    code = next(c for c in codes if "0" in c or "1" in c)
    looks_alike = code.replace("0", "o").replace("1", "l")
    assert isinstance(verify_recovery_code(kept, looks_alike, NOW), Accepted)
    assert isinstance(verify_recovery_code(kept, code.replace("1", "I"), NOW), Accepted)


def test_every_single_typo_is_malformed_not_wrong(issued):
    codes, kept = issued
    canonical = codes[0].replace("-", "")
    for position, replacement in itertools.product(range(len(canonical)), human.ALPHABET):
        if replacement == canonical[position]:
            continue
        typo = canonical[:position] + replacement + canonical[position + 1:]
        result = human.read(typo, 3, what="recovery code")
        assert isinstance(result, Malformed) and result.reason is MalformedReason.TYPO, typo


@pytest.mark.parametrize("typed,why", [
    ("", MalformedReason.EMPTY), ("ABCD-EFGH", MalformedReason.WRONG_LENGTH),
    ("ABCD-EFGH-JKMN-P", MalformedReason.WRONG_LENGTH), ("ABCD-EFGH-JKMU", MalformedReason.BAD_CHARACTERS),
    ("ABCD-EFGH-JKM!", MalformedReason.BAD_CHARACTERS), ("ABCD-ÉFGH-JKMN", MalformedReason.BAD_CHARACTERS),
])
def test_malformed_recovery_codes(issued, typed, why):
    result = verify_recovery_code(issued[1], typed, NOW)
    assert isinstance(result, Malformed) and result.reason is why and "recovery code" in result.message


def test_a_well_formed_code_of_another_set_is_wrong(issued):
    other, _ = issue_recovery_codes(NOW, count=1, cost=CHEAP)
    result = verify_recovery_code(issued[1], other[0], NOW)
    assert reason(result) is RejectReason.WRONG_CODE and other[0] not in result.message


def test_rotation_by_age_to_the_calendar_day(issued):
    codes, kept = issued
    due = datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    assert kept.rotation_due_at() == due
    assert not rotation_due(kept, due - timedelta(seconds=1)) and rotation_due(kept, due)
    assert isinstance(verify_recovery_code(kept, codes[0], due - timedelta(seconds=1)), Accepted)
    expired = verify_recovery_code(kept, codes[0], due)
    assert reason(expired) is RejectReason.EXPIRED and "new set" in expired.hint
    assert rotation_due(kept, NOW + timedelta(days=200), max_age_months=6)


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(NOW, 1) == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)
    assert add_months(datetime(2024, 2, 29, tzinfo=UTC), 12) == datetime(2025, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2024, 2, 29, tzinfo=UTC), 48) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(9999, 6, 1, tzinfo=UTC), 12).year == 9999


def test_the_kept_set_round_trips_through_json(issued):
    codes, kept = issued
    used = verify_recovery_code(kept, codes[1], NOW).state
    back = RecoveryCodeSet.from_json(json.loads(json.dumps(used.to_json())))
    assert back == used
    assert reason(verify_recovery_code(back, codes[1], NOW)) is RejectReason.REPLAY
    assert isinstance(verify_recovery_code(back, codes[2], NOW), Accepted)
