"""Turn what a person typed into the canonical form of a code, or say why it cannot be one.

People type codes the way keys and envelopes show them: with spaces, dashes, line breaks (a key's
keyboard press ends with Enter) and in either case. Those are dropped; anything else that is not part
of the code's alphabet makes the input malformed, which is reported apart from a wrong code so the
operator knows to retype rather than to suspect the token.
"""

from __future__ import annotations

from .results import Malformed, MalformedReason

# Separators people type or keys send; non-ASCII spaces count as bad characters, not as separators.
_SEPARATORS = str.maketrans("", "", " \t\r\n-")
_DIGITS = frozenset("0123456789")


def strip_separators(text: object, what: str = "code", hint: str = "") -> str | Malformed:
    """The input without separators; empty or not text at all is malformed."""
    cleaned = text.translate(_SEPARATORS) if isinstance(text, str) else ""
    if not cleaned:
        return Malformed(MalformedReason.EMPTY, f"The {what} is malformed: it is empty.",
                         hint or f"Type the {what} you were given.")
    return cleaned


def digits(text: object, lengths: range) -> str | Malformed:
    """A numeric one-time code of one of `lengths` digits (ASCII only: '１２３' is not a code)."""
    cleaned = strip_separators(text, "code", "Read the code off the key and type its digits.")
    if isinstance(cleaned, Malformed):
        return cleaned
    if not _DIGITS.issuperset(cleaned):
        return Malformed(
            MalformedReason.BAD_CHARACTERS,
            "The code is malformed: a one-time code has only digits.",
            "Read the code off the key again and type only its digits.",
        )
    if len(cleaned) not in lengths:
        want = _lengths_text(lengths)
        return Malformed(
            MalformedReason.WRONG_LENGTH,
            f"The code is malformed: it has {len(cleaned)} digits, a code from this token has {want}.",
            "Read the code off the key again; type every digit it shows.",
        )
    return cleaned


def _lengths_text(lengths: range) -> str:
    if len(lengths) == 1:
        return str(lengths[0])
    return f"{lengths[0]} to {lengths[-1]}"
