"""RFC 8785 canonical form, the ledger's body rules, entry encoding and key helpers."""

import json
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger import (
    InvalidEventError,
    LedgerError,
    canonical_bytes,
    entry_hash,
    format_at,
    generate_key,
    key_id,
    parse_at,
    private_key_from_bytes,
    private_key_to_bytes,
    public_key_from_text,
    public_key_to_text,
)
from ledger.canonical import MAX_SAFE_INT, check_body
from ledger.entry import GENESIS_PREV, EntryFormatError, decode_entry, encode_entry

T0 = datetime(2025, 1, 31, 9, 15, tzinfo=UTC)


def test_rfc8785_section_3_2_2_example():
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_bytes(value) == expected


def test_rfc8785_section_3_2_3_sorts_keys_by_utf16_code_units():
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = list(json.loads(canonical_bytes(value)).values())
    # The emoji (surrogates D83D DE00) sorts before U+FB33: UTF-16 order, not code point order.
    assert order == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


@pytest.mark.parametrize(
    ("ieee_hex", "expected"),
    [  # RFC 8785 appendix B
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ],
)
def test_rfc8785_appendix_b_number_formatting(ieee_hex, expected):
    (number,) = struct.unpack(">d", bytes.fromhex(ieee_hex))
    assert canonical_bytes(number) == expected.encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53, {1: "x"}, object()])
def test_canonical_bytes_refuses_values_without_a_canonical_form(value):
    with pytest.raises(InvalidEventError):
        canonical_bytes(value)


def test_entry_hash_is_sha256():
    assert entry_hash(b"abc").hex() == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"n": MAX_SAFE_INT, "m": -MAX_SAFE_INT, "s": "é\u20ac", "b": False, "z": None},
        {"nested": [{"a": [1, 2, ()]}]},
    ],
)
def test_body_accepts_json_without_floats(body):
    check_body(body)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"x": 1.5}, "body.x"),
        ({"x": 1.0}, "body.x"),
        ({"x": [0, MAX_SAFE_INT + 1]}, "body.x[1]"),
        ({"x": -MAX_SAFE_INT - 1}, "body.x"),
        ({"x": {2: "a"}}, "body.x"),
        ({"x": b"bytes"}, "body.x"),
        ({"x": {"y": {1, 2}}}, "body.x.y"),
        ({"x": "\ud800"}, "body.x"),
        ({"x": datetime(2025, 1, 1, tzinfo=UTC)}, "body.x"),
    ],
)
def test_body_rejects_values_the_ledger_cannot_record(body, where):
    with pytest.raises(InvalidEventError) as info:
        check_body(body)
    assert info.value.message.startswith(where)
    assert info.value.hint


def test_format_at_is_fixed_width_utc():
    assert format_at(T0) == "2025-01-31T09:15:00.000000Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_at(datetime(2025, 1, 31, 11, 15, 0, 5, tzinfo=plus_two)) == ("2025-01-31T09:15:00.000005Z")
    assert parse_at(format_at(T0)) == T0


def test_format_at_rejects_naive_datetimes():
    with pytest.raises(InvalidEventError, match="naive"):
        format_at(datetime(2025, 1, 31, 9, 15))


@pytest.mark.parametrize("text", ["2025-01-31T09:15:00Z", "2025-01-31T09:15:00.000000+00:00", ""])
def test_parse_at_accepts_only_the_one_spelling(text):
    with pytest.raises(ValueError):
        parse_at(text)


def _encode(**changes):
    parts = {
        "seq": 0,
        "at": T0,
        "type": "token.issued",
        "actor": "op-1",
        "body": {"serial": 7},
        "prev": GENESIS_PREV,
    }
    parts.update(changes)
    return encode_entry(**parts)


def test_entry_encoding_is_the_canonical_v2_document():
    raw = _encode()
    assert raw == (
        b'{"actor":"op-1","at":"2025-01-31T09:15:00.000000Z","body":{"serial":7},'
        b'"prev":"' + GENESIS_PREV.encode() + b'","seq":0,"sigs":[],"type":"token.issued","v":2}'
    )
    assert decode_entry(raw)["body"] == {"serial": 7}


@pytest.mark.parametrize(
    "event_type", ["token", "Token.issued", "token..issued", "token.issued.", "1x.y", "a.b-c", 3]
)
def test_entry_rejects_bad_type_names(event_type):
    with pytest.raises(InvalidEventError, match="event type"):
        _encode(type=event_type)


@pytest.mark.parametrize("event_type", ["token.issued", "station.key_rotated", "a.b2.c_d"])
def test_entry_accepts_dotted_lowercase_type_names(event_type):
    assert decode_entry(_encode(type=event_type))["type"] == event_type


