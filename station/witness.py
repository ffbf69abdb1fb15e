"""Head office as a witness of the branches' ledgers (C2SP tlog-cosignature v1).

Head office runs a station too. ``witness`` takes a branch's exported bundle, verifies it completely,
checks that it extends the last checkpoint head office cosigned for that branch (so a branch cannot
roll back or rewrite what head office has seen), and returns a cosignature/v1 line over the branch's
checkpoint, signed by head office's witness key. The branch stores it (``station ledger cosign-add``).

The witness key is an Ed25519 key sealed in head office's vault, named ``<origin>/witness``. What head
office last cosigned for each branch is a ``witness.cosigned`` event in head office's own ledger, with
its effect (the ``witnessed_logs`` row: the branch's pinned log key and last checkpoint) in the same
transaction. The first time, head office must be given the branch's log key (read at the branch with
``station ledger key``); after that it follows the branch's key rotations through its ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.errors import LedgerError
from ledger.keys import generate_key, private_key_from_bytes, private_key_to_bytes
from ledger.note import Cosigner, NoteError, add_signatures, parse_checkpoint, parse_note, parse_verifier_key
from ledger.verify import verify_bundle

from .clock import rfc3339
from .core import Station
from .errors import InputError, StationError, VerificationFailed
from .inventory.roles import require
from .operators.sessions import Session

WITNESS_KEY_RECORD = "station/witness-key"
TABLE = "witnessed_logs"


@dataclass(frozen=True)
class Cosignature:
    origin: str
    size: int
    line: str  # the cosignature/v1 signature line, newline included
    cosigned: str  # the branch's checkpoint with the line appended
    witness_key: str  # head office's witness verifier key (type 0x04)


def _ensure_table(station: Station) -> None:
    db = station.ledger.db
    if not db[TABLE].exists():
        db[TABLE].create(
            {"origin": str, "log_key": str, "size": int, "checkpoint": str, "cosigned_at": str}, pk="origin"
        )


def _cosigner(station: Station) -> Cosigner:
    """Head office's witness key, made (sealed, recorded) the first time it is needed."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase to witness.")
    name = f"{station.ledger.origin}/witness"
    row = station.ledger.db.execute(
        "SELECT blob FROM vault_records WHERE id = ?", [WITNESS_KEY_RECORD]
    ).fetchone()
    if row is not None:
        return Cosigner(name, private_key_from_bytes(station.secret(WITNESS_KEY_RECORD)))
    key = generate_key()
    cosigner = Cosigner(name, key)
    with station.record() as tx:
        blob = station.vault.seal(WITNESS_KEY_RECORD, private_key_to_bytes(key))
        tx.db["vault_records"].insert(
            {"id": WITNESS_KEY_RECORD, "blob": blob, "created_at": rfc3339(station.now())}
        )
        tx.append(
            "witness.key_created", {"key": cosigner.verifier().vkey()}, actor="station", at=station.now()
        )
    return cosigner


def witness_key(station: Station) -> str:
    return _cosigner(station).verifier().vkey()


def witness(station: Station, bundle: Path, *, log_key: str | None, operator: Session) -> Cosignature:
    """Verify a branch's bundle against what head office saw last, and cosign its checkpoint."""
    if station.vault is not None:
        with station.record() as tx:
            actor = require(tx.db, operator, "ledger", station.now()).id
    _ensure_table(station)
    cosigner = _cosigner(station)
    checkpoint_text = _read(bundle / "checkpoint")
    try:
        note = parse_note(checkpoint_text)
        checkpoint = parse_checkpoint(note.text)
    except NoteError as exc:
        raise InputError(
            f"The bundle's checkpoint is malformed: {exc.message}.", "Export the bundle again."
        ) from exc
    seen = station.ledger.db.execute(
        "SELECT log_key, size, checkpoint FROM witnessed_logs WHERE origin = ?",
        [checkpoint.origin],
    ).fetchone()
    if seen is None and not log_key:
        raise InputError(
            f"Head office has not witnessed {checkpoint.origin} before.",
            "Give the branch's log key once with --log-key (the branch prints it with `station ledger key`).",
        )
    if log_key:
        try:
            parse_verifier_key(log_key)
        except NoteError as exc:
            raise InputError(
                f"{log_key!r} is not a verifier key.", "Copy it as the branch printed it."
            ) from exc
    pinned = log_key or seen[0]
    try:
        report = verify_bundle(bundle, [pinned], trusted_checkpoint=seen[2] if seen else None)
    except LedgerError as exc:
        raise StationError(exc.message, exc.hint) from exc
    if not report.ok:
        raise VerificationFailed(
            f"Not cosigned: the bundle of {checkpoint.origin} fails verification ({report.kind}): "
            f"{report.problem}",
            "Keep the bundle as evidence and call the branch's supervisor and the auditor.",
        )
    now = station.now()
    line = cosigner.sign(note.text, int(now.timestamp()))
    current_key = report.log_keys[-1] if report.log_keys else pinned
    with station.record() as tx:
        tx.db[TABLE].upsert(
            {
                "origin": checkpoint.origin,
                "log_key": current_key,
                "size": checkpoint.size,
                "checkpoint": checkpoint_text,
                "cosigned_at": rfc3339(now),
            },
            pk="origin",
        )
        tx.append(
            "witness.cosigned",
            {
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "root": note.text.split("\n")[2],
                "log_key": current_key,
                "cosignature": line.line().rstrip("\n"),
            },
            actor=actor,
            at=now,
        )
    return Cosignature(
        checkpoint.origin,
        checkpoint.size,
        line.line(),
        add_signatures(checkpoint_text, [line]),
        cosigner.verifier().vkey(),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"Cannot read {path}: {exc}.", "Give the directory `station ledger export` wrote."
        ) from exc
