"""Offline verification at the desk, for every kind of code an owner may present.

    TOTP, HOTP      the owner's active OATH credentials (YubiKey or classic token): station.codes with
                    the policy's window (TOTP: one step either side of where the token's clock was at
                    its last code; HOTP: look-ahead 10, or resynchronisation with two codes in a row)
    Yubico OTP      the key is found by the OTP's public id; AES-128, CRC, private id, counters
    recovery code   the owner's active set (access/recovery.py)
    temporary code  the owner's grants (access/temporary.py)

`kind="auto"` tells them apart by form: 6 to 8 digits are OATH codes, 32 to 64 modhex or hex
characters a Yubico OTP, three groups of four letters and digits a temporary or recovery code. A code
is accepted at most once, whatever resync does: the accepted step, counter or code is recorded with
the acceptance (``otp.accepted``, ``otp.resynced``, ``recovery.used``, ``temporary.used``) and the
projection keeps it. Rejections are recorded too (``otp.rejected`` with the reason). The code itself
never is. Malformed input is an InputError, not checked and not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import code_check
from .access import recovery, temporary
from .codes import Accepted, Malformed, MalformedReason, Rejected, RejectReason, parse_yubico_otp
from .codes.human import read as read_human
from .codes.normalise import digits, strip_separators
from .core import Station
from .errors import InputError, StationError, VerificationFailed
from .inventory.roles import require
from .operators.sessions import Session

CODE_LENGTHS = range(6, 9)
KINDS = ("auto", "totp", "hotp", "yubico-otp", "recovery", "temporary")
HUMAN_GROUPS = 3


@dataclass(frozen=True)
class VerifyResult:
    owner: str
    serial: int | str | None
    credential_id: str | None
    step: int | None  # TOTP step or HOTP counter accepted (None for other kinds)
    drift: int  # TOTP: steps between the token's clock and ours when this code was accepted
    ledger_seq: int
    kind: str = "totp"
    message: str = "Code accepted."


def normalise_code(code: str) -> str:
    """Strip the spaces and dashes people type; anything else that is not a digit is malformed."""
    typed = digits(code, CODE_LENGTHS)
    if isinstance(typed, Malformed):
        raise InputError(typed.message, typed.hint)
    return typed


def _code_at(seed: bytes, algorithm: str, n_digits: int, step: int) -> str:
    from .codes import TotpToken

    return TotpToken(seed, algorithm, n_digits).code_at(step)


def detect_kind(code: object) -> str:
    """'oath', 'yubico-otp' or 'access' (temporary or recovery) from the code's form; InputError if none."""
    cleaned = strip_separators(code)
    if isinstance(cleaned, Malformed):
        raise InputError(cleaned.message, cleaned.hint)
    if cleaned.isascii() and cleaned.isdigit() and len(cleaned) != 4 * HUMAN_GROUPS:
        normalise_code(cleaned)  # a digit count no OATH code has is malformed, said as such
        return "oath"
    if len(cleaned) >= 32:
        return "yubico-otp"
    human = read_human(cleaned, HUMAN_GROUPS, what="code")
    if not isinstance(human, Malformed):
        return "access"
    if human.reason == MalformedReason.TYPO:
        raise InputError(human.message, human.hint)
    raise InputError(
        "The code is malformed: it is not 6 to 8 digits, not a Yubico OTP (32 to 64 letters from a key's"
        " touch), and not a recovery or temporary code (three groups of four).",
        "Type the code exactly as the token, the envelope or the supervisor gave it.",
    )


def _refuse(station: Station, operator: Session, body: dict, result: Rejected) -> VerificationFailed:
    station.append("otp.rejected", {**body, "reason": str(result.reason)}, actor=operator.operator)
    return VerificationFailed(result.message, result.hint)


def verify_code(
    station: Station,
    owner: str | None,
    code: str,
    *,
    operator: Session,
    kind: str = "auto",
    next_code: str | None = None,
) -> VerifyResult:
    """Accept a code once, or raise VerificationFailed (recorded) / InputError (malformed) saying why."""
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    if kind not in KINDS:
        raise InputError(f"{kind!r} is not a kind of code.", f"Use one of: {', '.join(KINDS)}.")
    with station.record() as tx:
        require(tx.db, operator, "verify", station.now())
    owner = (owner or "").strip()
    if next_code is not None:
        return _verify_hotp_resync(station, owner, code, next_code, operator)
    if kind == "auto":
        kind = detect_kind(code)
    if kind == "yubico-otp":
        return _verify_yubico(station, owner or None, code, operator)
    if not owner:
        raise InputError("The owner is empty.", "Type the owner's id.")
    if kind in ("oath", "totp", "hotp"):
        return _verify_oath(station, owner, code, operator, None if kind == "oath" else kind)
    if kind == "temporary":
        return _verify_access(station, owner, code, operator, ("temporary",))
    if kind == "recovery":
        return _verify_access(station, owner, code, operator, ("recovery",))
    return _verify_access(station, owner, code, operator, ("temporary", "recovery"))


