"""The verifier's batch check vouches only for what the exact check of each entry accepts.

``ledger.verify`` checks entries a batch at a time with C-level passes (one re-encoding of all the
parsed documents compared with the rows joined by commas, joined fields matched by one pattern) and
falls back to the exact check of each entry when the batch path does not vouch for a batch. These
properties hold the batch path to the exact one: on clean batches it accepts (so it is the path
taken), and whatever it accepts after a mutation, the exact path accepts identically. The mutations
include the ones a join could hide: a row cut at an inner comma with its tail moved to the next row
(the joined bytes stay the same), two rows merged into one, and commas and brackets inside strings.

The compiled core (``ledger._verifycore``), which vouches for rows one by one and hands the first row it
does not vouch for to the exact check, is held to more: after any mutation it reaches exactly the
exact path's verdict and state.
"""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger import _verifycore
from ledger.canonical import _OPT
from ledger.entry import GENESIS_PREV, encode_entry
from ledger.merkle import leaf_hash
from ledger.verify import Job, _fast_batch, _one, _Scan, check_batch

T0 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
ORIGIN = "tokens.example.org/test"

_text = st.text(st.characters(codec="utf-8", max_codepoint=0xFFFF), max_size=8) | st.sampled_from(
    ['","', "],[", "}", '{"a":1}', "\\", '"', "\x00", "\u2028", "é", "\ue000"]
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_bodies = st.lists(st.dictionaries(_text, _json, max_size=4), min_size=1, max_size=6)


def entry(seq, body, prev):
    at = T0 + timedelta(seconds=seq % 100_000)
    return encode_entry(seq=seq, at=at, type="token.issued", actor="op-1", body=body, prev=prev)


def chain(bodies, start=0, prev=GENESIS_PREV):
    raws = []
    for i, body in enumerate(bodies):
        raws.append(entry(start + i, body, prev))
        prev = leaf_hash(raws[-1]).hex()
    return raws


def relink(raws, bodies, start):
    """Re-encode entries ``start``.. to link to the (mutated) rows before them, as a forger would."""
    for j in range(start, len(raws)):
        raws[j] = entry(j, bodies[j], leaf_hash(raws[j - 1]).hex())


def rows_of(raws, start, recorded=None):
    """Rows as the database gives them: (seq, bytes, hex leaf hash); ``recorded`` overrides hashes."""
    recorded = recorded or {}
    return [(start + i, raw, recorded.get(i, leaf_hash(raw).hex().encode())) for i, raw in enumerate(raws)]


def scanner(start, n, prev):
    scan = _Scan(Job(("bundle", ""), start, start + n, start + n, ORIGIN, ()))
    scan.prev = prev
    return scan


def by_batch(raws, start, prev, recorded=None):
    scan = scanner(start, len(raws), prev)
    return _fast_batch(scan, rows_of(raws, start, recorded)), scan


def by_core(raws, start, prev, recorded=None):
    scan = scanner(start, len(raws), prev)
    scan.core = _verifycore
    return check_batch(scan, rows_of(raws, start, recorded)), scan


def one_by_one(raws, start, prev, recorded=None):
    scan = scanner(start, len(raws), prev)
    for row in rows_of(raws, start, recorded):
        problem = _one(scan, row)
        if problem is not None:
            return problem, scan
    return None, scan


def state(scan):
    res = scan.res
    return scan.expected, scan.prev, scan.leaves, res.first_prev, res.min_v2, res.max_v1, res.specials


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies, st.integers(0, 2**40), st.booleans())
def test_clean_batches_take_the_batch_path(bodies, start, first):
    raws = chain(bodies, start)
    prev = None if first else GENESIS_PREV
    outcome, batch_scan = by_batch(raws, start, prev)
    exact, exact_scan = one_by_one(raws, start, prev)
    core, core_scan = by_core(raws, start, prev)
    assert outcome is None and exact is None and core is None
    assert state(batch_scan) == state(exact_scan) == state(core_scan)
    # The core vouched for every row itself (none went to the exact check).
    assert _verifycore.scan_rows(rows_of(raws, start), 0, start, prev)[0] == len(raws)


