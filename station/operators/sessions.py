"""Signed-in sessions: the proof, checked at every state-changing call, that an operator signed in.

A `Session` is made only by a successful sign-in (signin.py): operator id, PIN and a code from the
operator's own token. It carries a random 256-bit token; the station keeps only its SHA-256 in
`operator_sessions` (station state, not a projection: a rebuild leaves it alone), with when it was
last used. `check` refuses a session that is unknown, ended, idle longer than the policy allows, past
its maximum length, or whose operator is no longer active, so a forged or copied `Session` value gets
nothing. Approval sessions (a second operator's sign-in for a four-eyes action) last minutes and end
when used once.

Scripts can keep a session across commands (`station login`): the token travels as
``STATION_SESSION=<id>.<token>``; the operator's signing key, which only their PIN unwraps, is kept
for the session encrypted under a key derived from the token, so it too is useless without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlite_utils
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.keys import private_key_from_bytes, private_key_to_bytes
from ledger.note import Signer

from ..clock import rfc3339
from ..errors import NotPermitted

TABLE = "operator_sessions"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id TEXT PRIMARY KEY NOT NULL, token_hash BLOB NOT NULL, operator TEXT NOT NULL, purpose TEXT NOT NULL,
    break_glass INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL, last_seen TEXT NOT NULL,
    idle_seconds INTEGER NOT NULL, expires_at TEXT NOT NULL, ended_at TEXT, end_reason TEXT,
    sealed_signer BLOB)"""
WORK, APPROVAL = "work", "approval"
TOKEN_BYTES = 32
_SIGNER_INFO = b"token-station session signer v1"


class NotSignedIn(NotPermitted):
    """The session is unknown, ended, idle too long or expired: sign in again."""


@dataclass(frozen=True)
class Session:
    """A signed-in operator. Only `signin.sign_in` makes valid ones; `check` proves them each time."""

    id: str
    operator: str
    started_at: datetime
    purpose: str = WORK
    break_glass: bool = False
    token: bytes = field(default=b"", repr=False, compare=False)
    signer: Signer | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.operator

    @property
    def approval(self) -> bool:
        return self.purpose == APPROVAL

    def export(self) -> str:
        """The session as scripts pass it (STATION_SESSION): id and token. A secret: keep it so."""
        return f"{self.id}.{base64.urlsafe_b64encode(self.token).decode().rstrip('=')}"


def ensure_table(db: sqlite_utils.Database) -> None:
    db.execute(DDL)


def _hash(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def _signer_key(token: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_SIGNER_INFO).derive(token)


def create(
    db: sqlite_utils.Database,
    operator: str,
    at: datetime,
    *,
    idle: timedelta,
    lifetime: timedelta,
    purpose: str = WORK,
    break_glass: bool = False,
    signer: Signer | None = None,
) -> Session:
    """Start a session (inside the sign-in's transaction); the token exists only in the returned value."""
    session_id, token = os.urandom(8).hex(), os.urandom(TOKEN_BYTES)
    sealed = None
    if signer is not None:
        nonce = os.urandom(12)
        raw = private_key_to_bytes(signer.private_key)
        sealed = nonce + AESGCM(_signer_key(token, session_id.encode())).encrypt(
            nonce, signer.name.encode() + b"\n" + raw, session_id.encode()
        )
    db.execute(
        f"INSERT INTO {TABLE} (id, token_hash, operator, purpose, break_glass, started_at, last_seen,"  # noqa: S608
        " idle_seconds, expires_at, sealed_signer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            session_id,
            _hash(token),
            operator,
            purpose,
            int(break_glass),
            rfc3339(at),
            rfc3339(at),
            int(idle.total_seconds()),
            rfc3339(at + lifetime),
            sealed,
        ],
    )
    return Session(
        session_id, operator, at.astimezone(UTC).replace(microsecond=0), purpose, break_glass, token, signer
    )


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _row(db: sqlite_utils.Database, session_id: str) -> dict | None:
    cur = db.execute(f"SELECT * FROM {TABLE} WHERE id = ?", [session_id])  # noqa: S608 - fixed name
    row = cur.fetchone()
    return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))


