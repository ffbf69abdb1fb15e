"""Slow hashes for codes people type (recovery and temporary access codes): Argon2id.

Argon2id (RFC 9106) is memory-hard, so a stolen table of hashes is costly to attack with GPUs or
ASICs; it is the first choice of RFC 9106 and of OWASP's password storage guidance, ahead of scrypt,
which the vault already uses for its one passphrase. cryptography (already a dependency) provides
Argon2id since 44.0, so no new package is needed (argon2-cffi would be one). The default cost is
OWASP's recommended minimum (19 MiB, 2 passes, 1 lane, about 30 ms here); the cost is stored with
each hash, so it can be raised later without losing the hashes already made.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

HASH_BYTES = 32
SALT_BYTES = 16


@dataclass(frozen=True)
class HashCost:
    memory_kib: int = 19 * 1024
    iterations: int = 2
    lanes: int = 1

    def __post_init__(self) -> None:
        if self.lanes < 1 or self.iterations < 1 or self.memory_kib < 8 * self.lanes:
            raise ValueError("Argon2id needs at least one pass, one lane and 8 KiB per lane")

    def to_json(self) -> dict:
        return {"kdf": "argon2id", "m": self.memory_kib, "t": self.iterations, "p": self.lanes}

    @classmethod
    def from_json(cls, data: dict) -> HashCost:
        if data.get("kdf") != "argon2id":
            raise ValueError(f"unknown code hash {data.get('kdf')!r}")
        return cls(int(data["m"]), int(data["t"]), int(data["p"]))


DEFAULT_COST = HashCost()


def slow_hash(code: str, salt: bytes, cost: HashCost) -> bytes:
    """Argon2id of a code in its canonical form."""
    kdf = Argon2id(salt=salt, length=HASH_BYTES, iterations=cost.iterations, lanes=cost.lanes,
                   memory_cost=cost.memory_kib)
    return kdf.derive(code.encode("ascii"))


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
