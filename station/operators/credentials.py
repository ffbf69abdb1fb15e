"""An operator's credentials: a PIN and their own hardware token, enrolled by an admin.

The token is the second factor of sign-in, checked offline like an owner's (station.code_check):
- `totp` / `hotp`: an OATH token whose seed the station holds, from an ``otpauth://`` URI (a classic
  token's or a test token's seed, handed over as such) or written by the station onto a YubiKey's
  OATH application (`program_yubikey_token(kind="totp")`);
- `yubico-otp`: a YubiKey's OTP slot 1, programmed by the station (public id from the serial, random
  private id and AES key; the slot must be empty);
- `code-list`: a printed list of one-time codes (the break-glass admin's envelope; breakglass.py).

Secrets go to the vault only (records ``operator/<id>/pin`` and ``operator/<id>/token/<n>``). The
ledger's ``operator.credentials_set`` event names the token's kind, serial and public parameters, and
the operator's new signing key, which is enrolled in the ledger (``ledger.signer_enrolled``) in the same
transaction; the previous one is retired. The signing key's private half is kept only wrapped by the
PIN (pins.py). Setting credentials ends the operator's open sessions.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime

from drivers.bus import KeyBus
from drivers.errors import DriverError
from drivers.oath import TotpSpec, open_oath
from drivers.otp import open_otp
from ledger.keys import generate_key, private_key_to_bytes
from ledger.note import Signer
from ledger.signers import endorse

from ..clock import rfc3339
from ..code_check import yubico_secret
from ..codes.slow_hash import DEFAULT_COST, HashCost
from ..core import Station
from ..errors import DeviceError, InputError
from ..inventory.common import NotFound, clean_id, yubikey_serial
from ..inventory.roles import find_operator, require
from . import sessions
from .pins import make_pin_record

OPERATOR_ISSUER = "Token Station operator"
TOKEN_KINDS = ("totp", "hotp", "yubico-otp", "code-list")
OTP_SLOT = 1
_KEY_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class OperatorToken:
    """An operator's token as enrolled: its kind, public parameters, and (hidden) secret."""

    kind: str
    secret: bytes = field(repr=False)  # OATH seed; Yubico OTP: yubico_secret(); code list: its hashes
    algorithm: str | None = None
    digits: int | None = None
    period: int | None = None
    start: int = -1  # HOTP: the counter before the first code (last_step); others -1
    public_id: str | None = None  # Yubico OTP public id, hex
    serial: str | None = None

    def public(self) -> dict:
        return {
            "kind": self.kind,
            "algorithm": self.algorithm,
            "digits": self.digits,
            "period": self.period,
            "public_id": self.public_id,
            "serial": self.serial,
            "last_step": self.start,
        }


def token_from_otpauth(text: str) -> OperatorToken:
    """A TOTP or HOTP token from one ``otpauth://`` URI (RFC 6238 / Google Authenticator key URI)."""
    from ..seedfiles.model import OtpKind
    from ..seedfiles.otpauth import parse_otpauth_uris

    result = parse_otpauth_uris(text.strip().encode())
    if len(result.seeds) != 1:
        raise InputError(
            "The token file must hold exactly one otpauth:// URI.",
            "Give the URI of the operator's own token, one line.",
        )
    seed = result.seeds[0]
    if seed.kind not in (OtpKind.TOTP, OtpKind.HOTP) or seed.digits not in (6, 7, 8) or len(seed.secret) < 16:
        raise InputError(
            "The operator's token must be TOTP or HOTP, 6 to 8 digits, with a secret of 128 bits or more.",
            "Use another token for this operator.",
        )
    if seed.kind is OtpKind.TOTP:
        if seed.period not in (30, 60):
            raise InputError("The token's period must be 30 or 60 seconds.", "Use another token.")
        return OperatorToken("totp", seed.secret, seed.algorithm.value, seed.digits, seed.period)
    if not 0 <= seed.counter < 2**53:
        raise InputError("The token's counter is out of range.", "Use another token.")
    return OperatorToken("hotp", seed.secret, seed.algorithm.value, seed.digits, None, seed.counter - 1)


def serial_public_id(serial: int) -> bytes:
    """The public id `ykman otp yubiotp --serial-public-id` uses: ff 00, then the serial (4 bytes)."""
    return b"\xff\x00" + serial.to_bytes(4, "big")