MUTATIONS = ["flip", "delete", "insert", "space", "escape", "float", "split", "merge", "swap", "bool"]
MUTATIONS += ["field"]
# Values of the right JSON shape but wrong for the field, or right only in another type.
BAD_FIELDS = {
    "v": [1, 3, True, 2.0, "2", None],
    "seq": [-1, "0", 0.0, 1.0, True, None, 10**6],
    "at": [
        "2026-03-01T24:00:00.000000Z", "2026-02-30T10:00:00.000000Z", "2026-03-01T10:00:00Z", 5, "x",
        "2026-03-01T10:00:00.000000Z\n2026-03-01T10:00:00.000000Z",  # two joined by the separator
    ],
    "type": [
        "Token.issued", "token", "ledger.key_rotated", "a." + "b" * 64, 5, "token.issued\n",
        "token.issued\ntoken.issued", "a.b\nc.d",
    ],
    "actor": ["", "op\n1", "op\x7f", "x" * 129, 5, None],
    "body": [[], "x", 1, None, {"f": 1.5}, {"n": [{"f": 0.5}]}],
    "prev": ["0" * 63, "0" * 65, "G" * 64, 0, None, "A" * 64],
    "sigs": [[{}], {}, None, [[]], [1]],
}


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies, st.sampled_from(MUTATIONS), st.data())
@example([{"x": 1, "y": 2}, {"a": "b"}], "split", None)
def test_the_batch_path_accepts_only_what_the_exact_path_accepts(bodies, mutation, data):
    bodies = [*bodies, {"tail": 1}]
    raws = chain(bodies)
    original = list(raws)
    draw = data.draw if data is not None else (lambda s: 0)
    i = draw(st.integers(0, len(raws) - 2))
    raw = raws[i]
    position = draw(st.integers(0, len(raw) - 1))
    if mutation == "flip":
        raws[i] = raw[:position] + bytes([raw[position] ^ draw(st.integers(1, 255))]) + raw[position + 1 :]
    elif mutation == "delete":
        raws[i] = raw[:position] + raw[position + 1 :]
    elif mutation == "insert":
        raws[i] = raw[:position] + bytes([draw(st.integers(0, 255))]) + raw[position:]
    elif mutation == "space":
        raws[i] = raw[:position] + b" " + raw[position:]
    elif mutation == "escape":
        raws[i] = raw.replace(b"o", b"\\u006f", 1)
    elif mutation == "float":
        raws[i] = raw.replace(b'"v":2', b'"v":2.0').replace(b"1", b"1.0", draw(st.integers(0, 1)))
    elif mutation == "bool":
        raws[i] = raw.replace(b"true", b"1", 1).replace(b'"sigs":[]', b'"sigs":[[]]', draw(st.integers(0, 1)))
    elif mutation == "split":
        # Cut the row at one of its commas and move the tail to the front of the next row: the
        # rows joined with commas are byte for byte what they were.
        commas = [k for k, c in enumerate(raw) if c == ord(",")]
        k = commas[draw(st.integers(0, len(commas) - 1))]
        # The next entry links to the cut row, so that the joined rows read as a valid chain.
        raws[i] = raw[:k]
        raws[i + 1] = raw[k + 1 :] + b"," + entry(i + 1, bodies[i + 1], leaf_hash(raws[i]).hex())
    elif mutation == "field":
        name = draw(st.sampled_from(sorted(BAD_FIELDS)))
        document = orjson.loads(raw)
        document[name] = draw(st.sampled_from(BAD_FIELDS[name]))
        raws[i] = orjson.dumps(document, option=_OPT)  # canonical: only the field is wrong
    elif mutation == "merge":
        raws[i : i + 2] = [raw + b"," + raws[i + 1]]
        bodies = [*bodies[: i + 1], *bodies[i + 2 :]]
    else:
        raws[i], raws[i + 1] = raws[i + 1], raws[i]
    if raws == original:
        return  # the mutation changed nothing
    relink(raws, bodies, i + 2 if mutation in ("split", "swap") else i + 1)
    recorded = {}
    if draw(st.booleans()) and draw(st.booleans()):  # now and then, a wrong hash beside a row
        recorded = {draw(st.integers(0, len(raws) - 1)): draw(st.sampled_from([b"", b"0" * 64, b"ab"]))}
    outcome, batch_scan = by_batch(raws, 0, None, recorded)
    exact, exact_scan = one_by_one(raws, 0, None, recorded)
    core, core_scan = by_core(raws, 0, None, recorded)
    assert core == exact
    assert state(core_scan) == state(exact_scan)
    if outcome is None:
        assert exact is None, f"the batch path vouched for a batch the exact path refuses: {exact}"
        assert state(batch_scan) == state(exact_scan)
    if mutation in ("split", "merge"):
        assert outcome is False and exact is not None


@pytest.mark.parametrize("where", [0, 1, 2])
@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in BAD_FIELDS.items() for v in values])
def test_every_wrong_field_is_left_to_the_exact_path(name, value, where):
    bodies = [{"a": {"nested": [1]}}, {"b": 1}, {"c": "x"}, {"d": 2}]  # a nested value comes first
    raws = chain(bodies)
    document = orjson.loads(raws[where])
    document[name] = value
    raws[where] = orjson.dumps(document, option=_OPT)
    relink(raws, bodies, where + 1)
    outcome, batch_scan = by_batch(raws, 0, None)
    exact, exact_scan = one_by_one(raws, 0, None)
    core, core_scan = by_core(raws, 0, None)
    assert core == exact and state(core_scan) == state(exact_scan)
    if not (name == "prev" and where == 0):  # the core left the wrong row to the exact check
        assert _verifycore.scan_rows(rows_of(raws, 0), 0, 0, None)[0] <= where
    if name == "prev" and where == 0 and exact is None:
        # The first link is the caller's to check against the end of the previous chunk.
        assert outcome is None and state(batch_scan) == state(exact_scan)
    else:
        assert outcome is False