def verify_totp(station: Station, owner: str, code: str, *, operator: Session) -> VerifyResult:
    """A TOTP code (the kiosk's and scripts' common case)."""
    return verify_code(station, owner, code, operator=operator, kind="totp")


def _oath_rows(station: Station, owner: str, only: str | None) -> list[dict]:
    types = ("TOTP", "HOTP") if only is None else (only.upper(),)
    marks = ", ".join("?" for _ in types)
    return list(
        station.ledger.db.query(
            f"SELECT * FROM credentials WHERE owner = ? AND status = 'active' AND oath_type IN ({marks})",  # noqa: S608
            [owner, *types],
        )
    )


def _accepted_body(row: dict, owner: str, checked: code_check.Checked) -> dict:
    ids = {"owner": owner, "serial": row["serial"], "credential_id": row["credential_id"]}
    if row["oath_type"] == "HOTP":
        return {**ids, "kind": "hotp", "counter": checked.state["last_step"]}
    return {**ids, "step": checked.state["last_step"], "drift": checked.state["drift"]}


def _verify_oath(
    station: Station, owner: str, code: str, operator: Session, only: str | None
) -> VerifyResult:
    code = normalise_code(code)
    rows = _oath_rows(station, owner, only)
    what = "TOTP" if only == "totp" else "HOTP" if only == "hotp" else "OATH"
    if not rows:
        station.append("otp.rejected", {"owner": owner, "reason": "no active token"}, actor=operator.operator)
        raise VerificationFailed(
            f"{owner} has no active {what} token at this station.",
            "Check the owner id, or issue a token first.",
        )
    now, policy = station.now(), station.config.policy
    used: list[tuple[dict, Rejected]] = []
    spent: list[tuple[dict, Rejected]] = []
    for row in rows:
        if len(code) != row["digits"]:
            continue
        kind = row["oath_type"].lower()
        checked = code_check.check(kind, row, station.secret(row["vault_record"]), code, now, policy)
        ids = {"owner": owner, "serial": row["serial"], "credential_id": row["credential_id"]}
        if checked.ok:
            entry = station.append(
                "otp.accepted", _accepted_body(row, owner, checked), actor=operator.operator
            )
            return VerifyResult(
                owner,
                row["serial"],
                row["credential_id"],
                checked.state["last_step"],
                checked.state.get("drift", 0),
                entry.seq,
                kind,
                checked.result.message,
            )
        result = checked.result
        if isinstance(result, Rejected) and result.reason in (RejectReason.REPLAY, RejectReason.OLDER):
            used.append(({**ids, "kind": kind} if kind == "hotp" else ids, result))
        elif isinstance(result, Rejected) and result.reason == RejectReason.EXHAUSTED:
            spent.append(({**ids, "kind": kind}, result))
    for found in (used, spent):
        if found:
            ids, result = found[0]
            raise _refuse(station, operator, ids, result)
    station.append("otp.rejected", {"owner": owner, "reason": "wrong code"}, actor=operator.operator)
    raise VerificationFailed(
        f"The code does not match {owner}'s token.",
        "Check the owner id and that the code was read from the right key, then try the next code; an HOTP"
        " token pressed many times away from the desk is resynchronised with two codes in a row.",
    )


def _verify_hotp_resync(
    station: Station, owner: str, first: str, second: str, operator: Session
) -> VerifyResult:
    if not owner:
        raise InputError("The owner is empty.", "Type the owner's id.")
    first, second = normalise_code(first), normalise_code(second)
    rows = [r for r in _oath_rows(station, owner, "hotp") if r["digits"] == len(first)]
    if not rows:
        station.append(
            "otp.rejected",
            {"owner": owner, "kind": "hotp", "reason": "no active token"},
            actor=operator.operator,
        )
        raise VerificationFailed(
            f"{owner} has no active HOTP token of {len(first)} digits at this station.",
            "Resynchronisation is for HOTP (button) tokens; check the owner id.",
        )
    refusals = []
    for row in rows:
        checked = code_check.resync(
            row, station.secret(row["vault_record"]), first, second, station.config.policy
        )
        if checked.ok:
            body = {
                "owner": owner,
                "serial": row["serial"],
                "credential_id": row["credential_id"],
                "kind": "hotp",
                "counter": checked.state["last_step"],
            }
            entry = station.append("otp.resynced", body, actor=operator.operator)
            return VerifyResult(
                owner,
                row["serial"],
                row["credential_id"],
                checked.state["last_step"],
                0,
                entry.seq,
                "hotp",
                checked.result.message,
            )
        refusals.append((row, checked.result))
    row, result = next(((r, x) for r, x in refusals if x.reason != RejectReason.WRONG_CODE), refusals[0])
    raise _refuse(
        station,
        operator,
        {"owner": owner, "serial": row["serial"], "credential_id": row["credential_id"], "kind": "hotp"},
        result,
    )


