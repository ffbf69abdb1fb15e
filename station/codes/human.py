"""Codes a person reads off paper and types: recovery codes and temporary access codes.

Format: groups of four characters from Crockford's base32 alphabet (digits and capitals without I, L,
O and U), e.g. `7KQ2-M9XD-4HR6`. Reading is forgiving as Crockford intends: any case, O read as 0,
I and L as 1, spaces and dashes ignored. The last character is a Luhn mod 32 check character over the
others (Luhn's algorithm generalised to N characters), which catches every single mistyped character
and most swapped neighbours, so a typo is reported as malformed at once instead of costing a slow hash
and counting as a wrong code. Every other character is random: 5 bits each.
"""

from __future__ import annotations

from collections.abc import Callable

from .normalise import strip_separators
from .results import Malformed, MalformedReason

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
GROUP = 4
Random = Callable[[int], bytes]


def _check_char(body: str) -> str:
    # Luhn mod N: double every other value from the right, add the base-N digits of each product.
    n, total, factor = len(ALPHABET), 0, 2
    for char in reversed(body):
        addend = factor * _INDEX[char]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def random_bits(groups: int) -> int:
    """Secret bits in a code of `groups` groups (the check character carries none)."""
    return 5 * (GROUP * groups - 1)


def generate(groups: int, rng: Random) -> str:
    """A fresh code of `groups` groups, shown with dashes. `rng(n)` gives n random bytes."""
    if groups < 2:
        raise ValueError("a code needs at least two groups")
    body = "".join(ALPHABET[b % len(ALPHABET)] for b in rng(GROUP * groups - 1))  # 256 % 32 == 0: unbiased
    if len(body) != GROUP * groups - 1:
        raise ValueError("the random source gave too few bytes")
    whole = body + _check_char(body)
    return "-".join(whole[i:i + GROUP] for i in range(0, len(whole), GROUP))


def read(text: object, groups: int, *, what: str) -> str | Malformed:
    """The canonical form (capitals, no dashes) of a typed code of `groups` groups, or why it is none."""
    cleaned = strip_separators(text, what)
    if isinstance(cleaned, Malformed):
        return cleaned
    canonical = cleaned.upper().translate(_READ_AS) if cleaned.isascii() else cleaned
    if any(c not in _INDEX for c in canonical):
        return Malformed(
            MalformedReason.BAD_CHARACTERS,
            f"The {what} is malformed: it has a character that is not a letter or digit of such codes "
            "(there is no U).",
            f"Type the {what} exactly as printed; dashes and spaces may be left out.",
        )
    if len(canonical) != GROUP * groups:
        return Malformed(
            MalformedReason.WRONG_LENGTH,
            f"The {what} is malformed: it has {len(canonical)} characters, a {what} has {GROUP * groups}.",
            f"Type the whole {what} as printed, {groups} groups of {GROUP}.",
        )
    if _check_char(canonical[:-1]) != canonical[-1]:
        return Malformed(
            MalformedReason.TYPO,
            f"The {what} has a typing error: its check character does not match.",
            f"Compare each character with the printed {what} and type it again.",
        )
    return canonical
