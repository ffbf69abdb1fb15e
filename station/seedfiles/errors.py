"""Errors of the seed-file layer: each says what is wrong with the file and what to do.

They are `InputError`s (CLI exit code 2): the operator's file is the bad input. No message ever
carries a secret; entries are named by position and serial.
"""

from __future__ import annotations

from ..errors import InputError
from .model import Reject


class SeedFileError(InputError):
    """The file as a whole cannot be read (not XML, an XML attack, too big, no KeyContainer...)."""


class WrongKeyError(SeedFileError):
    """The password or pre-shared key given does not open the file."""


class SeedFileRejected(SeedFileError):
    """Some entries are bad and the import is all-or-nothing: nothing was accepted."""

    def __init__(self, fmt: str, rejects: tuple[Reject, ...], good: int) -> None:
        lines = "\n".join("  " + r.describe() for r in rejects)
        super().__init__(
            f"{len(rejects)} bad entr{'y' if len(rejects) == 1 else 'ies'} in the {fmt} file, "
            f"so nothing was imported ({good} good):\n{lines}",
            "Ask the vendor for a corrected file, or import the good entries only and follow up the "
            "rejected serials.",
        )
        self.rejects = rejects
        self.good = good


class ExportRefused(InputError):
    """A writer was given tokens its target format or IdP cannot take; nothing was written."""

    def __init__(self, fmt: str, refusals: tuple[tuple[str, str], ...], hint: str = "") -> None:
        lines = "\n".join(f"  serial {serial}: {reason}" for serial, reason in refusals)
        super().__init__(
            f"{len(refusals)} token(s) cannot go into a {fmt} export:\n{lines}",
            hint or "Leave these tokens out of this export, or choose a format their IdP takes.",
        )
        self.refusals = refusals
