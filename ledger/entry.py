"""One ledger entry: its canonical bytes (the Merkle leaf), their hash, and the parsed document.

Version 2 (written since the Merkle log) is the RFC 8785 encoding of exactly these members::

    {"v": 2, "seq": 0, "at": "2025-01-31T09:15:00.000000Z", "type": "token.issued",
     "actor": "op-17", "body": {...}, "prev": "<64 hex digits>", "sigs": [...]}

``seq`` is the RFC 6962 leaf index. ``prev`` is the hex Merkle leaf hash, SHA-256(0x00 || bytes), of
the previous entry (64 zeros for entry 0), so one hash per entry serves the chain and the tree.
``sigs`` holds endorsements: signatures by operators' keys (or, on a key rotation, by the log's keys)
over the event's statement (``ledger.signers``); it is ``[]`` for most events. An entry is at most
65,535 bytes, the largest a C2SP tlog-tiles entry bundle can carry.

Entries are not signed one by one: each committed transaction ends with a signed C2SP checkpoint
over the Merkle tree of all entries, which covers every entry at once.

Version 1 (before the Merkle log) had no ``sigs``; its ``prev`` was SHA-256 of the previous entry's
bytes and each v1 entry carried its own Ed25519 signature. A v1 ledger keeps its v1 entries when it is
upgraded: they become the first leaves of the tree, their signatures are checked once by the upgrade
(``ledger.upgraded`` records it), and from then on the signed checkpoints cover them like any other.

The bytes (``raw``) are authoritative; everything else on ``Entry`` is derived from them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.canonical import (
    canonical_bytes,
    canonical_fast,
    check_body,
    entry_hash,
    float_free,
    parse_canonical,
)
from ledger.errors import InvalidEventError, LedgerError
from ledger.merkle import leaf_hash

ENTRY_VERSION = 2
GENESIS_PREV = "0" * 64
MEMBERS_V1 = frozenset({"v", "seq", "at", "type", "actor", "body", "prev"})
MEMBERS = MEMBERS_V1 | {"sigs"}
MAX_ENTRY_BYTES = 65535

# Lowercase dotted identifier with at least two parts: "token.issued", "ledger.key_rotated".
TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
MAX_TYPE_LEN = 64
MAX_ACTOR_LEN = 128
# One fixed spelling of a UTC instant, so equal instants give equal bytes.
AT_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
HASH_RE = re.compile(r"[0-9a-f]{64}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class EntryFormatError(LedgerError):
    """Stored bytes are not a well-formed entry. ``message`` is a bare reason, without the seq."""


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
    # fromisoformat is exact here: the pattern above admits only this one layout.
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


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


def type_name(value: object) -> str:
    return type(value).__name__


def encode_entry(
    *,
    seq: int,
    at: datetime,
    type: str,
    actor: str,
    body: dict[str, Any],
    prev: str,
    sigs: list[dict[str, str]] | tuple[dict[str, str], ...] = (),
) -> bytes:
    """Validate the parts of a v2 entry and return its canonical bytes."""
    if not isinstance(body, dict):
        raise InvalidEventError(
            f"event body must be a dict, not {type_name(body)}",
            "pass the event's details as a dict with string keys",
        )
    check_body(body)
    if sigs:  # an empty list is valid JSON: nothing to check
        check_body(list(sigs), "sigs")
    document = {
        "v": ENTRY_VERSION,
        "seq": seq,
        "at": format_at(at),
        "type": check_type(type),
        "actor": check_actor(actor),
        "body": body,
        "prev": prev,
        "sigs": list(sigs),
    }
    raw = canonical_fast(document)
    if len(raw) > MAX_ENTRY_BYTES:
        raise InvalidEventError(
            f"the event is {len(raw)} bytes once encoded; the ledger takes at most {MAX_ENTRY_BYTES}",
            "record large data elsewhere (the vault, a file) and put its id or fingerprint in the event",
        )
    return raw


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
    """Parse stored bytes back into the entry document, checking form and structure exactly.

    Raises ``EntryFormatError`` with a reason an auditor understands: the bytes must be UTF-8 JSON,
    byte-for-byte in RFC 8785 canonical form, and have exactly the members of their version with
    valid values. ``fast_decode`` gives the same verdict for good entries, much faster.
    """
    document = fast_decode(raw)
    if document is not None:
        return document
    if not isinstance(raw, bytes):
        raise EntryFormatError(f"stored entry is {type_name(raw)}, not bytes")
    if len(raw) > MAX_ENTRY_BYTES:
        raise EntryFormatError(f"longer than {MAX_ENTRY_BYTES} bytes")
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


def _problems(document: dict[str, Any]) -> list[str]:
    problems = []
    v, seq = document["v"], document["seq"]
    if type(v) is not int or v not in (1, ENTRY_VERSION):
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
    if "sigs" in document and not _sigs_ok(document["sigs"]):
        problems.append("bad sigs (must be a list of {\"key\": ..., \"sig\": ...} objects)")
    return problems


def _sigs_ok(sigs: object) -> bool:
    return type(sigs) is list and all(
        type(s) is dict and s.keys() == {"key", "sig"} and type(s["key"]) is str and type(s["sig"]) is str
        for s in sigs
    )


def _check_structure(document: object) -> None:
    if not isinstance(document, dict):
        raise EntryFormatError(f"not a ledger entry (members must be {sorted(MEMBERS)})")
    members = MEMBERS_V1 if document.get("v") == 1 and type(document.get("v")) is int else MEMBERS
    if set(document) != members:
        raise EntryFormatError(f"not a ledger entry (members must be {sorted(members)})")
    problems = _problems(document)
    if problems:
        raise EntryFormatError("not a well-formed ledger entry: " + "; ".join(problems))


def fast_decode(raw: object) -> dict[str, Any] | None:
    """The document of a well-formed v2 entry, or None to say "use ``decode_entry``'s exact checks".

    Accepts only what ``decode_entry`` accepts (proven equal by property tests): canonical bytes
    (``parse_canonical``), exactly the v2 members, and values of the right types and spelling.
    """
    if type(raw) is not bytes or len(raw) > MAX_ENTRY_BYTES:
        return None
    d = parse_canonical(raw)
    if type(d) is not dict or d.keys() != MEMBERS:
        return None
    v, seq, at, kind, actor, body, prev, sigs = (
        d["v"], d["seq"], d["at"], d["type"], d["actor"], d["body"], d["prev"], d["sigs"]
    )
    if (
        type(v) is not int or v != ENTRY_VERSION
        or type(seq) is not int or seq < 0
        or type(at) is not str or not AT_RE.fullmatch(at)
        or type(kind) is not str or len(kind) > MAX_TYPE_LEN or not TYPE_RE.fullmatch(kind)
        or type(actor) is not str or not actor or len(actor) > MAX_ACTOR_LEN or _CONTROL_RE.search(actor)
        or type(prev) is not str or not HASH_RE.fullmatch(prev)
        or type(body) is not dict or not float_free(body)
        or (sigs and not _sigs_ok(sigs))
        or type(sigs) is not list
    ):
        return None
    try:
        datetime.fromisoformat(at[:-1])
    except ValueError:
        return None
    return d


def hash_of(raw: bytes, version: int) -> str:
    """The entry's hash as recorded: v2 the hex Merkle leaf hash, v1 the hex SHA-256 of the bytes."""
    return (leaf_hash(raw) if version >= 2 else entry_hash(raw)).hex()


