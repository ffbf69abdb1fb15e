"""The station's ledger verbs: checkpoint, key, proofs, export, verify, key rotation, cosignatures.

Thin: the ledger does the work; this translates its errors for the operator and keeps the station's
side (the sealed key, station.json) in step.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ledger import bundle as ledger_bundle
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.keys import generate_key, key_id, private_key_to_bytes, public_key_to_text
from ledger.note import NoteError, TlogProof, parse_note, parse_signature_line, parse_verifier_key
from ledger.report import VerifyReport
from ledger.verify import verify_bundle

from .clock import rfc3339
from .core import SIGNING_KEY_RECORD, Station
from .datadir import write_config
from .errors import InputError, StationError, VerificationFailed
from .inventory.roles import require
from .operators.sessions import Session

T = TypeVar("T")


@contextmanager
def _ledger_errors() -> Iterator[None]:
    try:
        yield
    except LedgerError as exc:
        raise StationError(exc.message, exc.hint) from exc


def _call(fn: Callable[[], T]) -> T:
    with _ledger_errors():
        return fn()


def checkpoint(station: Station, *, cosigned: bool = False) -> str:
    """The latest signed checkpoint, or (``cosigned``) the newest one a witness cosigned."""
    if not cosigned:
        return _call(station.ledger.checkpoint)
    kept = [(size, note) for size, note in _call(station.ledger.kept_checkpoints) if _has_cosignature(note)]
    if not kept:
        raise StationError(
            "No witness has cosigned a checkpoint of this station yet.",
            "Export the ledger, have head office run `station ledger witness`, then "
            "`station ledger cosign-add`.",
        )
    return kept[-1][1]


def _has_cosignature(note: str) -> bool:
    return any(len(s.signature) == 72 for s in parse_note(note).signatures)


def verifier_key(station: Station) -> str:
    return _call(station.ledger.verifier_key)


def prove(station: Station, index: int, size: int | None = None) -> TlogProof:
    return _call(lambda: station.ledger.prove(index, size))


def consistency(station: Station, old: int, new: int | None = None) -> list[str]:
    return [base64.b64encode(h).decode() for h in _call(lambda: station.ledger.consistency(old, new))]


def export(station: Station, directory: Path) -> dict[str, object]:
    return _call(lambda: ledger_bundle.export(station.ledger, directory))


def _trusted_text(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"Cannot read the trusted checkpoint {path}: {exc}.", "Give the checkpoint file you kept."
        ) from exc


def _keys(keys: list[str] | None) -> list[str] | None:
    for key in keys or []:
        try:
            parse_verifier_key(key)
        except NoteError as exc:
            raise InputError(
                f"{key!r} is not a verifier key.", "Give it as printed by `station ledger key`."
            ) from exc
    return keys or None


def verify(
    station: Station | None,
    *,
    bundle: Path | None = None,
    trusted: Path | None = None,
    keys: list[str] | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify the station's ledger, or an exported bundle (``station`` may then be None)."""
    trusted_text = _trusted_text(trusted)
    keys = _keys(keys)
    if bundle is not None:
        return _call(lambda: verify_bundle(bundle, keys, trusted_checkpoint=trusted_text, workers=workers))
    assert station is not None
    anchors = (
        keys if keys is not None else [_call(station.ledger.verifier_key)] if _upgraded(station) else None
    )
    if anchors is None:
        return _call(lambda: station.ledger.verify(station.public_keys(), workers=workers))
    return _call(lambda: station.ledger.verify(anchors, trusted_checkpoint=trusted_text, workers=workers))


def _upgraded(station: Station) -> bool:
    try:
        station.ledger.checkpoint()
    except LedgerError:
        return False
    return True


@dataclass(frozen=True)
class Rotation:
    entry: Entry
    old_key: str
    new_key: str


def rotate_key(station: Station, *, operator: Session) -> Rotation:
    """A fresh ledger key: sealed in the vault and announced in the ledger in one transaction (admin)."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    with station.record() as tx:
        actor = require(tx.db, operator, "rotate_key", station.now()).id
    new = generate_key()
    raw = private_key_to_bytes(new)
    kid = key_id(new)
    old_key = verifier_key(station)
    now = station.now()
    with _ledger_errors(), station.ledger.atomic() as tx:
        record = f"{SIGNING_KEY_RECORD}/{kid}"
        tx.db["vault_records"].insert(
            {"id": record, "blob": station.vault.seal(record, raw), "created_at": rfc3339(now)}
        )
        entry = tx.rotate_key(new, actor=actor, at=now)
    sealed = base64.b64encode(station.vault.seal(SIGNING_KEY_RECORD, raw)).decode()
    station.config = station.config.with_key(kid, public_key_to_text(new.public_key()), sealed)
    write_config(station.data_dir, station.config)
    return Rotation(entry, old_key, verifier_key(station))


def cosign_add(station: Station, text: str, *, witness_key: str | None, operator: Session) -> Entry:
    """Store a witness's cosignature: ``text`` is the cosigned checkpoint, or just the cosignature line."""
    with station.record() as tx:
        actor = require(tx.db, operator, "ledger", station.now()).id
    keys = [witness_key] if witness_key else _call(station.ledger.witness_keys)
    if not keys:
        raise InputError(
            "This station knows no witness key yet.",
            "Give the witness's key once with --witness-key (head office prints it with the cosignature).",
        )
    text = text if text.endswith("\n") else text + "\n"
    if text.startswith("\u2014 "):  # a bare cosignature line: put it on the checkpoints we have
        candidates = [_call(station.ledger.checkpoint)] + [
            n for _, n in reversed(_call(station.ledger.kept_checkpoints))
        ]
        try:
            line = parse_signature_line(text)
        except NoteError as exc:
            raise InputError(
                f"Not a cosignature line: {exc.message}.", "Give the witness's output as it is."
            ) from exc
        texts = [c + line.line() for c in candidates]
    else:
        texts = [text]
    last: Exception | None = None
    for key in keys:
        for candidate in texts:
            try:
                with _ledger_errors(), station.ledger.atomic() as tx:
                    return tx.add_cosignature(candidate, key, actor=actor, at=station.now())
            except StationError as exc:
                last = exc
                if "forked" in exc.message:
                    raise VerificationFailed(exc.message, exc.hint) from exc
    assert last is not None
    raise last
