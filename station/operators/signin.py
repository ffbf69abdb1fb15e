"""Sign-in: operator id, PIN and a code from the operator's own token, all checked offline.

Both the PIN (Argon2id, pins.py) and the code (station.code_check, with the token's state from the
projection) are checked on every attempt; the operator is told only that the pair failed, the ledger
says which part. A malformed code is reported as such and counts as nothing. Failures are ledger
events (``operator.sign_in_failed``) that carry the running count and the lockout: after the policy's
free attempts each failure doubles the wait (30 s, 60 s, 2 min, ... up to the maximum), during which
attempts are refused unchecked (and recorded). A success (``operator.signed_in``) resets the count,
records the token's new state (so its code is never accepted again) and starts a session.

A second operator's approval of a four-eyes action is a sign-in too (``purpose="approval"``): a
session of a few minutes that one action uses up (roles.require_second).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.keys import private_key_from_bytes
from ledger.note import Signer

from .. import code_check
from ..clock import rfc3339
from ..codes import Malformed
from ..core import Station
from ..errors import InputError, NotPermitted, StationError
from . import sessions
from .credentials import signer_name
from .pins import PinRecord, open_with_pin
from .sessions import APPROVAL, WORK, Session


class SignInFailed(StationError):
    """The PIN or the code was wrong (the ledger records which); the failure counts toward a lockout."""


class LockedOut(NotPermitted):
    """Too many failed sign-ins: the operator must wait before trying again."""


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _operator_row(station: Station, operator_id: str) -> dict | None:
    cur = station.ledger.db.execute(
        "SELECT o.status, o.failures, o.locked_until, o.break_glass, t.kind, t.vault_record, t.pin_record,"
        " t.algorithm, t.digits, t.period, t.public_id, t.last_step, t.drift, t.usage_counter,"
        " t.session_counter, t.used_codes FROM operators o LEFT JOIN operator_tokens t ON t.operator = o.id"
        " WHERE o.id = ?",
        [operator_id],
    )
    row = cur.fetchone()
    return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))


def _record_failure(
    station: Station, operator_id: str | None, reason: str, row: dict | None, *, count: bool
) -> tuple[int, str | None]:
    """Record a failed attempt; (failures, locked_until) after it."""
    now = station.now()
    body: dict = {"operator": operator_id, "reason": reason}
    failures, until = (row["failures"], row["locked_until"]) if row else (0, None)
    if count and row is not None:
        failures += 1
        delay = station.config.policy.lockout_delay(failures)
        until = rfc3339(now + timedelta(seconds=delay)) if delay else None
        body.update(failures=failures, locked_until=until)
    station.append("operator.sign_in_failed", body, actor=operator_id or "unknown")
    return failures, until


def _generic_failure(station: Station, failures: int, until: str | None) -> SignInFailed:
    policy = station.config.policy
    if until is not None:
        wait = int((_parse(until) - station.now()).total_seconds())
        return SignInFailed(
            f"Sign-in refused: the PIN or the code is wrong. After {failures} failed attempts the operator"
            f" must wait {wait} s before the next one.",
            "Check your operator id, type the PIN again and a fresh code; each further failure doubles"
            " the wait.",
        )
    left = max(policy.lockout_free_attempts - failures, 0)
    return SignInFailed(
        "Sign-in refused: the PIN or the code is wrong.",
        f"Type them again with a fresh code from your token ({left} more attempt(s) before a waiting time).",
    )


def sign_in(station: Station, operator_id: str, pin: str, code: str, *, purpose: str = WORK) -> Session:
    """A session for the operator, or a refusal (recorded) saying what to do."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    if purpose not in (WORK, APPROVAL):
        raise ValueError(f"unknown sign-in purpose {purpose!r}")
    operator_id = (operator_id or "").strip()
    if not operator_id or any(ord(c) < 32 for c in operator_id) or len(operator_id) > 64:
        raise InputError("Type your operator id (it is printed on your badge).", "Then your PIN and a code.")
    policy = station.config.policy
    now = station.now()
    row = _operator_row(station, operator_id)
    if row is None:
        # The typed id is not recorded: a PIN typed into the wrong field must not reach the ledger.
        _record_failure(station, None, "unknown operator", None, count=False)
        raise SignInFailed(
            "Sign-in refused: the PIN or the code is wrong.",
            "Check your operator id, then type the PIN and a fresh code again.",
        )
    if row["status"] != "active":
        _record_failure(station, operator_id, row["status"], row, count=False)
        raise NotPermitted(
            f"Operator {operator_id} is {row['status']}: they cannot sign in.",
            "An admin and a second operator unlock a locked operator (station operator unlock).",
        )
    if row["locked_until"] is not None and now < _parse(row["locked_until"]):
        _record_failure(station, operator_id, "locked out", row, count=False)
        wait = int((_parse(row["locked_until"]) - now).total_seconds())
        raise LockedOut(
            f"{operator_id} is locked out after {row['failures']} failed sign-ins, for another"
            f" {wait} s (until {row['locked_until']}).",
            "Wait, then sign in with the right PIN and a fresh code; an admin and a second"
            " operator can unlock sooner.",
        )
    if row["kind"] is None:
        raise NotPermitted(
            f"{operator_id} has no PIN and token enrolled yet.",
            f"An admin enrols them: station operator credentials {operator_id}.",
        )
    checked = code_check.check(row["kind"], row, station.secret(row["vault_record"]), code, now, policy)
    if isinstance(checked.result, Malformed):
        raise InputError(checked.result.message, checked.result.hint)
    signer_raw = open_with_pin(PinRecord.from_bytes(station.secret(row["pin_record"])), pin, operator_id)
    if signer_raw is None or not checked.ok:
        parts = ([] if signer_raw is not None else ["wrong pin"]) + (
            [] if checked.ok else [f"code: {checked.result.reason}"]
        )
        failures, until = _record_failure(station, operator_id, "; ".join(parts), row, count=True)
        raise _generic_failure(station, failures, until)
    signer = Signer(signer_name(operator_id), private_key_from_bytes(signer_raw))
    approval = purpose == APPROVAL
    idle = timedelta(minutes=policy.approval_minutes if approval else policy.idle_minutes)
    lifetime = idle if approval else timedelta(hours=policy.session_hours)
    with station.record() as tx:
        session = sessions.create(
            tx.db,
            operator_id,
            now,
            idle=idle,
            lifetime=lifetime,
            purpose=purpose,
            break_glass=bool(row["break_glass"]),
            signer=signer,
        )
        body = {
            "operator": operator_id,
            "session": session.id,
            "purpose": purpose,
            "break_glass": bool(row["break_glass"]),
            "token_state": checked.state,
        }
        tx.append("operator.signed_in", body, actor=operator_id, at=now)
    return session


