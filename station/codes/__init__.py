"""Offline code verification: pure functions of (token, state, typed code, time) to a typed result.

Nothing here reads a clock, a database, the vault or the ledger. A workflow opens the token's secret,
reads its state from the projection, calls a verifier with the time from its own clock, and records
the result: an `Accepted` carries the token's new state (the step or counter that may never be
accepted again), which the workflow writes with the acceptance event; a `Rejected` or `Malformed`
carries a reason word for the ledger and a message and hint for the operator. No result carries a
secret, an expected code or the typed code.

    TOTP            verify_totp(TotpToken, TotpState, code, now, window=1, max_drift=10)
    HOTP            verify_hotp(HotpToken, HotpState, code, look_ahead=10)
                    resync_hotp(HotpToken, HotpState, first, second, window=1000)
    Yubico OTP      parse_yubico_otp(text) -> readings (public id to look the key up)
                    verify_yubico_otp(YubicoOtpKey, YubicoOtpState, otp)
    recovery codes  issue_recovery_codes(now, count=10) -> (codes to print once, RecoveryCodeSet)
                    verify_recovery_code(RecoveryCodeSet, code, now), rotation_due(set, now)
    temporary code  grant_temporary_code(now, expires_at, single_use=...) -> (code, TemporaryCode)
                    verify_temporary_code(TemporaryCode, code, now), TemporaryCode.revoked(now)
"""

from .hotp import HotpState, resync_hotp, verify_hotp
from .oath import Algorithm, HotpToken, TotpToken
from .recovery import RecoveryCodeSet, issue_recovery_codes, rotation_due, verify_recovery_code
from .results import Accepted, Malformed, MalformedReason, Rejected, RejectReason, Result
from .slow_hash import HashCost
from .temporary import TemporaryCode, grant_temporary_code, verify_temporary_code
from .totp import TotpState, current_step, verify_totp
from .yubico_otp import YubicoOtpKey, YubicoOtpReading, YubicoOtpState, parse_yubico_otp, verify_yubico_otp

__all__ = [
    "Accepted", "Algorithm", "HashCost", "HotpState", "HotpToken", "Malformed", "MalformedReason",
    "RecoveryCodeSet", "RejectReason", "Rejected", "Result", "TemporaryCode", "TotpState", "TotpToken",
    "YubicoOtpKey", "YubicoOtpReading", "YubicoOtpState", "current_step", "grant_temporary_code",
    "issue_recovery_codes", "parse_yubico_otp", "resync_hotp", "rotation_due", "verify_hotp",
    "verify_recovery_code", "verify_temporary_code", "verify_totp", "verify_yubico_otp",
]
