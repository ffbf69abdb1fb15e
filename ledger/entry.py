"""One ledger entry: its signed document, canonical bytes, hash and signature.

The signed document is the RFC 8785 encoding of exactly these members::

    {"v": 1, "seq": 0, "at": "2025-01-31T09:15:00.000000Z", "type": "token.issued",
     "actor": "op-17", "body": {...}, "prev": "<64 hex digits>"}

``seq`` counts from 0 (it will be the RFC 6962 leaf index). ``prev`` is the hex SHA-256 of the previous
entry's canonical bytes, 64 zeros for entry 0. Those canonical bytes (``raw``) are what is hashed, signed,
stored and, later, used as the Merkle leaf; everything else on ``Entry`` is derived from them or is
metadata about the signature. Changing any member, or adding one, means a new ``v``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.canonical import canonical_bytes, check_body, entry_hash
from ledger.errors import InvalidEventError, LedgerError

ENTRY_VERSION = 1
GENESIS_PREV = "0" * 64
MEMBERS = frozenset({"v", "seq", "at", "type", "actor", "body", "prev"})

# Lowercase dotted identifier with at least two parts: "token.issued", "station.key_rotated".
TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
MAX_TYPE_LEN = 64
MAX_ACTOR_LEN = 128
# One fixed spelling of a UTC instant, so equal instants give equal bytes.
AT_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
HASH_RE = re.compile(r"[0-9a-f]{64}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class EntryFormatError(LedgerError):
    """Stored bytes are not a well-formed v1 entry. ``message`` is a bare reason, without the seq."""


def format_at(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC. Naive datetimes are refused: their zone is a guess."""
    if not isinstance(at, datetime):
        raise InvalidEventError(
            f"event time must be a datetime, not {type(at).__name__}",
            "pass the time from the station's clock",
        )
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidEventError(
            "event time has no time zone (naive datetime)",
            "use a timezone-aware clock, e.g. datetime.now(UTC)",
        )
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_at(text: str) -> datetime:
    """Inverse of ``format_at``: an aware UTC datetime. Raises ``ValueError`` on any other spelling."""
    if not isinstance(text, str) or not AT_RE.fullmatch(text):
        raise ValueError(f"time {text!r} is not in the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def check_type(event_type: object) -> str:
    """Return ``event_type`` if it is a valid event type name, else raise ``InvalidEventError``."""
    if not isinstance(event_type, str) or len(event_type) > MAX_TYPE_LEN or not TYPE_RE.fullmatch(event_type):
        raise InvalidEventError(
            f"invalid event type {event_type!r}",
            "event types are lowercase dotted names such as 'token.issued' "
            f"(letters, digits, underscores; at most {MAX_TYPE_LEN} characters)",
        )
    return event_type


def check_actor(actor: object) -> str:
    """Return ``actor`` if it can name an operator in the ledger, else raise ``InvalidEventError``."""
    if not isinstance(actor, str) or not actor or len(actor) > MAX_ACTOR_LEN or _CONTROL_RE.search(actor):
        raise InvalidEventError(
            f"invalid actor {actor!r}",
            f"every event names the operator who caused it: a non-empty id of at most "
            f"{MAX_ACTOR_LEN} characters without control characters",
        )
    return actor


def encode_entry(*, seq: int, at: datetime, type: str, actor: str, body: dict[str, Any], prev: str) -> bytes:
    """Validate the parts of an entry and return its canonical bytes."""
    if not isinstance(body, dict):
        raise InvalidEventError(
            f"event body must be a dict, not {type_name(body)}",
            "pass the event's details as a dict with string keys",
        )
    check_body(body)
    document = {
        "v": ENTRY_VERSION,
        "seq": seq,
        "at": format_at(at),
        "type": check_type(type),
        "actor": check_actor(actor),
        "body": body,
        "prev": prev,
    }
    return canonical_bytes(document)


def type_name(value: object) -> str:
    return type(value).__name__


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise EntryFormatError(f"duplicate member {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise EntryFormatError(f"contains {name}, which is not JSON")


def decode_entry(raw: bytes) -> dict[str, Any]:
    """Parse stored bytes back into the signed document, checking form and structure.

    Raises ``EntryFormatError`` with a reason an auditor understands: the bytes must be UTF-8 JSON,
    byte-for-byte in canonical form, and have exactly the v1 members with valid values.
    """
    if not isinstance(raw, bytes):
        raise EntryFormatError(f"stored entry is {type_name(raw)}, not bytes")
    try:
        document = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EntryFormatError(f"not valid JSON ({exc})") from exc
    try:
        canonical = canonical_bytes(document)
    except InvalidEventError:
        canonical = None
    if canonical != raw:
        raise EntryFormatError("not in canonical form")
    _check_structure(document)
    return document


def _check_structure(document: object) -> None:
    if not isinstance(document, dict) or set(document) != MEMBERS:
        raise EntryFormatError(f"not a ledger entry (members must be {sorted(MEMBERS)})")
    problems = []
    v, seq = document["v"], document["seq"]
    if type(v) is not int or v != ENTRY_VERSION:
        problems.append(f"unsupported version {v!r}")
    if type(seq) is not int or seq < 0:
        problems.append(f"bad sequence number {seq!r}")
    try:
        parse_at(document["at"])
    except (TypeError, ValueError):
        problems.append(f"bad time {document['at']!r}")
    if not isinstance(document["prev"], str) or not HASH_RE.fullmatch(document["prev"]):
        problems.append(f"bad link {document['prev']!r}")
    for check, member in ((check_type, "type"), (check_actor, "actor")):
        try:
            check(document[member])
        except InvalidEventError:
            problems.append(f"bad {member} {document[member]!r}")
    try:
        if not isinstance(document["body"], dict):
            raise InvalidEventError("body is not an object")
        check_body(document["body"])
    except InvalidEventError as exc:
        problems.append(f"bad body ({exc})")
    if problems:
        raise EntryFormatError("not a well-formed ledger entry: " + "; ".join(problems))


@dataclass(frozen=True)
class Entry:
    """An entry as stored. ``raw`` is authoritative; the other document fields are parsed from it.

    ``hash`` is hex SHA-256(raw); ``signature`` is Ed25519 over ``raw`` by the key named ``key_id``.
    Reading an entry checks its form and hash, not its signature or link: use ``Ledger.verify``.
    """

    seq: int
    at: str
    type: str
    actor: str
    body: dict[str, Any] = field(hash=False)
    prev: str
    raw: bytes
    hash: str
    signature: bytes
    key_id: str

    @property
    def at_datetime(self) -> datetime:
        """``at`` as an aware UTC datetime."""
        return parse_at(self.at)

    @classmethod
    def from_raw(cls, raw: bytes, signature: bytes, key_id: str) -> Entry:
        """Build an Entry from canonical bytes; raises ``EntryFormatError`` if they are malformed."""
        document = decode_entry(raw)
        return cls(
            seq=document["seq"],
            at=document["at"],
            type=document["type"],
            actor=document["actor"],
            body=document["body"],
            prev=document["prev"],
            raw=raw,
            hash=entry_hash(raw).hex(),
            signature=signature,
            key_id=key_id,
        )