@pytest.mark.parametrize("actor", ["", "a\nb", None, "x" * 129])
def test_entry_rejects_bad_actors(actor):
    with pytest.raises(InvalidEventError, match="actor"):
        _encode(actor=actor)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda raw: raw.replace(b",", b", ", 1), "not in canonical form"),
        (lambda raw: raw.replace(b'"serial":7', b'"serial":7.0'), "not in canonical form"),
        (lambda raw: raw.replace(b"op-1", b"\\u006fp-1"), "not in canonical form"),
        (lambda raw: raw.replace(b"{", b'{"actor":"x",', 1), "duplicate member"),
        (lambda raw: raw.replace(b'"serial":7', b'"serial":NaN'), "not JSON"),
        (lambda raw: raw[:-1], "not valid JSON"),
        (lambda raw: raw.replace(b'"v":2', b'"v":3'), "unsupported version"),
        (lambda raw: raw.replace(b'"v":2', b'"v":2,"w":1'), "not a ledger entry"),
        (lambda raw: raw.replace(b',"sigs":[]', b''), "not a ledger entry"),
        (lambda raw: raw.replace(b'"sigs":[]', b'"sigs":[1]'), "bad sigs"),
        (lambda raw: raw.replace(b"09:15:00.000000Z", b"09:15:00Z"), "bad time"),
        (lambda raw: raw.replace(b'"serial":7', b'"serial":7.5'), "bad body"),
    ],
)
def test_decode_entry_refuses_non_canonical_or_malformed_bytes(mangle, reason):
    with pytest.raises(EntryFormatError, match=reason):
        decode_entry(mangle(_encode()))


def test_key_helpers_round_trip():
    signer = generate_key()
    public = signer.public_key()
    text = public_key_to_text(public)
    assert len(text) == 44
    assert key_id(public_key_from_text(f"  {text}\n")) == key_id(public) == key_id(signer)
    assert len(key_id(public)) == 16 and int(key_id(public), 16) >= 0
    raw = private_key_to_bytes(signer)
    assert len(raw) == 32
    assert key_id(private_key_from_bytes(raw)) == key_id(signer)
    assert key_id(generate_key()) != key_id(signer)


@pytest.mark.parametrize("text", ["", "not base64!", "AAAA"])
def test_public_key_from_text_rejects_garbage(text):
    with pytest.raises(LedgerError) as info:
        public_key_from_text(text)
    assert info.value.hint


def test_private_key_from_bytes_rejects_wrong_length():
    with pytest.raises(LedgerError):
        private_key_from_bytes(b"short")


# --- the fast canonical path equals RFC 8785 (property tests) ------------------------------------

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ledger.canonical import canonical_fast, parse_canonical  # noqa: E402
from ledger.entry import fast_decode  # noqa: E402

# Text that reaches the corners: control characters, the escapes, DEL, the BMP's private and
# specials area (U+E000..U+FFFF, where UTF-16 and code point order part), astral characters.
_chars = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(
        ["\x00", "\x1f", '"', "\\", "/", "\x7f", "\u2028", "\ue000", "\uffff", "\U0001f600", "é"]
    ),
)
_text = st.text(_chars, max_size=12)
_ints = st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.sampled_from([0, -1, MAX_SAFE_INT, -MAX_SAFE_INT])
_json = st.recursive(
    st.none() | st.booleans() | _ints | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=700, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_text, _json, max_size=6))
@example({"\ufb33": 1, "\U0001f600": 2})  # UTF-16 order puts the emoji first
@example({"a": "\x00\x08\x09\x0a\x0c\x0d\x1f\x7f"})
def test_fast_encoding_is_rfc8785(document):
    assert canonical_fast(document) == canonical_bytes(document)
    if _bmp_only(document):  # beyond the BMP the fast check defers to the exact one
        assert parse_canonical(canonical_bytes(document)) == document


def _bmp_only(value):
    return all(ord(c) <= 0xFFFF for c in json.dumps(value, ensure_ascii=False))


@settings(max_examples=700, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_text, _json, max_size=4), st.data())
def test_fast_check_never_accepts_what_the_exact_check_refuses(body, data):
    raw = encode_entry(seq=3, at=T0, type="token.issued", actor="op-1", body=body, prev=GENESIS_PREV)
    assert fast_decode(raw) is None or fast_decode(raw) == decode_entry(raw)
    # Mutate the bytes: insert, delete or change one byte, or respell a piece of the JSON.
    position = data.draw(st.integers(0, len(raw) - 1))
    mutation = data.draw(st.sampled_from(["flip", "delete", "insert", "space", "escape", "number"]))
    if mutation == "flip":
        flipped = bytes([raw[position] ^ data.draw(st.integers(1, 255))])
        mutated = raw[:position] + flipped + raw[position + 1:]
    elif mutation == "delete":
        mutated = raw[:position] + raw[position + 1:]
    elif mutation == "insert":
        mutated = raw[:position] + bytes([data.draw(st.integers(0, 255))]) + raw[position:]
    elif mutation == "space":
        mutated = raw[:position] + b" " + raw[position:]
    elif mutation == "escape":
        mutated = raw.replace(b"o", b"\\u006f", 1)
    else:
        mutated = raw.replace(b'"seq":3', b'"seq":3.0').replace(b"3", b"3e0", 1)
    fast = fast_decode(mutated)
    try:
        exact = decode_entry(mutated)
    except EntryFormatError:
        exact = None
    if fast is not None:
        assert exact == fast  # the fast path accepts only what the exact check accepts, identically
