"""The ledger's error family.

Every error carries a ``message`` (what went wrong, for the operator) and a ``hint`` (what to do next).
The kiosk shows both; the CLI prints both. ``str(err)`` is the message alone, so logs stay one line.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidEventError(LedgerError):
    """The caller asked to append something the ledger cannot record (bad type, body, actor or time).

    Nothing was written. This is a programming error in the caller, not damage to the ledger.
    """


class LedgerReadOnlyError(LedgerError):
    """Append was called on a ledger opened without a signing key (auditor mode)."""


class LedgerTransactionError(LedgerError):
    """A transaction was misused: nested, used after it ended, or ended behind the ledger's back."""


class LedgerIntegrityError(LedgerError):
    """Stored data failed a check while being read. ``seq`` names the entry, when known."""

    def __init__(self, message: str, hint: str = "", *, seq: int | None = None) -> None:
        super().__init__(message, hint)
        self.seq = seq
