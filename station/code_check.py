"""One check of a typed code against one token, whatever its kind, from its sealed secret and its state.

Owners' tokens (station.verify) and operators' own tokens (station.operators.signin) are checked the
same way. The state comes from a projection row, where every kind keeps it in the same columns:

    last_step        TOTP: last accepted time step; HOTP: last accepted counter (-1: none yet)
    drift            TOTP: steps the token's clock was off at its last accepted code
    usage_counter,   Yubico OTP: counters of the last accepted OTP (-1: none yet)
    session_counter
    used_codes       code list (break-glass): indices of used codes, comma-separated

`check` returns the codes core's result and, when accepted, the columns to write with the event that
records it (the event body carries them, so a rebuild from the ledger gives the same state).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from .codes import (
    Accepted,
    HotpState,
    HotpToken,
    Malformed,
    RecoveryCodeSet,
    Rejected,
    RejectReason,
    TotpState,
    TotpToken,
    YubicoOtpKey,
    YubicoOtpState,
    resync_hotp,
    verify_hotp,
    verify_recovery_code,
    verify_totp,
    verify_yubico_otp,
)
from .codes.hotp import RESYNC_WINDOW
from .policy import Policy

KINDS = ("totp", "hotp", "yubico-otp", "code-list")
# The ledger keeps integers within I-JSON's exact range (RFC 7493): an HOTP counter past it could not be
# recorded, so the station treats it as the end of the token's counter (it never wraps to old codes).
MAX_RECORDED_COUNTER = 2**53 - 1
NO_AGE_LIMIT = 12 * 100  # months: a break-glass list is replaced when used up, not by age


@dataclass(frozen=True)
class Checked:
    result: Accepted | Rejected | Malformed
    state: dict  # columns to record when accepted ({} otherwise)

    @property
    def ok(self) -> bool:
        return isinstance(self.result, Accepted)


def yubico_secret(private_id: bytes, aes_key: bytes) -> bytes:
    """How a Yubico OTP key's private id and AES key are sealed together in one vault record."""
    return json.dumps({"private_id": private_id.hex(), "aes_key": aes_key.hex()}).encode()


def yubico_parts(secret: bytes) -> tuple[bytes, bytes]:
    """(private id, AES key) from a vault record made by `yubico_secret`."""
    data = json.loads(secret)
    return bytes.fromhex(data["private_id"]), bytes.fromhex(data["aes_key"])


def _yubico_key(row: dict, secret: bytes) -> YubicoOtpKey:
    private_id, aes_key = yubico_parts(secret)
    return YubicoOtpKey(bytes.fromhex(row["public_id"]), private_id, aes_key)


def _last(row: dict, name: str) -> int:
    value = row.get(name)
    return -1 if value is None else int(value)


def used_indices(row: dict) -> set[int]:
    text = row.get("used_codes") or ""
    return {int(i) for i in text.split(",") if i}


def code_list(row: dict, secret: bytes) -> RecoveryCodeSet:
    codes = RecoveryCodeSet.from_json(json.loads(secret))
    used = used_indices(row)
    marker = datetime(1970, 1, 1, tzinfo=UTC)
    return RecoveryCodeSet(
        codes.issued_at,
        codes.salt,
        codes.hashes,
        tuple(marker if i in used else None for i in range(len(codes.hashes))),
        codes.cost,
        codes.groups,
    )


def check(kind: str, row: dict, secret: bytes, code: object, now: datetime, policy: Policy) -> Checked:
    """Check `code` once against the token described by `row` (its kind's columns) and `secret`."""
    if kind == "totp":
        token = TotpToken(secret, row["algorithm"], row["digits"], row["period"])
        result = verify_totp(
            token,
            TotpState(_last(row, "last_step"), row.get("drift") or 0),
            code,
            now,
            window=policy.totp_window,
        )
        state = (
            {"last_step": result.state.last_step, "drift": result.state.drift}
            if isinstance(result, Accepted)
            else {}
        )
        return Checked(result, state)
    if kind == "hotp":
        token = HotpToken(secret, row["algorithm"], row["digits"])
        result = verify_hotp(
            token, HotpState(_last(row, "last_step") + 1), code, look_ahead=policy.hotp_look_ahead
        )
        return _hotp_checked(result)
    if kind == "yubico-otp":
        key = _yubico_key(row, secret)
        result = verify_yubico_otp(
            key, YubicoOtpState(_last(row, "usage_counter"), _last(row, "session_counter")), code
        )
        state = (
            {"usage_counter": result.state.usage_counter, "session_counter": result.state.session_counter}
            if isinstance(result, Accepted)
            else {}
        )
        return Checked(result, state)
    if kind == "code-list":
        codes = code_list(row, secret)
        result = verify_recovery_code(codes, code, now, max_age_months=NO_AGE_LIMIT)
        if not isinstance(result, Accepted):
            return Checked(result, {})
        index = next(
            i for i, (a, b) in enumerate(zip(codes.used_at, result.state.used_at, strict=True)) if a != b
        )
        return Checked(result, {"used_codes": ",".join(str(i) for i in sorted(used_indices(row) | {index}))})
    raise ValueError(f"unknown token kind {kind!r}")


def resync(row: dict, secret: bytes, first: object, second: object, policy: Policy) -> Checked:
    """HOTP resynchronisation with two consecutive codes within the policy's wider window."""
    token = HotpToken(secret, row["algorithm"], row["digits"])
    window = policy.hotp_resync_window or RESYNC_WINDOW
    result = resync_hotp(token, HotpState(_last(row, "last_step") + 1), first, second, window=window)
    return _hotp_checked(result)


def _hotp_checked(result: Accepted | Rejected | Malformed) -> Checked:
    if not isinstance(result, Accepted):
        return Checked(result, {})
    last = result.state.next_counter - 1
    if last > MAX_RECORDED_COUNTER:
        return Checked(
            Rejected(
                RejectReason.EXHAUSTED,
                "This token's counter is past the last value the station can record.",
                "Replace the token; its counter never starts again from old codes.",
            ),
            {},
        )
    return Checked(result, {"last_step": last})