def _refuse(operator: str, why: str) -> NotSignedIn:
    return NotSignedIn(
        f"{operator} is not signed in: {why}.",
        "Sign in again with your operator id, PIN and a code from your token.",
    )


def check(db: sqlite_utils.Database, session: object, at: datetime, *, touch: bool = True) -> None:
    """Refuse anything but a live session of this station; note the activity (idle timer)."""
    if not isinstance(session, Session):
        raise NotSignedIn(
            "No operator is signed in for this action.",
            "Sign in with your operator id, PIN and a code from your token (scripts: see the"
            " README, 'Scripts').",
        )
    row = _row(db, session.id)
    if (
        row is None
        or not hmac.compare_digest(row["token_hash"], _hash(session.token))
        or row["operator"] != session.operator
        or row["purpose"] != session.purpose
    ):
        raise _refuse(session.operator, "this sign-in is not known to this station")
    if row["ended_at"] is not None:
        raise _refuse(session.operator, f"the session ended ({row['end_reason']})")
    idle_for = at - _parse(row["last_seen"])
    if idle_for > timedelta(seconds=row["idle_seconds"]):
        end(db, session.id, _parse(row["last_seen"]) + timedelta(seconds=row["idle_seconds"]), "inactivity")
        minutes = row["idle_seconds"] // 60
        raise _refuse(session.operator, f"the session ended after {minutes} minutes without activity")
    if at >= _parse(row["expires_at"]):
        end(db, session.id, _parse(row["expires_at"]), "expired")
        raise _refuse(session.operator, "the session reached its maximum length")
    if touch and at > _parse(row["last_seen"]):
        db.execute(f"UPDATE {TABLE} SET last_seen = ? WHERE id = ?", [rfc3339(at), session.id])  # noqa: S608


def end(db: sqlite_utils.Database, session_id: str, at: datetime, reason: str) -> None:
    db.execute(
        f"UPDATE {TABLE} SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",  # noqa: S608
        [rfc3339(at), reason, session_id],
    )


def end_all(db: sqlite_utils.Database, operator: str, at: datetime, reason: str) -> int:
    """End every live session of an operator (locked, deactivated, credentials replaced)."""
    cur = db.execute(
        f"UPDATE {TABLE} SET ended_at = ?, end_reason = ? WHERE operator = ? AND ended_at IS NULL",  # noqa: S608
        [rfc3339(at), reason, operator],
    )
    return cur.rowcount


def live(db: sqlite_utils.Database, session: Session) -> bool:
    row = _row(db, session.id)
    return row is not None and row["ended_at"] is None


def resume(db: sqlite_utils.Database, exported: str, at: datetime) -> Session:
    """The session a script passes back (`Session.export`), checked like any other."""
    try:
        session_id, token_text = exported.strip().split(".", 1)
        token = base64.urlsafe_b64decode(token_text + "=" * (-len(token_text) % 4))
    except (ValueError, binascii.Error):
        raise NotSignedIn(
            "STATION_SESSION is not a session from 'station login'.",
            'Sign in again: eval "$(station login)".',
        ) from None
    row = _row(db, session_id)
    if row is None or not hmac.compare_digest(row["token_hash"], _hash(token)):
        raise NotSignedIn(
            "STATION_SESSION is not a live session of this station.",
            'Sign in again: eval "$(station login)".',
        )
    if row["purpose"] != WORK:
        raise NotSignedIn(
            "An approval cannot be passed on as a session.", "The second operator signs in for each approval."
        )
    signer = None
    if row["sealed_signer"] is not None:
        blob = row["sealed_signer"]
        try:
            plain = AESGCM(_signer_key(token, session_id.encode())).decrypt(
                blob[:12], blob[12:], session_id.encode()
            )
        except InvalidTag:
            raise NotSignedIn("STATION_SESSION does not match its record.", "Sign in again.") from None
        name, raw = plain.split(b"\n", 1)
        signer = Signer(name.decode(), private_key_from_bytes(raw))
    session = Session(
        session_id,
        row["operator"],
        _parse(row["started_at"]),
        row["purpose"],
        bool(row["break_glass"]),
        token,
        signer,
    )
    check(db, session, at)
    return session
