"""C2SP signed notes, checkpoints, cosignatures and proof bundles, with Ed25519 from ``cryptography``.

Specs (all v1): c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature,
c2sp.org/tlog-proof. Go's golang.org/x/mod/sumdb/note is the reference implementation of the note
format; we match its output byte for byte and an integration test opens our notes with it.

Hand-written: no maintained Python package implements these (sigstore parses checkpoints only in
private modules); the formats are line-based text and the crypto is ``cryptography``'s Ed25519.

A note is ``text`` (ending in a newline) + a blank line + signature lines
``"— <name> base64(key id || signature)"``. The key id (4 bytes) is SHA-256(name || 0x0A || type ||
public key)[:4], with type 0x01 for plain Ed25519 and 0x04 for cosignature/v1.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger import merkle
from ledger.errors import LedgerError

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100  # the spec says accept at least 16; Go's note.Open stops at 100
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_DASH = "\u2014 "  # em dash, space: a hyphen-minus here is the classic silent mistake
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # ASCII only, no leading zeros (\d would take other digits)
_MAX_TIMESTAMP = (1 << 63) - 1
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(LedgerError):
    """A note, checkpoint or proof bundle is malformed or its signatures do not check out."""


class NoteFormatError(NoteError):
    """The text is not well-formed: nothing about who signed it can be trusted or even read."""


class NoteSignatureError(NoteError):
    """A signature from a trusted key is wrong, or no trusted key signed the note."""


_HINT_FORMAT = "copy the whole note again, exactly as the station printed it (every line, the blank line too)"
_HINT_TRUST = "check which station key you trust (`station ledger key`); the note may be forged or altered"


def _b64decode(text: str, what: str) -> bytes:
    """Strict: only the one canonical encoding of the bytes is taken.

    Decoders (Python's, and Go's StdEncoding that sumdb/note uses) ignore the spare low bits of the
    last character, so one signature has several spellings; a note whose bytes changed must not
    pass as the note we signed.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise NoteFormatError(f"{what} is not standard base64", _HINT_FORMAT) from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteFormatError(f"{what} is not in canonical base64 (its padding bits are not zero)",
                              _HINT_FORMAT)
    return raw


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")  # base64.b64encode, without its wrapper


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# For str patterns \s is exactly the characters for which str.isspace() is true (checked over all of
# Unicode in test_ledger_note.py); one regex search instead of a Python-level test per character.
_SPACE = re.compile(r"\s")


def is_valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode space and no '+' (the vkey separator)."""
    return bool(name) and "+" not in name and _SPACE.search(name) is None


def _check_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise NoteFormatError(
            f"key name {name!r} is not valid: it must be non-empty, with no spaces and no '+'",
            "use a schema-less URL such as example.com/station-1",
        )


def note_key_id(name: str, sig_type: int, public_key: Ed25519PublicKey) -> bytes:
    """SHA-256(name || 0x0A || type || 32-byte key)[:4]: binds name, algorithm and key."""
    material = name.encode() + b"\n" + bytes([sig_type]) + _raw_public(public_key)
    return hashlib.sha256(material).digest()[:4]


def _check_text(text: bytes, what: str) -> None:
    """Valid UTF-8 and no ASCII control character but newline, as signed-note requires."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteFormatError(f"{what} is not valid UTF-8", _HINT_FORMAT) from exc
    found = _CONTROL.search(decoded)
    if found is not None:
        raise NoteFormatError(f"{what} contains the control character {found.group()!r}", _HINT_FORMAT)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line. ``signature`` excludes the 4-byte key id."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {_b64(self.key_id + self.signature)}\n"


def _cosigned_message(text: bytes, timestamp: int) -> bytes:
    return b"cosignature/v1\ntime %d\n" % timestamp + text


@dataclass(frozen=True)
class Signer:
    """A log's note signer (type 0x01): signs the note text itself."""

    name: str
    private_key: Ed25519PrivateKey
    key_id: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "key_id", note_key_id(self.name, SIG_ED25519, self.private_key.public_key()))

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.private_key.public_key(), SIG_ED25519)

    def sign(self, text: str) -> NoteSignature:
        data = text.encode()
        return NoteSignature(self.name, self.key_id, self.private_key.sign(data))