def program_yubikey_token(
    bus: KeyBus, serial: int | str, operator_id: str, kind: str = "yubico-otp"
) -> OperatorToken:
    """Write a fresh operator credential onto a present YubiKey; the secret is returned, never shown."""
    serial = yubikey_serial(serial)
    try:
        if kind == "yubico-otp":
            public_id, private_id, aes_key = serial_public_id(serial), os.urandom(6), os.urandom(16)
            with open_otp(serial, bus) as key:
                key.put_yubico_otp(OTP_SLOT, public_id, private_id, aes_key)
            return OperatorToken(
                "yubico-otp",
                yubico_secret(private_id, aes_key),
                public_id=public_id.hex(),
                serial=str(serial),
            )
        if kind == "totp":
            seed = os.urandom(20)
            spec = TotpSpec(OPERATOR_ISSUER, operator_id, seed)
            with open_oath(serial, bus) as key:
                key.check_can_put(spec)
                key.put_totp(spec)
            return OperatorToken("totp", seed, "SHA1", 6, 30, serial=str(serial))
    except DriverError as exc:
        raise DeviceError(exc.message, exc.hint) from exc
    raise InputError(
        f"{kind!r} cannot be written to a YubiKey as an operator token.", "Use yubico-otp or totp."
    )


def signer_name(operator_id: str) -> str:
    """The note key name of an operator's signing key (shown next to their endorsements)."""
    safe = operator_id if _KEY_NAME.fullmatch(operator_id) else "id-" + operator_id.encode().hex()[:48]
    return f"operator/{safe}"


def write_credentials(
    tx: object,
    station: Station,
    operator_id: str,
    pin: str,
    token: OperatorToken,
    *,
    actor: str,
    at: datetime,
    cost: HashCost = DEFAULT_COST,
) -> None:
    """Seal PIN and token, enrol a new signing key, record it: inside the caller's transaction."""
    if station.vault is None:
        raise InputError("The station is open read-only.", "Open it with the vault passphrase.")
    if token.kind not in TOKEN_KINDS:
        raise InputError(
            f"{token.kind!r} is not an operator token kind.", f"Use one of {', '.join(TOKEN_KINDS)}."
        )
    db = tx.db
    key = generate_key()
    pin_record_id = f"operator/{operator_id}/pin/{os.urandom(4).hex()}"
    token_id = os.urandom(4).hex()
    token_record_id = f"operator/{operator_id}/token/{token_id}"
    pin_blob = make_pin_record(pin, operator_id, private_key_to_bytes(key), cost).to_bytes()
    for record_id, secret in ((pin_record_id, pin_blob), (token_record_id, token.secret)):
        db.execute(
            "INSERT INTO vault_records (id, blob, created_at) VALUES (?, ?, ?)",
            [record_id, station.vault.seal(record_id, secret), rfc3339(at)],
        )
    signer = Signer(signer_name(operator_id), key)
    vkey = signer.verifier().vkey()
    old = db.execute("SELECT signer_key FROM operators WHERE id = ?", [operator_id]).fetchone()
    if old and old[0]:
        tx.retire_signer(
            old[0], actor=actor, at=at, details={"operator": operator_id, "reason": "credentials replaced"}
        )
    details = {"operator": operator_id}
    proof = endorse(
        signer, station.ledger.origin, "ledger.signer_enrolled", actor, at, {**details, "key": vkey}
    )
    tx.enrol_signer(vkey, proof, actor=actor, at=at, details=details)
    body = {
        "operator": operator_id,
        "pin_record": pin_record_id,
        "signer": vkey,
        "token": {**token.public(), "id": token_id, "vault_record": token_record_id},
    }
    tx.append("operator.credentials_set", body, actor=actor, at=at)
    sessions.end_all(db, operator_id, at, "credentials replaced")


def set_credentials(
    station: Station,
    operator_id: str,
    *,
    pin: str,
    token: OperatorToken,
    operator: sessions.Session,
    cost: HashCost = DEFAULT_COST,
) -> int:
    """An admin gives an enrolled operator a (new) PIN and token. Returns the ledger seq."""
    operator_id = clean_id("operator id", operator_id)
    with station.record() as tx:
        admin = require(tx.db, operator, "enrol", station.now())
        target = find_operator(tx.db, operator_id)
        if target is None:
            raise NotFound(
                f"{operator_id} is not an enrolled operator.", "Enrol them first: station operator add."
            )
        if target.id == admin.id:
            # Your own token and PIN come from another admin, so nobody quietly swaps their own factors.
            raise InputError("You cannot set your own PIN and token.", "Ask another admin.")
        write_credentials(tx, station, operator_id, pin, token, actor=admin.id, at=station.now(), cost=cost)
        return tx.appended[-1].seq
