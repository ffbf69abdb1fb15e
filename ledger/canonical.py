"""Canonical JSON (RFC 8785, JCS) and the entry hash.

``canonical_bytes`` is plain RFC 8785: it accepts anything JCS can encode, floats included, so it can be
checked against the RFC's own vectors. The ledger is stricter about what it lets into an event body
(``check_body``): no floats at all, because a number that survives one JSON library and not the next
would make a signed record mean different things to different auditors.
"""

from __future__ import annotations

import hashlib

import rfc8785

from ledger.errors import InvalidEventError

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


def entry_hash(entry_bytes: bytes) -> bytes:
    """SHA-256 of an entry's canonical bytes: the chain link now, and the Merkle leaf input later."""
    return hashlib.sha256(entry_bytes).digest()


def check_body(value: object, path: str = "body") -> None:
    """Raise ``InvalidEventError`` unless ``value`` is JSON the ledger accepts in an event body.

    Accepted: ``None``, ``bool``, ``int`` within +/-(2**53 - 1), ``str`` (valid Unicode), ``list`` /
    ``tuple`` of accepted values, ``dict`` with ``str`` keys and accepted values. ``path`` names the
    offending place in the message (``body.items[2].count``) so the caller can find it.
    """
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
            check_body(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventError(
                    f"{path}: object key {key!r} is not a string",
                    "use string keys in event bodies",
                )
            check_body(key, f"{path} key")
            check_body(item, f"{path}.{key}")
        return
    raise InvalidEventError(
        f"{path}: values of type {type(value).__name__} cannot be recorded",
        "convert it to a string, integer, boolean, null, list or object first",
    )
