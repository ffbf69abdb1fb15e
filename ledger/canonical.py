"""Canonical JSON (RFC 8785, JCS) and the entry hash.

``canonical_bytes`` is plain RFC 8785 (the ``rfc8785`` package): it accepts anything JCS can encode,
floats included, so it can be checked against the RFC's own vectors. The ledger is stricter about what
it lets into an event body (``check_body``): no floats at all, because a number that survives one JSON
library and not the next would make a signed record mean different things to different auditors.

That restriction is also what makes a fast path exact. The pure-Python ``rfc8785`` encoder costs about
30 us per entry; verifying a million entries must not. For documents of the ledger's grammar (objects,
arrays, strings, booleans, null and integers within +/-(2**53 - 1); no floats) orjson with sorted keys
and strict integers produces the RFC 8785 bytes: its string escaping is JCS's (the six short escapes,
``\\u00xx`` for other control characters, everything else literal UTF-8) and integers print alike. The
one difference is key order: orjson sorts by code point, JCS by UTF-16 code unit, which disagree only
for characters beyond the Basic Multilingual Plane; any output holding one (a 4-byte UTF-8 sequence)
goes the slow way. ``tests/unit/test_ledger_canonical.py`` checks fast == slow by property tests.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import rfc8785

from ledger.errors import InvalidEventError

_OPT = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER | orjson.OPT_PASSTHROUGH_SUBCLASS
_BEYOND_BMP = re.compile(rb"[\xf0-\xf4]")  # lead byte of every 4-byte UTF-8 sequence

# RFC 8785 (via I-JSON, RFC 7493) only guarantees integers that an IEEE 754 double holds exactly.
MAX_SAFE_INT = 2**53 - 1


def canonical_bytes(obj: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of ``obj``.

    Raises ``InvalidEventError`` when ``obj`` has no canonical form (NaN, infinities, integers beyond
    +/-(2**53 - 1), non-string keys, lone surrogates, unsupported types).
    """
    try:
        return rfc8785.dumps(obj)  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError as exc:
        raise InvalidEventError(
            f"value cannot be encoded as canonical JSON: {exc}",
            "use only strings, integers within +/-(2**53 - 1), booleans, null, lists and objects "
            "with string keys",
        ) from exc


def canonical_fast(obj: object) -> bytes:
    """``canonical_bytes(obj)`` for a document of the ledger's grammar (one that passed ``check_body``).

    Anything orjson cannot encode exactly (a subclass of str, int, dict or list, an integer out of
    range, characters beyond the BMP) is handed to ``canonical_bytes``, which gives the exact bytes or
    its error.
    """
    try:
        raw = orjson.dumps(obj, option=_OPT)
    except (orjson.JSONEncodeError, TypeError):
        return canonical_bytes(obj)
    if not raw.isascii() and _BEYOND_BMP.search(raw):
        return canonical_bytes(obj)
    return raw


def parse_canonical(raw: bytes) -> Any:
    """The parsed document when ``raw`` is, byte for byte, what ``canonical_fast`` makes of it; else None.

    None means "not proven canonical here", never "not canonical": the caller then runs the exact
    check. The document may still hold floats, which the ledger's structure check refuses.
    """
    try:
        document = orjson.loads(raw)
        again = orjson.dumps(document, option=_OPT)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, TypeError):
        return None
    if again != raw or (not raw.isascii() and _BEYOND_BMP.search(raw)):
        return None
    return document


def entry_hash(entry_bytes: bytes) -> bytes:
    """SHA-256 of an entry's canonical bytes: the v1 chain link (v2 entries chain by Merkle leaf hash)."""
    return hashlib.sha256(entry_bytes).digest()


_SCALARS = frozenset({str, int, bool, type(None)})


def float_free(value: Any) -> bool:
    """True if the dict or list ``value`` holds only plain dicts, lists, str, int, bool and None."""
    items = value.values() if type(value) is dict else value
    if _SCALARS.issuperset(map(type, items)):
        return True
    for item in items:
        t = type(item)
        if t in _SCALARS:
            continue
        if t is not dict and t is not list or not float_free(item):
            return False
    return True


def _plainly_valid(value: object) -> bool:
    """The common case, checked at C speed: plain types (``float_free``), and orjson, told to refuse
    integers beyond 53 bits, non-string keys and lone surrogates, encodes it."""
    if type(value) is not dict and type(value) is not list or not float_free(value):
        return False
    try:
        orjson.dumps(value, option=_OPT)
    except (orjson.JSONEncodeError, TypeError):
        return False
    return True


def check_body(value: object, path: str = "body") -> None:
    """Raise ``InvalidEventError`` unless ``value`` is JSON the ledger accepts in an event body.

    Accepted: ``None``, ``bool``, ``int`` within +/-(2**53 - 1), ``str`` (valid Unicode), ``list`` /
    ``tuple`` of accepted values, ``dict`` with ``str`` keys and accepted values. ``path`` names the
    offending place in the message (``body.items[2].count``) so the caller can find it.
    """
    if _plainly_valid(value):
        return
    _check_body(value, path)


def _check_body(value: object, path: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise InvalidEventError(
                f"{path}: integer {value} is outside +/-(2**53 - 1)",
                "store large numbers as decimal strings",
            )
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidEventError(
                f"{path}: string is not valid Unicode (lone surrogate)",
                "decode the text properly before recording it",
            ) from exc
        return
    if isinstance(value, float):
        raise InvalidEventError(
            f"{path}: floating-point numbers are not allowed in ledger events",
            "record an integer (for example in the smallest unit) or a decimal string",
        )
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_body(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventError(
                    f"{path}: object key {key!r} is not a string",
                    "use string keys in event bodies",
                )
            _check_body(key, f"{path} key")
            _check_body(item, f"{path}.{key}")
        return
    raise InvalidEventError(
        f"{path}: values of type {type(value).__name__} cannot be recorded",
        "convert it to a string, integer, boolean, null, list or object first",
    )
