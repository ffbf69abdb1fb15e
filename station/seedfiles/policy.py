"""The import policy shared by every reader: duplicates, size limit, all-or-nothing or good ones.

A serial that appears twice makes both entries bad: the file cannot say which seed the token holds.
Two keys of one device are not duplicates when they are for different YubiKey slots, or when their
validity periods do not overlap (RFC 6030 figure 10 ships one device's keys for successive months).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from .errors import SeedFileError, SeedFileRejected
from .model import ImportMode, ImportResult, OtpKind, Reject, TokenSeed

DEFAULT_MAX_BYTES = 32 * 1024 * 1024


def check_size(data: bytes, max_bytes: int, fmt: str) -> None:
    if len(data) > max_bytes:
        raise SeedFileError(
            f"The {fmt} file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes; it was not read.",
            "A vendor seed file is far smaller: check it is the right file. If it is, split it into "
            "batches, or raise the limit for this import if you trust its source.",
        )


def _overlap(a: TokenSeed, b: TokenSeed) -> bool:
    lo, hi = datetime.min, datetime.max
    a_from = (a.valid_from or lo).replace(tzinfo=None)
    a_to = (a.valid_until or hi).replace(tzinfo=None)
    b_from = (b.valid_from or lo).replace(tzinfo=None)
    b_to = (b.valid_until or hi).replace(tzinfo=None)
    return a_from < b_to and b_from < a_to


def _duplicates(found: list[tuple[int, TokenSeed]], unit: str) -> tuple[set[int], list[Reject]]:
    groups: dict[tuple, list[tuple[int, TokenSeed]]] = defaultdict(list)
    for pos, seed in found:
        groups[("serial", seed.serial, seed.slot)].append((pos, seed))
        if seed.public_id:
            groups[("public id", seed.public_id)].append((pos, seed))
    bad: set[int] = set()
    rejects = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        clashing: set[int] = set()
        for i, (p, s) in enumerate(members):
            for q, t in members[i + 1 :]:
                if _overlap(s, t):
                    clashing.update((p, q))
        if not clashing:
            continue
        where = ", ".join(f"{unit} {p}" for p in sorted(clashing))
        what = f"serial {key[1]}" if key[0] == "serial" else f"public id {key[1]}"
        for pos, seed in members:
            if pos in clashing and pos not in bad:
                bad.add(pos)
                rejects.append(
                    Reject(
                        pos,
                        unit,
                        seed.serial,
                        f"{what} appears more than once ({where}), so the file cannot say which seed the "
                        "token holds",
                        "ask the vendor which entry is right; import neither until then",
                    )
                )
    return bad, rejects


def finish(
    fmt: str,
    found: list[tuple[int, TokenSeed]],
    rejects: list[Reject],
    mode: ImportMode,
    unit: str,
    notes: tuple[str, ...] = (),
) -> ImportResult:
    """Apply the duplicate rule and the import mode; raise when all-or-nothing meets a bad entry."""
    bad, dup_rejects = _duplicates(found, unit)
    good = tuple(seed for pos, seed in found if pos not in bad)
    all_rejects = tuple(sorted([*rejects, *dup_rejects], key=lambda r: r.position))
    if not good and not all_rejects:
        raise SeedFileError(
            f"The {fmt} file holds no token entries.",
            "Check that this is the seed file the vendor sent, not an empty template or a manifest.",
        )
    if all_rejects and mode is ImportMode.ALL_OR_NOTHING:
        raise SeedFileRejected(fmt, all_rejects, len(good))
    weak = tuple(
        f"serial {s.serial}: the secret is {len(s.secret)} bytes, under RFC 4226's 128-bit minimum; the "
        "station's code checker (pyotp) refuses secrets under 112 bits"
        for s in good
        if s.kind is not OtpKind.YUBICO_OTP and len(s.secret) < 16
    )
    return ImportResult(fmt, good, all_rejects, (*notes, *weak))