def approve(station: Station, operator_id: str, pin: str, code: str) -> Session:
    """A second operator signs in to approve one four-eyes action (used up by that action)."""
    return sign_in(station, operator_id, pin, code, purpose=APPROVAL)


def sign_out(station: Station, session: Session, reason: str = "signed out") -> bool:
    """End a session (the kiosk's Sign out, or its inactivity lock). False if it had ended already."""
    now = station.now()
    with station.record() as tx:
        if not sessions.live(tx.db, session):
            return False
        sessions.end(tx.db, session.id, now, reason)
        tx.append(
            "operator.signed_out",
            {"operator": session.operator, "session": session.id, "reason": reason},
            actor=session.operator,
            at=now,
        )
    return True


def touch(station: Station, session: Session) -> None:
    """Note activity at the kiosk (typing), so a busy operator is not timed out mid-form."""
    with station.record() as tx:
        sessions.check(tx.db, session, station.now())


def roles_of(station: Station, operator_id: str) -> frozenset[str]:
    """The operator's roles now (what the kiosk shows them; the station checks again at each action)."""
    row = station.ledger.db.execute("SELECT roles FROM operators WHERE id = ?", [operator_id]).fetchone()
    return frozenset(r for r in (row[0] if row else "").split(",") if r)


def open_review_count(station: Station) -> int:
    """Break-glass uses an auditor has not closed yet (the kiosk shows the number at sign-in)."""
    return station.ledger.db.execute("SELECT count(*) FROM reviews WHERE status = 'open'").fetchone()[0]
