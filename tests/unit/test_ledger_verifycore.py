"""The verifier's compiled core vouches for exactly the entries the exact Python check accepts.

``ledger._verifycore.entry_fields`` is the core's verdict on one entry by itself (its seq and link, or
None: "left to the exact check"); ``scan_rows`` applies the same check to rows in order. These tests
hold the verdict to ``decode_entry`` (RFC 8785 form through the ``rfc8785`` package, the structure
checks) on canonical encodings of generated documents with right and wrong fields, on other encodings
of them, on byte-level mutations of good entries and on arbitrary bytes; the one difference allowed is
nesting deeper than the core's limit (254 containers, the depth orjson, the fast Python path, takes),
which the core leaves to the exact check. Rows that are not what the database gives, and bad
arguments, must be refused without a crash.
"""

import json
import os
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import rfc8785
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from ledger import _verifycore as core
from ledger import merkle
from ledger.entry import GENESIS_PREV, EntryFormatError, decode_entry, fast_decode
from ledger.verify import CORE_ENV, Job, _one, _Scan, check_batch

MAX_DEPTH = 254
HEX = "0123456789abcdef"


def python_verdict(raw):
    """(seq, prev) when the exact check accepts ``raw`` as an entry the core may vouch for alone."""
    try:
        doc = decode_entry(raw)
    except EntryFormatError:
        return None
    if doc["v"] != 2 or doc["sigs"] or doc["type"].startswith("ledger."):
        return None  # v1 entries, endorsements and ledger events are the exact path's alone
    return doc["seq"], doc["prev"]