def _verify_yubico(station: Station, owner: str | None, code: str, operator: Session) -> VerifyResult:
    readings = parse_yubico_otp(code)
    if isinstance(readings, Malformed):
        raise InputError(readings.message, readings.hint)
    ids = [r.public_id.hex() for r in readings]
    marks = ", ".join("?" for _ in ids)
    rows = list(
        station.ledger.db.query(
            f"SELECT * FROM credentials WHERE oath_type = 'YUBICO_OTP' AND public_id IN ({marks})"  # noqa: S608
            " ORDER BY status = 'active' DESC, issued_at DESC",
            ids,
        )
    )
    base = {"owner": owner, "kind": "yubico-otp"}
    lengths = {
        len(r[0]) + 32
        for r in station.ledger.db.execute(
            "SELECT DISTINCT public_id FROM credentials WHERE oath_type = 'YUBICO_OTP'"
        ).fetchall()
        if r[0]
    }
    typed = 2 * len(readings[0].public_id) + 32
    if not rows and lengths and typed not in lengths:
        raise InputError(
            f"The OTP is malformed: it is {typed} characters; an OTP from a key issued here is"
            f" {' or '.join(map(str, sorted(lengths)))}.",
            "Touch the key again with the cursor in an empty field, and let it type the whole OTP.",
        )
    if not rows:
        raise _refuse(
            station,
            operator,
            {**base, "public_id": ids[0]},
            Rejected(
                RejectReason.OTHER_KEY,
                f"No key at this station has the public id {readings[0].public_id_modhex}.",
                "Check that the owner touched their own key, issued here.",
            ),
        )
    row = rows[0]
    base = {
        **base,
        "owner": owner or row["owner"],
        "serial": row["serial"],
        "credential_id": row["credential_id"],
    }
    if row["status"] != "active":
        raise _refuse(
            station,
            operator,
            base,
            Rejected(
                RejectReason.REVOKED,
                f"Key {row['serial']}'s Yubico OTP is {row['status']} at this station.",
                "The key was returned, lost, blocked or replaced; check the owner's current token.",
            ),
        )
    if owner and row["owner"] != owner:
        raise _refuse(
            station,
            operator,
            base,
            Rejected(
                RejectReason.OTHER_KEY,
                f"This OTP comes from a key that is not {owner}'s.",
                "Check that the owner touched their own key.",
            ),
        )
    checked = code_check.check(
        "yubico-otp", row, station.secret(row["vault_record"]), code, station.now(), station.config.policy
    )
    if isinstance(checked.result, Malformed):
        raise InputError(checked.result.message, checked.result.hint)
    if not checked.ok:
        raise _refuse(station, operator, base, checked.result)
    entry = station.append("otp.accepted", {**base, **checked.state}, actor=operator.operator)
    return VerifyResult(
        row["owner"],
        row["serial"],
        row["credential_id"],
        None,
        0,
        entry.seq,
        "yubico-otp",
        checked.result.message,
    )


_ACCESS = {"temporary": (temporary.check, "temporary.used"), "recovery": (recovery.check, "recovery.used")}


def _verify_access(
    station: Station, owner: str, code: str, operator: Session, kinds: tuple[str, ...]
) -> VerifyResult:
    refusals: list[tuple[str, Rejected]] = []
    for kind in kinds:
        check, event = _ACCESS[kind]
        result, body = check(station, owner, code)
        if isinstance(result, Malformed):
            raise InputError(result.message, result.hint)
        if isinstance(result, Accepted):
            entry = station.append(event, body, actor=operator.operator)
            return VerifyResult(owner, None, None, None, 0, entry.seq, kind, result.message)
        refusals.append((kind, result))
    # A refusal by the code's own set or grant (used, expired, revoked) says more than "not this one".
    kind, result = next(((k, r) for k, r in refusals if r.reason != RejectReason.WRONG_CODE), refusals[-1])
    if len(kinds) > 1 and result.reason == RejectReason.WRONG_CODE:
        result = Rejected(
            RejectReason.WRONG_CODE,
            f"The code is neither a temporary access code nor a recovery code of {owner}'s.",
            "Check the owner, and type the code exactly as printed or handed over.",
        )
        kind = "access"
    raise _refuse(station, operator, {"owner": owner, "kind": kind}, result)