@dataclass(frozen=True)
class Entry:
    """An entry as stored. ``raw`` is authoritative; the other document fields are parsed from it.

    ``hash`` identifies the entry and is what the next entry's ``prev`` names: for v2 entries the hex
    RFC 6962 leaf hash of ``raw``, for v1 entries hex SHA-256(raw). ``sigs`` are the endorsements
    (``[]`` for most events). ``signature`` and ``key_id`` are the per-entry Ed25519 signature of v1
    entries; v2 entries have none (b"" and "") because the signed checkpoints cover them.
    Reading an entry checks its form and hash, not its place in the tree: use ``Ledger.verify``.
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
    sigs: tuple[dict[str, str], ...] = field(default=(), hash=False)
    version: int = ENTRY_VERSION

    @property
    def at_datetime(self) -> datetime:
        """``at`` as an aware UTC datetime."""
        return parse_at(self.at)

    @classmethod
    def from_document(
        cls,
        raw: bytes,
        document: dict[str, Any],
        signature: bytes = b"",
        key_id: str = "",
        *,
        leaf_hex: str | None = None,
    ) -> Entry:
        """``leaf_hex``: the entry's leaf hash when the caller has just computed it (v2 only)."""
        version = document["v"]
        return cls(
            seq=document["seq"],
            at=document["at"],
            type=document["type"],
            actor=document["actor"],
            body=document["body"],
            prev=document["prev"],
            raw=raw,
            hash=leaf_hex if leaf_hex is not None and version >= 2 else hash_of(raw, version),
            signature=signature,
            key_id=key_id,
            sigs=tuple(document.get("sigs", ())),
            version=version,
        )

    @classmethod
    def from_raw(cls, raw: bytes, signature: bytes = b"", key_id: str = "") -> Entry:
        """Build an Entry from canonical bytes; raises ``EntryFormatError`` if they are malformed."""
        return cls.from_document(raw, decode_entry(raw), signature, key_id)
