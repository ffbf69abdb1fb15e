"""The station's error family: a sentence for the operator, a hint of what to do, an exit code.

Exit codes are the CLI's contract (design.md): 0 ok, 1 failed, 2 usage or bad input, 3 verification
failed. Errors from drivers/ and ledger/ are translated at the station boundary so the kiosk and the
CLI show one kind of error.
"""

from __future__ import annotations


class StationError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(StationError):
    """The operator's input is wrong (empty owner, bad digits, malformed code...)."""

    exit_code = 2


class NotInitialisedError(StationError):
    """The data directory is missing or was never set up with `station init`."""


class WrongPassphraseError(StationError):
    """The vault passphrase does not open the vault."""


class DeviceError(StationError):
    """A key could not do what was asked (removed, full, missing applet...)."""


class VerificationFailed(StationError):
    """A one-time code was checked and rejected (wrong, replayed, no token)."""

    exit_code = 3


class NotPermitted(StationError):
    """The operator is not signed in, unknown, locked, deactivated, or lacks the role the action needs;
    nothing was done."""