def depth(value):
    """Containers nested in ``value`` (the entry's own object counts 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def assert_agree(raw):
    ours, theirs = core.entry_fields(raw), python_verdict(raw)
    if ours != theirs:
        assert ours is None, f"the core vouched for an entry the exact check refuses: {raw!r}"
        assert depth(json.loads(raw)) > MAX_DEPTH, f"the core refused an entry the exact check takes: {raw!r}"
    return ours


def encode(doc, how="canonical"):
    if how == "canonical":
        try:
            return rfc8785.dumps(doc)
        except rfc8785.CanonicalizationError:  # out-of-range integers: spelled plainly instead
            how = "sorted"
    if how == "sorted":
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if how == "ascii":
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    if how == "unsorted":
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    if how == "orjson":  # sorts by code point, not UTF-16 unit: differs beyond the BMP
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()  # with spaces


# Text that reaches every branch of the string scanner: controls, quotes, backslashes, DEL, the BMP's
# top (U+E000..U+FFFF, which UTF-16 orders after the surrogate pairs of astral characters) and beyond.
_char = st.characters(codec="utf-8") | st.sampled_from(
    ["\x00", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1f", '"', "\\", "/", "\x7f", "\u2028", "\ue000",
     "\uffff", "\U00010000", "\U0010ffff", "é"]
)
_text = st.text(_char, max_size=6)
_ints = st.integers(-(2**53) - 2, 2**53 + 2) | st.sampled_from([0, -1, 2**53 - 1, -(2**53) + 1, 2**53])
_json = st.recursive(
    st.none() | st.booleans() | _ints | _text | st.sampled_from([1.5, -0.0, 1e21, 2.0]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=10,
)
_instants = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)).map(
    lambda t: t.isoformat(timespec="microseconds") + "Z"
)
_at_like = st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")
_types = st.from_regex(r"\A[a-z][a-z0-9_]{0,6}(\.[a-z][a-z0-9_]{0,6}){1,3}\Z") | st.sampled_from(
    ["token.issued", "ledger.key_rotated", "ledger", "ledgerx.a", "a.ledger.b", "a." + "b" * 62,
     "a." + "b" * 63, "Token.issued", "token", "token.", "token..x", "token.1x", "a.b\n", ""]
)
_actors = _text | st.sampled_from(["op-1", "é" * 128, "é" * 129, "x" * 128, "x" * 129, "\U00010000" * 128])
_hashes = st.text(HEX, min_size=64, max_size=64) | st.sampled_from(
    [GENESIS_PREV, "A" * 64, "0" * 63, "0" * 65, "g" * 64]
)
FIELDS = {
    "v": st.just(2) | st.sampled_from([1, 3, True, 2.0, "2", None]),
    "seq": st.integers(0, 2**53 + 1) | st.sampled_from([-1, "0", 1.0, True, None]),
    "at": _instants | _at_like | st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01 00:00:00.000000Z"]),
    "type": _types,
    "actor": _actors | _json,
    "body": st.dictionaries(_text, _json, max_size=5) | _json,
    "prev": _hashes,
    "sigs": st.just([]) | st.sampled_from([[{"key": "k", "sig": "s"}], [{}], {}, [[]], None]),
}


# Values the exact check accepts, so that most documents are entries and the rest differ by a field.
VALID = {
    "v": st.just(2),
    "seq": st.integers(0, 2**53 - 1),
    "at": _instants,
    "type": st.from_regex(r"\A[a-z][a-z0-9_]{0,6}(\.[a-z][a-z0-9_]{0,6}){1,3}\Z"),
    "actor": st.text(st.characters(codec="utf-8", exclude_categories=["Cc"]), min_size=1, max_size=8),
    "body": st.dictionaries(_text, _json, max_size=5),
    "prev": st.text(HEX, min_size=64, max_size=64),
    "sigs": st.just([]),
}


@st.composite
def documents(draw):
    wrong = draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=2))
    doc = {name: draw(FIELDS[name] if name in wrong else VALID[name]) for name in FIELDS}
    change = draw(st.sampled_from(["none"] * 6 + ["drop", "add"]))
    if change == "drop":
        del doc[draw(st.sampled_from(sorted(FIELDS)))]
    elif change == "add":
        doc[draw(_text)] = draw(_json)
    return doc


def nested(levels, array=False):
    """The canonical bytes of 1 inside ``levels`` arrays or objects (built as text: encoders recurse)."""
    return (b"[" * levels + b"1" + b"]" * levels) if array else (b'{"a":' * levels + b"1" + b"}" * levels)


def good_entry(body, seq=0, prev=GENESIS_PREV):
    doc = {"v": 2, "seq": seq, "at": "2026-01-01T00:00:00.000000Z", "type": "token.issued", "actor": "op-1",
           "body": body, "prev": prev, "sigs": []}
    return rfc8785.dumps(doc)


def test_the_compiled_core_is_built():
    # setup.sh builds it; without it the verifier falls back to the Python path, slowly.
    assert core.__file__.endswith(".so")
    assert os.environ.get(CORE_ENV) in (None, "", "c", "python")


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents(), st.sampled_from(["canonical"] * 5 + ["sorted", "ascii", "unsorted", "orjson", "spaced"]))
@example({"v": 2, "seq": 0, "at": "2026-01-01T00:00:00.000000Z", "type": "a.b", "actor": "x",
          "body": {"\ue000": 1, "\U00010000": 2}, "prev": GENESIS_PREV, "sigs": []}, "canonical")
@example({"v": 2, "seq": 0, "at": "2026-01-01T00:00:00.000000Z", "type": "a.b", "actor": "x",
          "body": {"\ue000": 1, "\U00010000": 2}, "prev": GENESIS_PREV, "sigs": []}, "orjson")
def test_the_core_agrees_with_the_exact_check_on_documents(doc, how):
    try:
        raw = encode(doc, how)
    except (TypeError, ValueError, orjson.JSONEncodeError):
        return  # not encodable that way (orjson and big integers)
    event("vouched" if assert_agree(raw) else "left to the exact check")


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_text, _json, max_size=6), st.data())
def test_the_core_agrees_on_mutated_entries(body, data):
    try:
        raw = good_entry(body, seq=data.draw(st.integers(0, 2**53 - 1)))
    except rfc8785.CanonicalizationError:
        return  # an integer beyond 53 bits has no canonical form
    if python_verdict(raw) is None:
        return  # the body holds a float or an out-of-range integer: not an entry
    assert core.entry_fields(raw) is not None
    position = data.draw(st.integers(0, len(raw) - 1))
    kind = data.draw(st.sampled_from(["flip", "set", "delete", "insert", "cut", "repeat"]))
    if kind == "flip":
        raw = raw[:position] + bytes([raw[position] ^ data.draw(st.integers(1, 255))]) + raw[position + 1 :]
    elif kind == "set":
        byte = data.draw(st.sampled_from([b'"', b"\\", b",", b"}", b"]", b"0", b"-", b"\x7f", b"\x80",
                                          b"\xee", b"\xf0", b"\xff"]))
        raw = raw[:position] + byte + raw[position + 1 :]
    elif kind == "delete":
        raw = raw[:position] + raw[position + 1 :]
    elif kind == "insert":
        raw = raw[:position] + data.draw(st.binary(min_size=1, max_size=4)) + raw[position:]
    elif kind == "cut":
        raw = raw[:position]
    else:
        end = data.draw(st.integers(position, len(raw)))
        raw = raw[:end] + raw[position:end] + raw[end:]
    assert_agree(raw)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400) | st.binary(max_size=300).map(lambda b: b'{"actor":"a","at":"' + b))
def test_arbitrary_bytes_never_pass_the_core_where_the_exact_check_refuses(raw):
    assert_agree(raw)


@pytest.mark.parametrize("array", [False, True])
@pytest.mark.parametrize("levels", [0, 1, 251, 252, 253, 300, 2000])
def test_nesting_is_limited_as_on_the_fast_python_path(levels, array):
    raw = good_entry({"x": 0}).replace(b'{"x":0}', b'{"x":' + nested(levels, array) + b"}")
    vouched = core.entry_fields(raw) is not None
    assert vouched == (fast_decode(raw) is not None) == (levels <= 252)  # 2 + 252 containers
    if levels <= 300:
        assert python_verdict(raw) is not None  # the exact check takes deeper ones itself


@pytest.mark.parametrize("char", [chr(c) for c in [*range(0x20), 0x22, 0x5C, 0x7F, 0x2028, 0xFFFF, 0x10FFFF]])
def test_each_escape_as_rfc_8785_writes_it_and_no_other(char):
    canonical = good_entry({"s": char})
    assert core.entry_fields(canonical) is not None
    spelled = json.dumps(char)  # ASCII only: \\u escapes for the rest, surrogate pairs beyond the BMP
    spellings = {spelled, spelled.upper().replace("\\U", "\\u"), f'"\\u{ord(char):04x}"', '"\\/"'}
    for other in spellings - {rfc8785.dumps(char).decode()}:
        raw = canonical.replace(rfc8785.dumps(char), other.encode())
        assert core.entry_fields(raw) is None and python_verdict(raw) is None, other


def test_members_are_ordered_by_utf16_code_units():
    # U+10000 is D800 DC00 in UTF-16, before U+E000; by code point (and UTF-8 bytes) it comes after.
    body = {"\ue000": 1, "\U00010000": 2}
    canonical = good_entry(body)
    by_code_point = canonical.replace(
        rfc8785.dumps(body), b'{"' + "\ue000".encode() + b'":1,"' + "\U00010000".encode() + b'":2}'
    )
    assert canonical != by_code_point
    assert core.entry_fields(canonical) == python_verdict(canonical) == (0, GENESIS_PREV)
    assert core.entry_fields(by_code_point) is None and python_verdict(by_code_point) is None


@pytest.mark.parametrize(
    ("spelling", "ok"),
    [(b"9007199254740991", True), (b"-9007199254740991", True), (b"9007199254740992", False),
     (b"-9007199254740992", False), (b"0", True), (b"-0", False), (b"01", False), (b"1.0", False),
     (b"1e2", False), (b"1E2", False), (b"+1", False), (b"99999999999999999999", False), (b"-", False)],
)
def test_integers_in_rfc_8785_form_and_range(spelling, ok):
    raw = good_entry({"n": 7}).replace(b'"n":7', b'"n":' + spelling)
    assert (core.entry_fields(raw) is not None) == ok == (python_verdict(raw) is not None)


@pytest.mark.parametrize(
    ("at", "ok"),
    [("2024-02-29T23:59:59.999999Z", True), ("2023-02-29T00:00:00.000000Z", False),
     ("2000-02-29T00:00:00.000000Z", True), ("1900-02-29T00:00:00.000000Z", False),
     ("0001-01-01T00:00:00.000000Z", True), ("0000-01-01T00:00:00.000000Z", False),
     ("2026-04-31T00:00:00.000000Z", False), ("2026-12-31T24:00:00.000000Z", False),
     ("2026-12-31T23:60:00.000000Z", False), ("2026-12-31T23:59:60.000000Z", False),
     ("2026-13-01T00:00:00.000000Z", False), ("2026-00-01T00:00:00.000000Z", False),
     ("2026-01-00T00:00:00.000000Z", False), ("\u0662026-01-01T00:00:00.000000Z", False)],
)
def test_times_name_real_instants(at, ok):
    raw = good_entry({}).replace(b"2026-01-01T00:00:00.000000Z", at.encode())
    assert (core.entry_fields(raw) is not None) == ok == (python_verdict(raw) is not None)


def test_tile_root_is_the_perfect_subtree_root():
    for width in (1, 2, 4, 8, 64, 256):
        hashes = [merkle.leaf_hash(str(i).encode()) for i in range(width)]
        assert core.tile_root(b"".join(hashes)) == merkle.perfect_root(hashes)
        assert core.tile_root(bytearray(b"".join(hashes))) == merkle.perfect_root(hashes)
    for bad in (b"", b"\x00" * 31, b"\x00" * 33, b"\x00" * 96):
        with pytest.raises(ValueError, match="perfect subtree"):
            core.tile_root(bad)


def rows(raws, start=0):
    return [(start + i, raw, merkle.leaf_hash(raw).hex().encode()) for i, raw in enumerate(raws)]


def chain(n, start=0, prev=GENESIS_PREV):
    raws = []
    for i in range(n):
        raws.append(good_entry({"i": i}, seq=start + i, prev=prev))
        prev = merkle.leaf_hash(raws[-1]).hex()
    return raws


def test_scan_rows_hashes_and_links():
    raws = chain(5, start=7)
    count, leaves, first = core.scan_rows(rows(raws, 7), 0, 7, None)
    assert (count, first) == (5, GENESIS_PREV)
    assert leaves == b"".join(merkle.leaf_hash(r) for r in raws)
    assert core.scan_rows(rows(raws, 7), 2, 9, merkle.leaf_hash(raws[1]).hex())[:2] == (3, leaves[64:])
    assert core.scan_rows(rows(raws, 7), 0, 7, "1" * 64)[0] == 0  # the first link is wrong
    assert core.scan_rows(rows(raws, 7), 0, 8, None)[0] == 0  # not the expected seq
    assert core.scan_rows(rows(raws, 7), 5, 12, None) == (0, b"", None)


@pytest.mark.parametrize(
    "row",
    [None, (), (0,), (0, b"", b""), (0, "entry", b"0" * 64), (0, bytearray(b"x"), b"0" * 64),
     (True, b"x", b"0" * 64), (-1, b"x", b"0" * 64), (2**70, b"x", b"0" * 64), ("0", b"x", b"0" * 64),
     (0, b"x", b"0" * 64, b""), [0, b"x", b"0" * 64], (0, None, b""), (0, b"x", "0" * 64)],
)
def test_rows_not_as_the_database_gives_them_stop_the_core(row):
    good = rows(chain(2))
    assert core.scan_rows([good[0], row, good[1]], 0, 0, None)[0] == 1
    # A good entry under a wrong row shape as well.
    if isinstance(row, tuple) and len(row) == 3:
        odd = (row[0], good[1][1], row[2])
        assert core.scan_rows([good[0], odd], 0, 0, None)[0] == 1


def test_recorded_hash_must_be_the_lowercase_leaf_hash():
    (seq, raw, recorded), = rows(chain(1))
    assert core.scan_rows([(seq, raw, recorded)], 0, 0, None)[0] == 1
    for wrong in (recorded.upper(), recorded[:-1] + b"0" if recorded[-1:] != b"0" else recorded[:-1] + b"1",
                  merkle.leaf_hash(raw), b"0" * 64):
        assert core.scan_rows([(seq, raw, wrong)], 0, 0, None)[0] == 0


def test_bad_arguments_are_errors_not_crashes():
    good = rows(chain(1))
    with pytest.raises(TypeError):
        core.scan_rows(tuple(good), 0, 0, None)
    with pytest.raises(ValueError):
        core.scan_rows(good, 2, 0, None)
    with pytest.raises(ValueError):
        core.scan_rows(good, -1, 0, None)
    with pytest.raises(TypeError):
        core.scan_rows(good, 0, "0", None)
    for prev in ("0" * 63, b"0" * 64, 0, "é" * 64):
        with pytest.raises(TypeError):
            core.scan_rows(good, 0, 0, prev)
    assert core.scan_rows(good, 0, 2**80, None)[0] == 0  # no seq that large is canonical
    assert core.scan_rows(good, 0, 2**53, None)[0] == 0
    with pytest.raises(TypeError):
        core.entry_fields("text")
    with pytest.raises(TypeError):
        core.tile_root("text")


def scan_both(batch):
    """(problem, state) of the core path and of the exact check, entry by entry, on the same rows."""
    out = []
    for use_core in (True, False):
        scan = _Scan(Job(("bundle", ""), 0, len(batch), len(batch), "tokens.example.org/test", ()))
        scan.core = core if use_core else None
        if use_core:
            problem = check_batch(scan, list(batch))
        else:
            problem = next((p for row in batch if (p := _one(scan, row)) is not None), None)
        res = scan.res
        out.append((problem, scan.expected, scan.prev, bytes(scan.leaves), res.first_prev, res.min_v2))
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=4), st.data())
def test_rows_of_arbitrary_bytes_get_the_exact_verdict(junk, data):
    # Good rows with junk between them; the recorded hash is the junk's own leaf hash, or junk too.
    good = chain(len(junk) + 1)
    raws = [r for pair in zip(good, junk, strict=False) for r in pair] + good[len(junk) :]
    batch = rows(raws)
    if data.draw(st.booleans()):
        k = data.draw(st.integers(0, len(batch) - 1))
        batch[k] = (batch[k][0], batch[k][1], data.draw(st.binary(max_size=70)))
    with_core, exact = scan_both(batch)
    assert with_core == exact


def test_both_paths_agree_on_a_timeline_of_dates():
    # Every day of a leap year and a century, through the whole scan: the core's calendar is Python's.
    start = datetime(1999, 12, 1, tzinfo=UTC)
    raws, prev = [], GENESIS_PREV
    for i in range(800):
        at = (start + timedelta(days=i, seconds=i * 37)).isoformat(timespec="microseconds")[:-6] + "Z"
        raw = good_entry({"i": i}, seq=i, prev=prev).replace(b"2026-01-01T00:00:00.000000Z", at.encode())
        raws.append(raw)
        prev = merkle.leaf_hash(raw).hex()
    with_core, exact = scan_both(rows(raws))
    assert with_core == exact and with_core[0] is None and with_core[1] == 800
    assert core.scan_rows(rows(raws), 0, 0, None)[0] == 800


# --- the core's own reader of a database file ------------------------------------------------------


def ledger_file(tmp_path, n=300):
    """A closed ledger file of n entries (one transaction), some of them endorsed or ledger events."""
    from ledger import Ledger, generate_key

    key = generate_key()
    path = tmp_path / "ledger.db"
    with Ledger.open(path, key, origin="tokens.example.org/test") as ledger, ledger.atomic() as tx:
        for i in range(n):
            tx.append("token.issued", {"serial": i, "note": "é" if i % 7 else "\U0001f511"}, actor="op-1",
                      at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i))
    return path, key


def test_reader_reads_what_sqlite3_reads(tmp_path):
    import sqlite3

    from ledger.verify import _uri

    path, _ = ledger_file(tmp_path)
    reader = core.Reader(_uri(str(path)))
    conn = sqlite3.connect(path)
    batch = conn.execute("SELECT seq, entry, CAST(hash AS BLOB) FROM ledger_entries ORDER BY seq").fetchall()
    conn.close()
    assert reader.scan(0, 300, None) == core.scan_rows(batch, 0, 0, None)
    assert reader.scan(0, 300, None)[0] == 300
    link = batch[9][2].decode()
    assert reader.scan(10, 266, link) == core.scan_rows(batch[10:266], 0, 10, link)
    assert reader.scan(300, 300, None) == (0, b"", None)
    assert reader.scan(299, 400, None)[0] == 1  # the rows there are, no more
    with pytest.raises(ValueError):
        reader.scan(-1, 5, None)
    with pytest.raises(ValueError):
        reader.scan(5, 4, None)
    with pytest.raises(ValueError):
        reader.scan(0, 65537, None)
    with pytest.raises(TypeError):
        reader.scan(0, 5, "x")
    reader.close()
    reader.close()
    with pytest.raises(ValueError):
        reader.scan(0, 5, None)
    with pytest.raises(OSError):
        core.Reader(_uri(str(tmp_path / "missing.db")))


TAMPERS = [
    "UPDATE ledger_entries SET entry = CAST(entry AS TEXT) WHERE seq = {k}",
    "UPDATE ledger_entries SET hash = CAST(hash AS BLOB) WHERE seq = {k}",
    "UPDATE ledger_entries SET hash = upper(hash) WHERE seq = {k}",
    "UPDATE ledger_entries SET hash = NULL WHERE seq = {k}",
    "UPDATE ledger_entries SET hash = 7 WHERE seq = {k}",
    "UPDATE ledger_entries SET hash = x'ff' || substr(hash, 2) WHERE seq = {k}",
    "UPDATE ledger_entries SET entry = x'' WHERE seq = {k}",
    "UPDATE ledger_entries SET entry = NULL WHERE seq = {k}",
    "UPDATE ledger_entries SET entry = 12 WHERE seq = {k}",
    "UPDATE ledger_entries SET entry = entry || x'20' WHERE seq = {k}",
    "UPDATE ledger_entries SET entry = replace(entry, 'op-1', 'op-2') WHERE seq = {k}",
    "DELETE FROM ledger_entries WHERE seq = {k}",
    "DELETE FROM ledger_entries WHERE seq >= {k}",
    "DELETE FROM ledger_entries WHERE seq BETWEEN {k} AND {k} + 20",
    "UPDATE ledger_entries SET seq = seq + 1000 WHERE seq = {k}",
    "UPDATE ledger_entries SET seq = -1 WHERE seq = {k}",
    "INSERT INTO ledger_entries SELECT seq + 10000, entry, hash, signature, key_id FROM ledger_entries"
    " WHERE seq = {k}",
    "DELETE FROM ledger_tree WHERE level = 8 AND idx = {k} / 256",
    "UPDATE ledger_tree SET hash = zeroblob(32) WHERE level = 8",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(TAMPERS), st.integers(0, 299)), min_size=1, max_size=3))
def test_the_reader_path_reports_what_the_python_path_reports(tmp_path_factory, monkeypatch, tampers):
    import shutil
    import sqlite3

    from ledger import Ledger

    base = tmp_path_factory.mktemp("reader")
    source = base / "source"
    source.mkdir()
    if not (template := tmp_path_factory.getbasetemp() / "reader-template.db").exists():
        shutil.copy(ledger_file(source)[0], template)
    path = base / "tampered.db"
    shutil.copy(template, path)
    conn = sqlite3.connect(path)
    for trigger in ("no_update", "no_delete", "append_only"):
        conn.execute(f"DROP TRIGGER IF EXISTS ledger_entries_{trigger}")
    harmful = False
    for sql, k in tampers:
        before = conn.total_changes
        try:
            conn.execute(sql.format(k=k))
        except sqlite3.IntegrityError:
            continue  # NOT NULL, or a renumbering onto a seq that exists: nothing changed
        # The hash column as a blob holds the same bytes: the one change that is no damage.
        harmful |= conn.total_changes > before and "CAST(hash AS BLOB)" not in sql
    conn.commit()
    conn.close()
    reports = {}
    for choice in ("c", "python"):
        monkeypatch.setenv(CORE_ENV, choice)
        with Ledger.open(path) as auditor:
            reports[choice] = auditor.verify(workers=1)
    assert reports["c"] == reports["python"]
    assert reports["c"].ok is not harmful