@dataclass(frozen=True)
class Cosigner:
    """A witness (type 0x04, cosignature/v1): signs a header, the time, and the checkpoint text."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def key_id(self) -> bytes:
        return note_key_id(self.name, SIG_COSIGNATURE_V1, self.private_key.public_key())

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.private_key.public_key(), SIG_COSIGNATURE_V1)

    def sign(self, text: str, timestamp: int) -> NoteSignature:
        """``timestamp``: POSIX seconds, from the caller's clock (never read here)."""
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise NoteError(f"cosignature time {timestamp} is out of range", "pass POSIX seconds")
        sig = self.private_key.sign(_cosigned_message(text.encode(), timestamp))
        return NoteSignature(self.name, self.key_id, struct.pack(">Q", timestamp) + sig)


@dataclass(frozen=True)
class Verifier:
    """A trusted public key under a name, for signature type 0x01 or 0x04."""

    name: str
    public_key: Ed25519PublicKey
    sig_type: int = SIG_ED25519
    key_id: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.sig_type not in (SIG_ED25519, SIG_COSIGNATURE_V1):
            raise NoteError(f"signature type 0x{self.sig_type:02x} is not supported", "use an Ed25519 key")
        object.__setattr__(self, "key_id", note_key_id(self.name, self.sig_type, self.public_key))

    def verify(self, text: bytes, signature: bytes) -> bool:
        message = text
        if self.sig_type == SIG_COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            (timestamp,) = struct.unpack(">Q", signature[:8])
            if timestamp > _MAX_TIMESTAMP:
                return False
            message, signature = _cosigned_message(text, timestamp), signature[8:]
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        """``name+hex(key id)+base64(type || public key)``, the text a verifier is configured with."""
        encoded = _b64(bytes([self.sig_type]) + _raw_public(self.public_key))
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


def cosignature_timestamp(sig: NoteSignature) -> int:
    """The POSIX time a cosignature/v1 line claims (meaningful only for verified type-0x04 lines)."""
    if len(sig.signature) != 72:
        raise NoteFormatError(f"the signature by {sig.name} is not a cosignature/v1", _HINT_FORMAT)
    return struct.unpack(">Q", sig.signature[:8])[0]


def parse_verifier_key(vkey: str) -> Verifier:
    """Inverse of ``Verifier.vkey``; checks the key id against the name and key."""
    parts = vkey.strip().split("+", 2)  # the base64 part may itself hold "+"
    bad = NoteFormatError(f"{vkey!r} is not a verifier key (name+keyid+base64)", "copy the key again")
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise bad
    name, hex_id, b64 = parts
    raw = _b64decode(b64, "the verifier key's public key")
    if len(raw) != 33 or raw[0] not in (SIG_ED25519, SIG_COSIGNATURE_V1) or not is_valid_key_name(name):
        raise bad
    verifier = Verifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]), raw[0])
    if verifier.key_id.hex() != hex_id:
        raise NoteFormatError(f"the key id in {vkey!r} does not match its name and key", "copy the key again")
    return verifier


def signer_key(signer: Signer) -> str:
    """Go's encoded signer key ``PRIVATE+KEY+name+hex(key id)+base64(0x01 || seed)``. Secret."""
    seed = signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return f"PRIVATE+KEY+{signer.name}+{signer.key_id.hex()}+{_b64(bytes([SIG_ED25519]) + seed)}"


