"""Verification of version-1 ledgers (before the Merkle log): chained entries, each signed.

Used once per ledger, when it is upgraded (``Ledger.open``), and to verify a v1 ledger nobody has
upgraded yet. It cannot see entries cut off the end: that is what the signed checkpoints added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.canonical import entry_hash
from ledger.entry import GENESIS_PREV, EntryFormatError, decode_entry
from ledger.errors import LedgerError
from ledger.keys import key_id as compute_key_id
from ledger.report import DELETED, MALFORMED, MODIFIED, REORDERED, SIGNATURE, VerifyReport

# (seq, entry, hash, signature, key_id) exactly as read from ledger_entries, unchecked.
Row = tuple[object, ...]


def _check_keys(public_keys: Mapping[str, Ed25519PublicKey]) -> None:
    # A mislabelled key would make every failure message name the wrong key; refuse it up front.
    for kid, public_key in public_keys.items():
        if not isinstance(public_key, Ed25519PublicKey) or compute_key_id(public_key) != kid:
            raise LedgerError(
                f"trusted key {kid!r} is not the Ed25519 public key with that id",
                "build the mapping as {key_id(pk): pk for pk in keys}",
            )


def _check_row(
    row: Row, expected_seq: int, expected_prev: str, public_keys: Mapping[str, Ed25519PublicKey]
) -> tuple[str, str] | None:
    """(kind, problem) with one row, or None. Checks run from cheapest to most specific."""
    seq, raw, recorded_hash, signature, kid = row
    where = f"entry {seq}"
    if not isinstance(raw, bytes):
        return MALFORMED, f"{where}: stored entry is not a byte string"
    if recorded_hash != entry_hash(raw).hex():
        return MODIFIED, f"{where}: stored bytes do not match their hash"
    try:
        document = decode_entry(raw)
    except EntryFormatError as exc:
        return MALFORMED, f"{where}: {exc.message}"
    if document["v"] != 1:
        return MALFORMED, f"{where}: is not a version-1 entry"
    if document["seq"] != seq:
        return (
            REORDERED,
            f"{where}: records sequence number {document['seq']} (entries were reordered or renumbered)",
        )
    if document["prev"] != expected_prev:
        if seq == 0:
            return MODIFIED, f"{where}: does not start the chain (its link should be all zeros)"
        return MODIFIED, f"{where}: link to entry {expected_seq - 1} broken"
    public_key = public_keys.get(kid) if isinstance(kid, str) else None
    if public_key is None:
        return SIGNATURE, f"{where} names unknown key {kid if isinstance(kid, str) else repr(kid)}"
    if not isinstance(signature, bytes):
        return MALFORMED, f"{where}: signature is not a byte string"
    try:
        public_key.verify(signature, raw)
    except InvalidSignature:
        return SIGNATURE, f"{where}: signature does not verify with key {kid}"
    return None


def verify_rows(rows: Iterable[Row], public_keys: Mapping[str, Ed25519PublicKey]) -> VerifyReport:
    """Check v1 ``rows`` (in ``seq`` order) and report the first problem.

    ``public_keys`` maps key id (``ledger.keys.key_id``) to the public keys the auditor trusts.
    """
    _check_keys(public_keys)
    expected_seq, expected_prev = 0, GENESIS_PREV
    for row in rows:
        seq = row[0]
        if isinstance(seq, int) and seq < expected_seq:
            try:
                recorded = decode_entry(row[1])["seq"]  # type: ignore[arg-type]
            except (EntryFormatError, TypeError):
                recorded = seq
            return VerifyReport(
                ok=False,
                checked=expected_seq,
                first_bad_seq=recorded,
                kind=REORDERED,
                problem=f"entry {recorded} is stored under sequence number {seq} (entries were renumbered)",
            )
        if seq != expected_seq:
            return VerifyReport(
                ok=False,
                checked=expected_seq,
                first_bad_seq=expected_seq,
                kind=DELETED,
                problem=f"sequence gap: entry {expected_seq} is missing",
            )
        found = _check_row(row, expected_seq, expected_prev, public_keys)
        if found is not None:
            kind, problem = found
            return VerifyReport(ok=False, checked=expected_seq, first_bad_seq=seq, problem=problem, kind=kind)
        expected_seq += 1
        expected_prev = entry_hash(row[1]).hex()  # type: ignore[arg-type]  # bytes, checked above
    return VerifyReport(ok=True, checked=expected_seq, size=expected_seq)
