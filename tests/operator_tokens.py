"""Test-only operator credentials: a PIN and an HOTP token per operator, whose codes the tests compute.

Production operators sign in with their own hardware token; tests enrol each test operator with an
HOTP seed derived from its id (so any test, and any subprocess, can compute the next code) and sign
in exactly as an operator does: id, PIN and code, through `station.operators.signin`. PINs are hashed
at a low Argon2id cost (`CHEAP`, stored with each hash like any cost) to keep the suite fast. Nothing
here is reachable from production code.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pyotp

from station.codes.slow_hash import HashCost
from station.operators.credentials import OperatorToken

CHEAP = HashCost(memory_kib=1024, iterations=1)


def seed(operator: str) -> bytes:
    return hashlib.sha256(b"token-station test operator " + operator.encode()).digest()[:20]


def pin(operator: str) -> str:
    return f"pin-{operator}-2468"


def token(operator: str) -> OperatorToken:
    return OperatorToken("hotp", seed(operator), "SHA1", 6, None, -1)


def otpauth(operator: str) -> str:
    return pyotp.HOTP(base64.b32encode(seed(operator)).decode()).provisioning_uri(
        name=operator, initial_count=0, issuer_name="Test operators"
    )


def code_at(operator: str, counter: int) -> str:
    return pyotp.HOTP(base64.b32encode(seed(operator)).decode()).at(counter)


class Codes:
    """The next HOTP code of each test operator (each code is accepted once, in order)."""

    def __init__(self, state: Path | None = None) -> None:
        self._counters: dict[str, int] = {}
        self._state = state  # kept in a file when several processes sign in (CLI tests)

    def _load(self) -> None:
        if self._state is not None and self._state.exists():
            for line in self._state.read_text().splitlines():
                name, value = line.rsplit(" ", 1)
                self._counters[name] = int(value)

    def _save(self) -> None:
        if self._state is not None:
            tmp = self._state.with_suffix(".tmp")
            tmp.write_text("".join(f"{k} {v}\n" for k, v in self._counters.items()))
            os.replace(tmp, self._state)

    def next(self, operator: str) -> str:
        self._load()
        counter = self._counters.get(operator, 0)
        self._counters[operator] = counter + 1
        self._save()
        return code_at(operator, counter)

    def skip(self, operator: str, n: int = 1) -> None:
        self._load()
        self._counters[operator] = self._counters.get(operator, 0) + n
        self._save()
