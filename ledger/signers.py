"""Endorsements (signatures on single events) and the history of which key could sign what, when.

Two kinds of keys sign in a ledger, both Ed25519 as C2SP signed-note keys (``ledger.note``):

- the log key (note name = the log's origin) signs every checkpoint. ``ledger.key_rotated`` (the last
  event of its transaction) names the old and the new key and is endorsed by both; the checkpoint that
  first includes it is signed by both; the old key may sign no checkpoint larger than that one, the new
  key none smaller.
- signer keys (operators', enrolled by the station) endorse events that need a person's own signature,
  e.g. a custody transfer or a four-eyes approval. ``ledger.signer_enrolled`` brings a key in (endorsed
  by that key: proof of possession); ``ledger.signer_retired`` ends it. A key endorses validly from its
  enrolment to its retirement, inclusive; an endorsement after that is refused, one before is accepted.

An endorsement signs the event's statement, a short note text binding the log and the event's content
but not its position (the signer cannot know ``seq`` and ``prev`` before the append)::

    <origin>
    token-station/event/v1
    <base64 SHA-256 of the RFC 8785 encoding of {"actor", "at", "body", "type"}>

Its second line is not a number, so a statement can never pass for a checkpoint of the same origin.
In an entry an endorsement is ``{"key": <verifier key>, "sig": <base64 Ed25519 signature>}``: the key
travels with it, so a verifier checks signatures in parallel and looks up only whether the key was
valid at that entry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.canonical import canonical_fast
from ledger.entry import format_at
from ledger.errors import LedgerError
from ledger.note import SIG_ED25519, NoteError, Signer, Verifier, parse_verifier_key

STATEMENT_LINE = "token-station/event/v1"
ROTATED = "ledger.key_rotated"
ENROLLED = "ledger.signer_enrolled"
RETIRED = "ledger.signer_retired"
UPGRADED = "ledger.upgraded"
COSIGNED = "ledger.cosigned"
LEDGER_EVENTS = frozenset({ROTATED, ENROLLED, RETIRED, UPGRADED, COSIGNED})


class EndorsementError(LedgerError):
    """An endorsement is malformed, does not verify, or was made by a key not valid at that entry."""


def event_statement(
    origin: str, event_type: str, actor: str, at: datetime | str, body: dict[str, Any]
) -> str:
    """The note text an endorser signs for this event (see the module docstring)."""
    at_text = at if isinstance(at, str) else format_at(at)
    content = canonical_fast({"actor": actor, "at": at_text, "body": body, "type": event_type})
    digest = base64.b64encode(hashlib.sha256(content).digest()).decode("ascii")
    return f"{origin}\n{STATEMENT_LINE}\n{digest}\n"


@dataclass(frozen=True)
class Endorsement:
    """A signature on an event's statement by the key ``vkey`` (a C2SP verifier key, type 0x01)."""

    vkey: str
    signature: bytes

    def to_json(self) -> dict[str, str]:
        return {"key": self.vkey, "sig": base64.b64encode(self.signature).decode("ascii")}

    @classmethod
    def from_json(cls, data: object) -> Endorsement:
        if not isinstance(data, dict) or set(data) != {"key", "sig"}:
            raise EndorsementError('an endorsement must be {"key": ..., "sig": ...}', _HINT)
        try:
            signature = base64.b64decode(str(data["sig"]).encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise EndorsementError("an endorsement's signature is not base64", _HINT) from exc
        return cls(str(data["key"]), signature)

    def verifier(self) -> Verifier:
        try:
            verifier = parse_verifier_key(self.vkey)
        except NoteError as exc:
            raise EndorsementError(f"endorsement key {self.vkey!r} is not a verifier key", _HINT) from exc
        if verifier.sig_type != SIG_ED25519:
            raise EndorsementError(f"endorsement key {verifier.name} is not an Ed25519 note key", _HINT)
        return verifier

    def valid_for(self, statement: str) -> bool:
        return len(self.signature) == 64 and self.verifier().verify(statement.encode(), self.signature)


_HINT = "the event was altered, or signed with a different key than it names"


def endorse(
    signer: Signer, origin: str, event_type: str, actor: str, at: datetime | str, body: dict[str, Any]
) -> Endorsement:
    """Sign an event's statement: what an operator's device does before the station appends it."""
    statement = event_statement(origin, event_type, actor, at, body)
    return Endorsement(signer.verifier().vkey(), signer.sign(statement).signature)


def norm_key(vkey: object) -> str | None:
    """The verifier key in its one canonical spelling, or None if it is not an Ed25519 note key."""
    try:
        verifier = parse_verifier_key(str(vkey))
    except NoteError:
        return None
    return verifier.vkey() if verifier.sig_type == SIG_ED25519 else None


def key_name(vkey: object) -> str:
    return str(vkey).split("+", 1)[0]


@dataclass
class SignerSpan:
    enrolled: int
    retired: int | None = None


@dataclass
class KeyHistory:
    """Keys and their validity, built by replaying the ledger's ``ledger.*`` events in order.

    ``log_keys[i]`` signs checkpoints of sizes ``log_starts[i]`` .. ``log_starts[i + 1]`` inclusive
    (the last one without end). The first log key is learnt from the first event that names it
    (an upgrade or a rotation), or else from the checkpoints the auditor trusts. Keys are held in
    their canonical spelling (``norm_key``); endorsers passed in must be too.
    """

    origin: str
    log_keys: list[str] = field(default_factory=list)
    log_starts: list[int] = field(default_factory=list)
    signers: dict[str, SignerSpan] = field(default_factory=dict)
    upgraded_at: int | None = None

    def _learn_first_log_key(self, vkey: str) -> None:
        if not self.log_keys:
            self.log_keys.append(vkey)
            self.log_starts.append(0)

    def current_log_key(self) -> str | None:
        return self.log_keys[-1] if self.log_keys else None

    def log_keys_for_size(self, size: int) -> list[str]:
        """The log keys allowed to sign a checkpoint of ``size`` (two at a rotation's boundary)."""
        out = []
        for i, vkey in enumerate(self.log_keys):
            end = self.log_starts[i + 1] if i + 1 < len(self.log_keys) else None
            if self.log_starts[i] <= size and (end is None or size <= end):
                out.append(vkey)
        return out

    def retirement_of(self, vkey: str) -> int | None:
        """For a retired log key: the seq of the rotation that retired it."""
        for i, key in enumerate(self.log_keys[:-1]):
            if key == vkey:
                return self.log_starts[i + 1] - 1
        return None

    def check_endorsement(self, seq: int, event_type: str, body: dict[str, Any], vkey: str) -> str | None:
        """Why the key ``vkey`` may not endorse entry ``seq``, or None when it may."""
        own = {ROTATED: ("old", "new"), UPGRADED: ("log_key",), ENROLLED: ("key",)}.get(event_type, ())
        if any(norm_key(body.get(member)) == vkey for member in own):
            return None
        span = self.signers.get(vkey)
        if span is None:
            return f"is endorsed by key {key_name(vkey)}, which was never enrolled"
        if seq < span.enrolled:
            return f"is endorsed by key {key_name(vkey)} before its enrolment at entry {span.enrolled}"
        if span.retired is not None and seq > span.retired:
            return f"is endorsed by key {key_name(vkey)} after its retirement at entry {span.retired}"
        return None

    def apply(self, seq: int, event_type: str, body: dict[str, Any], endorsers: list[str]) -> str | None:
        """Replay one ``ledger.*`` event; returns what is wrong with it, or None."""
        if event_type == UPGRADED:
            log_key = norm_key(body.get("log_key"))
            if self.upgraded_at is not None or self.log_keys:
                return "records a second upgrade"
            if body.get("origin") != self.origin:
                return f"upgrades the log under origin {body.get('origin')!r}, not {self.origin!r}"
            if log_key is None or log_key not in endorsers:
                return "is not endorsed by the log key it names"
            self.upgraded_at = seq
            self._learn_first_log_key(log_key)
            return None
        if event_type == ROTATED:
            old, new = norm_key(body.get("old")), norm_key(body.get("new"))
            if old is None or new is None or old not in endorsers or new not in endorsers:
                return "is a key rotation not endorsed by both the old and the new key"
            current = self.current_log_key()
            if current is not None and current != old:
                return f"rotates away from key {key_name(old)}, which is not the current log key"
            if old == new:
                return "rotates a key to itself"
            self._learn_first_log_key(old)
            self.log_keys.append(new)
            self.log_starts.append(seq + 1)
            return None
        if event_type == ENROLLED:
            vkey = norm_key(body.get("key"))
            if vkey is None or vkey not in endorsers:
                return "enrols a key without that key's own endorsement"
            if vkey in self.signers:
                return f"enrols key {key_name(vkey)} a second time"
            self.signers[vkey] = SignerSpan(seq)
            return None
        if event_type == RETIRED:
            span = self.signers.get(norm_key(body.get("key")) or "")
            if span is None or span.retired is not None:
                return "retires a key that is not enrolled"
            span.retired = seq
            return None
        if event_type == COSIGNED:
            return None  # a witness's cosignature, checked against the kept checkpoint it names
        return f"has the unknown ledger event type {event_type!r}"
