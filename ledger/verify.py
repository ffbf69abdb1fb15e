"""Full verification of a ledger's stored rows.

What it proves: every stored entry is well-formed canonical bytes, matches its recorded hash, sits at
the position it claims, links to the entry before it, and carries a valid signature by a trusted key.
What it cannot prove on its own: that no entries were cut off the end. Deleting the newest entries
leaves a shorter but perfectly consistent chain. Signed Merkle checkpoints (RFC 6962 / C2SP
tlog-checkpoint, a later issue), held outside the station, close that gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.canonical import entry_hash
from ledger.entry import GENESIS_PREV, EntryFormatError, decode_entry
from ledger.errors import LedgerError
from ledger.keys import key_id as compute_key_id

# (seq, entry, hash, signature, key_id) exactly as read from ledger_entries, unchecked.
Row = tuple[object, object, object, object, object]


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of ``Ledger.verify``.

    ``checked`` counts entries that passed every check before the first problem (all of them when
    ``ok``). ``first_bad_seq`` and ``problem`` name the first failure, in a sentence for an auditor.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


def _check_keys(public_keys: Mapping[str, Ed25519PublicKey]) -> None:
    # A mislabelled key would make every failure message name the wrong key; refuse it up front.
    for kid, public_key in public_keys.items():
        if not isinstance(public_key, Ed25519PublicKey) or compute_key_id(public_key) != kid:
            raise LedgerError(
                f"trusted key {kid!r} is not the Ed25519 public key with that id",
                "build the mapping as {key_id(pk): pk for pk in keys}",
            )


def _short(kid: object) -> str:
    return repr(kid) if not isinstance(kid, str) else kid


def _check_row(
    row: Row, expected_seq: int, expected_prev: str, public_keys: Mapping[str, Ed25519PublicKey]
) -> str | None:
    """Return the problem with one row, or None. Checks run from cheapest to most specific."""
    seq, raw, recorded_hash, signature, kid = row
    where = f"entry {seq}"
    if not isinstance(raw, bytes):
        return f"{where}: stored entry is not a byte string"
    if recorded_hash != entry_hash(raw).hex():
        return f"{where}: stored bytes do not match their hash"
    try:
        document = decode_entry(raw)
    except EntryFormatError as exc:
        return f"{where}: {exc.message}"
    if document["seq"] != seq:
        return f"{where}: records sequence number {document['seq']} (entries were reordered or renumbered)"
    if document["prev"] != expected_prev:
        if seq == 0:
            return f"{where}: does not start the chain (its link should be all zeros)"
        return f"{where}: link to entry {expected_seq - 1} broken"
    public_key = public_keys.get(kid) if isinstance(kid, str) else None
    if public_key is None:
        return f"{where} names unknown key {_short(kid)}"
    if not isinstance(signature, bytes):
        return f"{where}: signature is not a byte string"
    try:
        public_key.verify(signature, raw)
    except InvalidSignature:
        return f"{where}: signature does not verify with key {kid}"
    return None


def verify_rows(rows: Iterable[Row], public_keys: Mapping[str, Ed25519PublicKey]) -> VerifyReport:
    """Check ``rows`` (in ``seq`` order) and report the first problem.

    ``public_keys`` maps key id (``ledger.keys.key_id``) to the public keys the auditor trusts.
    """
    _check_keys(public_keys)
    expected_seq, expected_prev = 0, GENESIS_PREV
    for row in rows:
        seq = row[0]
        if isinstance(seq, int) and seq < expected_seq:
            # Below the chain's range (e.g. renumbered to -5): name the entry by what it records.
            try:
                recorded = decode_entry(row[1])["seq"]  # type: ignore[arg-type]
            except (EntryFormatError, TypeError):
                recorded = seq
            return VerifyReport(
                ok=False,
                checked=expected_seq,
                first_bad_seq=recorded,
                problem=f"entry {recorded} is stored under sequence number {seq} (entries were renumbered)",
            )
        if seq != expected_seq:
            # ORDER BY seq on an INTEGER PRIMARY KEY: a higher seq means the expected one is gone.
            return VerifyReport(
                ok=False,
                checked=expected_seq,
                first_bad_seq=expected_seq,
                problem=f"sequence gap: entry {expected_seq} is missing",
            )
        problem = _check_row(row, expected_seq, expected_prev, public_keys)
        if problem is not None:
            return VerifyReport(ok=False, checked=expected_seq, first_bad_seq=seq, problem=problem)
        expected_seq += 1
        expected_prev = entry_hash(row[1]).hex()  # type: ignore[arg-type]  # bytes, checked above
    return VerifyReport(ok=True, checked=expected_seq)
