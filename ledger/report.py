"""What a verification found, in words an auditor can act on."""

from __future__ import annotations

from dataclasses import dataclass

# What kind of damage a problem shows. Verification names the first problem it meets and its kind.
MODIFIED = "modified"  # an entry's bytes were changed
DELETED = "deleted"  # an entry is missing from the middle
TRUNCATED = "truncated"  # entries were cut off the end
REORDERED = "reordered"  # entries were moved or renumbered
INSERTED = "inserted"  # an entry the log never signed was added
FORKED = "forked"  # the history differs from one the auditor (or a witness) saw before
SIGNATURE = "signature"  # a checkpoint or endorsement signature is missing, wrong or by a key not allowed
MALFORMED = "malformed"  # something is not in the format the ledger writes


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of a verification.

    ``checked`` counts entries that passed every check before the first problem (all of them when
    ``ok``). ``first_bad_seq``, ``problem`` and ``kind`` name the first failure. When ``ok``, ``size``
    and ``root`` are the verified tree and ``checkpoint`` the signed note that vouches for it.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    kind: str | None = None
    size: int | None = None
    root: str | None = None
    checkpoint: str | None = None
    notes: tuple[str, ...] = ()
    log_keys: tuple[str, ...] = ()  # the log's keys, oldest first, as verified

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "kind": self.kind,
            "size": self.size,
            "root": self.root,
            "notes": list(self.notes),
            "log_keys": list(self.log_keys),
        }