def parse_signer_key(skey: str) -> Signer:
    """Inverse of ``signer_key``; checks the key id against the derived public key."""
    parts = skey.strip().split("+", 4)
    bad = NoteFormatError("not a signer key (PRIVATE+KEY+name+keyid+base64)", "copy the key again")
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not re.fullmatch(r"[0-9a-f]{8}", parts[3]):
        raise bad
    raw = _b64decode(parts[4], "the signer key")
    if len(raw) != 33 or raw[0] != SIG_ED25519 or not is_valid_key_name(parts[2]):
        raise bad
    signer = Signer(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.key_id.hex() != parts[3]:
        raise NoteFormatError(
            "the key id in the signer key does not match its name and key", "copy the key again"
        )
    return signer


# --- notes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A parsed note. After ``open_note``, ``verified`` holds the lines from trusted keys."""

    text: str
    signatures: tuple[NoteSignature, ...]
    verified: tuple[NoteSignature, ...] = ()


def format_note(text: str, signatures: Iterable[NoteSignature]) -> str:
    """Text, blank line, signature lines. Used directly to add a witness's line to a note."""
    _check_text(text.encode(), "the note text")
    if not text.endswith("\n"):
        raise NoteFormatError("the note text must end with a newline", "end the last line with \\n")
    sigs = list(signatures)
    if not sigs:
        raise NoteFormatError("a signed note needs at least one signature", "sign it first")
    for s in sigs:
        _check_name(s.name)
        if len(s.key_id) != 4 or not s.signature:
            raise NoteFormatError(f"the signature by {s.name} is malformed", _HINT_FORMAT)
    return text + "\n" + "".join(s.line() for s in sigs)


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    return format_note(text, [s.sign(text) for s in signers])


def parse_note(message: str | bytes) -> Note:
    """Syntax only: split text and signature lines. Trust nothing from it before ``open_note``."""
    raw = message.encode() if isinstance(message, str) else bytes(message)
    _check_text(raw, "the note")
    split = raw.rfind(b"\n\n")  # the text may hold blank lines; the last one separates signatures
    if split < 0:
        raise NoteFormatError("the note has no blank line before its signatures", _HINT_FORMAT)
    text, block = raw[: split + 1], raw[split + 2 :]
    if not block or not block.endswith(b"\n"):
        raise NoteFormatError(
            "the note's signature block is empty or does not end with a newline", _HINT_FORMAT
        )
    lines = block.decode().split("\n")[:-1]
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError(f"the note has more than {MAX_SIGNATURES} signatures", _HINT_FORMAT)
    sigs = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(_DASH):
            raise NoteFormatError(
                f"signature line {n} does not start with an em dash and a space", _HINT_FORMAT
            )
        name, _, b64 = line[len(_DASH) :].partition(" ")
        if not is_valid_key_name(name) or not b64:
            raise NoteFormatError(
                f"signature line {n} has no valid key name and signature", _HINT_FORMAT
            )
        blob = _b64decode(b64, f"signature line {n}")
        if len(blob) < 5:
            raise NoteFormatError(
                f"signature line {n} is too short to hold a key id and signature", _HINT_FORMAT
            )
        sigs.append(NoteSignature(name, blob[:4], blob[4:]))
    return Note(text.decode(), tuple(sigs))


def open_note(message: str | bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse and verify. Lines from unknown (name, key id) pairs are kept but not trusted.

    Stricter than Go's note.Open in one way: every line from a trusted key is checked, not only
    the first (the spec says verifiers MUST verify those), so a bad duplicate rejects the note.
    """
    note = parse_note(message)
    known: dict[tuple[str, bytes], Verifier] = {}
    for v in verifiers:
        if (v.name, v.key_id) in known:
            raise NoteError(
                f"two trusted keys share the name and id {v.name}+{v.key_id.hex()}", _HINT_TRUST
            )
        known[(v.name, v.key_id)] = v
    text = note.text.encode()
    verified: list[NoteSignature] = []
    for sig in note.signatures:
        v = known.get((sig.name, sig.key_id))
        if v is None:
            continue
        if not v.verify(text, sig.signature):
            raise NoteSignatureError(
                f"the signature by trusted key {sig.name}+{sig.key_id.hex()} is invalid", _HINT_TRUST
            )
        if sig not in verified:
            verified.append(sig)
    if not verified:
        present = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        raise NoteSignatureError(f"no trusted key signed this note (signed by: {present})", _HINT_TRUST)
    return Note(note.text, note.signatures, tuple(verified))


# --- checkpoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The body of a tlog-checkpoint: origin, tree size, RFC 6962 root, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        lines = (self.origin, *self.extensions)
        if any(not line or "\n" in line for line in lines):
            raise NoteFormatError(
                "checkpoint origin and extension lines must be non-empty single lines",
                "give the log's origin as one line, e.g. tokens.example.org/branch-07",
            )
        if not 0 <= self.size <= merkle.MAX_SIZE or len(self.root_hash) != merkle.HASH_SIZE:
            raise NoteFormatError(
                "a checkpoint needs a size below 2^63 and a 32-byte root hash", _HINT_FORMAT
            )

    def body(self) -> str:
        lines = (self.origin, str(self.size), _b64(self.root_hash), *self.extensions)
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    if not text.endswith("\n"):
        raise NoteFormatError("the checkpoint text does not end with a newline", _HINT_FORMAT)
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise NoteFormatError("a checkpoint needs at least three non-empty lines", _HINT_FORMAT)
    origin, size, root, *extensions = lines
    if not _DECIMAL.fullmatch(size) or int(size) > merkle.MAX_SIZE:
        raise NoteFormatError(f"the checkpoint size {size!r} is not a decimal tree size", _HINT_FORMAT)
    root_hash = _b64decode(root, "the checkpoint root hash")
    if len(root_hash) != merkle.HASH_SIZE:
        raise NoteFormatError("the checkpoint root hash is not 32 bytes", _HINT_FORMAT)
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The log's signed checkpoint. The key name should match the origin (tlog-checkpoint)."""
    return sign_note(checkpoint.body(), [signer])


def open_checkpoint(
    message: str | bytes, origin: str, verifiers: Iterable[Verifier]
) -> tuple[Checkpoint, Note]:
    """Verify the note, parse its body, and insist on the expected origin (no cross-log replay)."""
    note = open_note(message, verifiers)
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != origin:
        raise NoteSignatureError(
            f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}",
            "check which log you meant to verify",
        )
    return checkpoint, note


# --- tlog-proof -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlogProof:
    """c2sp.org/tlog-proof@v1: an entry's index, its inclusion proof, and the signed checkpoint."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed note, verbatim
    extra: bytes | None = None  # opaque and unauthenticated

    def format(self) -> str:
        lines = [TLOG_PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {_b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines += [_b64(h) for h in self.proof]
        return "\n".join(lines) + "\n\n" + self.checkpoint


def parse_tlog_proof(text: str) -> TlogProof:
    head, sep, checkpoint = text.partition("\n\n")  # proof lines are never empty: first blank ends them
    lines = head.split("\n")
    if not sep or not checkpoint or lines[0] != TLOG_PROOF_HEADER:
        raise NoteFormatError(
            f"not a {TLOG_PROOF_HEADER} proof (header, index, hashes, blank line, checkpoint)", _HINT_FORMAT
        )
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _b64decode(rest.pop(0)[len("extra ") :], "the proof's extra data")
    if not rest or not rest[0].startswith("index ") or not _DECIMAL.fullmatch(rest[0][len("index ") :]):
        raise NoteFormatError("the proof has no 'index N' line after its header", _HINT_FORMAT)
    index = int(rest.pop(0)[len("index ") :])
    hashes = tuple(_b64decode(line, "an inclusion proof line") for line in rest)
    if any(len(h) != merkle.HASH_SIZE for h in hashes):
        raise NoteFormatError("an inclusion proof line is not a 32-byte hash", _HINT_FORMAT)
    return TlogProof(index, hashes, checkpoint, extra)


def verify_tlog_proof(
    proof: TlogProof, leaf_hash: bytes, origin: str, verifiers: Iterable[Verifier]
) -> Checkpoint:
    """Check the checkpoint's signatures and origin, then the entry's inclusion under its root."""
    checkpoint, _ = open_checkpoint(proof.checkpoint, origin, verifiers)
    merkle.verify_inclusion(proof.index, checkpoint.size, leaf_hash, proof.proof, checkpoint.root_hash)
    return checkpoint


# --- cosignatures -----------------------------------------------------------------------------


def parse_signature_line(line: str) -> NoteSignature:
    """One ``— name base64`` line (with or without its newline), e.g. a witness's cosignature."""
    text = line if line.endswith("\n") else line + "\n"
    if text.count("\n") != 1:
        raise NoteFormatError("expected a single signature line", _HINT_FORMAT)
    return parse_note("x\n\n" + text).signatures[0]


def add_signatures(message: str, lines: Iterable[NoteSignature]) -> str:
    """The signed note ``message`` with more signature lines (cosignatures) appended, duplicates dropped."""
    note = parse_note(message)
    sigs = list(note.signatures)
    for sig in lines:
        if sig not in sigs:
            sigs.append(sig)
    return format_note(note.text, sigs)
