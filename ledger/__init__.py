"""Append-only, tamper-evident Merkle log of events with C2SP signed checkpoints.

Knows nothing of tokens, devices or the station.
"""

from ledger.canonical import canonical_bytes, entry_hash
from ledger.entry import GENESIS_PREV, Entry, format_at, parse_at
from ledger.errors import (
    InvalidEventError,
    LedgerError,
    LedgerIntegrityError,
    LedgerReadOnlyError,
    LedgerTransactionError,
)
from ledger.keys import (
    generate_key,
    key_id,
    private_key_from_bytes,
    private_key_to_bytes,
    public_key_from_text,
    public_key_to_text,
)
from ledger.log import Ledger, Transaction
from ledger.report import VerifyReport
from ledger.signers import Endorsement, endorse

__all__ = [
    "GENESIS_PREV",
    "Endorsement",
    "Entry",
    "InvalidEventError",
    "Ledger",
    "LedgerError",
    "LedgerIntegrityError",
    "LedgerReadOnlyError",
    "LedgerTransactionError",
    "Transaction",
    "VerifyReport",
    "canonical_bytes",
    "endorse",
    "entry_hash",
    "format_at",
    "generate_key",
    "key_id",
    "parse_at",
    "private_key_from_bytes",
    "private_key_to_bytes",
    "public_key_from_text",
    "public_key_to_text",
]
