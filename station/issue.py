"""Issue a YubiKey per its provisioning recipe: validate, write intent, program the key, record the outcome.

The order matters for the record: nothing is written anywhere until the inputs and the key have been
checked; then the intent and the sealed seed are committed together; then the key is programmed; then
the outcome. A key pulled or a crash after the intent leaves an open intent that `reconcile` settles
by asking the key whether the credential (with this very seed) is there.

What is written comes from a provisioning recipe (firmware_profiles/recipes/, default
`yubikey-oath-totp`); the request's issuer, digits, period and algorithm override it for one issue.
The custodian is the acting operator (checked against the enrolled operators), the owner is checked
against the employee directory, and a key new to the inventory is received into stock in the same
transaction as the intent.
"""

from __future__ import annotations

import os
import secrets
import unicodedata
from dataclasses import dataclass, field

from yubikit.core.otp import modhex_encode

import firmware_profiles
from drivers.discovery import find_key
from drivers.errors import CredentialExistsError, DriverError, KeyRemovedError
from drivers.oath import OathKey, TotpSpec, open_oath
from drivers.otp import open_otp
from firmware_profiles.recipes import Recipe, find_recipe

from .binding import append_approved, on_bound
from .clock import rfc3339
from .code_check import yubico_secret
from .core import Station
from .errors import DeviceError, InputError, StationError
from .inventory.handlers_tokens import credential_key
from .inventory.intake import yubikey_body
from .inventory.owners import check_issue
from .inventory.roles import require
from .operators.credentials import serial_public_id
from .operators.sessions import NotSignedIn, Session
from .profiles import check_key_can_hold, oath_capacity
from .reconcile import reconcile

SEED_BYTES = {"SHA1": 20, "SHA256": 32, "SHA512": 64}  # RFC 4226/6238: key as long as the hash output
DEFAULT_ISSUER = "Token Station"
DEFAULT_RECIPE = "yubikey-oath-totp"


@dataclass(frozen=True)
class IssueRequest:
    """What to issue; None takes the recipe's value. `custodian` is the acting operator's session."""

    serial: int
    owner: str
    custodian: Session
    issuer: str | None = None
    digits: int | None = None
    period: int | None = None
    algorithm: str | None = None
    profile: str = DEFAULT_RECIPE
    touch: bool | None = None


@dataclass(frozen=True)
class IssueResult:
    serial: int
    owner: str
    credential_id: str
    model: str
    firmware: str
    seed_fingerprint: str
    issued_at: str
    ledger_seq: int
    yubico_otp_public_id: str | None = None  # modhex, when the recipe also programmed Yubico OTP
    recovery_codes: tuple[str, ...] = field(default=(), repr=False)  # a replacement's new set, shown once


def _clean(label: str, value: str, *, allow_colon: bool = True) -> str:
    value = (value or "").strip()
    if not value:
        raise InputError(f"The {label} is empty.", f"Type the {label}'s id.")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InputError(f"The {label} contains control characters.", f"Retype the {label} id.")
    if not allow_colon and ":" in value:
        raise InputError(f"The {label} may not contain ':'.", "A ':' separates issuer and owner on the key.")
    return value


def _recipe(profile: str) -> Recipe:
    try:
        recipe = find_recipe(profile)
    except firmware_profiles.ProfileError as exc:
        raise InputError(f"{exc}.", "Choose a provisioning recipe (--profile) from that list.") from exc
    if recipe.kind != "yubikey" or recipe.oath is None:
        raise InputError(f"Recipe {profile} is for classic OATH tokens, not YubiKeys.",
                         "Use a YubiKey recipe such as yubikey-oath-totp.")
    return recipe


def validate(request: IssueRequest) -> IssueRequest:
    """Check every field, with the recipe's values filled in, before anything touches a key or a record."""
    oath = _recipe(request.profile).oath
    request = IssueRequest(
        request.serial, request.owner, request.custodian,
        oath.issuer if request.issuer is None else request.issuer,
        oath.digits if request.digits is None else request.digits,
        oath.period if request.period is None else request.period,
        oath.algorithm if request.algorithm is None else request.algorithm,
        request.profile, oath.touch if request.touch is None else request.touch)
    owner = _clean("owner", request.owner)
    if not isinstance(request.custodian, Session):
        raise NotSignedIn("No custodian is signed in to issue.",
                          "Sign in with your operator id, PIN and a code.")
    custodian = request.custodian.operator
    issuer = _clean("issuer", request.issuer, allow_colon=False)
    if not 0 < request.serial < 2**32:
        raise InputError(f"{request.serial} is not a YubiKey serial number.",
                         "Type the serial printed on the key (digits only).")
    if request.digits not in (6, 8):
        raise InputError(f"Digits must be 6 or 8, not {request.digits}.", "Use --digits 6 or --digits 8.")
    if request.period not in (30, 60):
        raise InputError(f"Period must be 30 or 60 s, not {request.period}.", "Use --period 30 or 60.")
    algorithm = request.algorithm.upper()
    if algorithm not in SEED_BYTES:
        raise InputError(f"Unknown algorithm {request.algorithm!r}.", "Use SHA1, SHA256 or SHA512.")
    if owner == custodian:
        raise InputError(
            "The custodian cannot issue a token to themselves.",
            "Ask another custodian to issue your token.",
        )
    spec_id = TotpSpec(issuer, owner, b"", request.digits, request.period, algorithm).credential_id()
    if len(spec_id) > 64:
        raise InputError(
            f"The credential name '{spec_id.decode()}' is {len(spec_id)} bytes; a YubiKey allows 64.",
            "Use a shorter issuer (--issuer) or owner id.",
        )
    return IssueRequest(request.serial, owner, request.custodian, issuer, request.digits, request.period,
                        algorithm, request.profile, request.touch)


def _device_error(exc: DriverError) -> DeviceError:
    return DeviceError(exc.message, exc.hint)


def issue_totp(station: Station, request: IssueRequest, *, approver: Session | None = None) -> IssueResult:
    """Program a fresh credential for an owner onto the key with this serial, per its recipe, recorded.

    Replacing the owner's lost or damaged token needs `approver`, a second operator's approval, which
    is checked and recorded (both endorsements) on the intent, before anything touches the key.
    """
    if station.vault is None:
        raise StationError("The station is open read-only.", "Open it with the vault passphrase.")
    request = validate(request)
    session, custodian = request.custodian, request.custodian.operator
    recipe = _recipe(request.profile)
    db = station.ledger.db
    with station.record() as tx:
        require(tx.db, session, "issue", station.now())
    # A write to this key interrupted earlier is settled first, so the key's contents are known.
    reconcile(station, operator=session, serial=request.serial)
    serial_text = str(request.serial)
    check_issue(db, serial_text, request.owner, session, station.now(), kind="yubikey", approver=approver)
    seed = secrets.token_bytes(SEED_BYTES[request.algorithm])
    spec = TotpSpec(request.issuer, request.owner, seed, request.digits, request.period, request.algorithm,
                    touch=bool(request.touch))
    cred_id = spec.credential_id().decode()
    intent_id = os.urandom(8).hex()
    vault_record = f"totp/{request.serial}/{intent_id}"
    fingerprint = station.vault.fingerprint(seed)
    otp = _yubico_otp_plan(station, request.serial, intent_id, recipe.yubico_otp_slot)
    try:
        # What the key's profile cannot do is refused before the intent, so the ledger stays as it was.
        check_key_can_hold(find_key(request.serial, station.bus), request.algorithm, bool(request.touch))
        if otp is not None:
            _check_otp_slot_free(station, request.serial, otp["slot"])
        with open_oath(request.serial, station.bus) as key:
            info = key.info
            wiped = _wipe_revoked(station, key, request.serial, cred_id)
            key.check_can_put(spec, oath_capacity(info))
            at = station.now()
            with station.record() as tx:
                # Checked again inside the transaction: another desk may have moved the key meanwhile.
                token, access_end = check_issue(tx.db, serial_text, request.owner, session, at,
                                                kind="yubikey", approver=approver)
                site = token["site"] if token else station.config.site
                common = {
                    "intent_id": intent_id, "serial": request.serial, "kind": "yubikey", "model": info.model,
                    "firmware": info.firmware, "credential_id": cred_id, "owner": request.owner,
                    "custodian": custodian, "issuer": request.issuer, "algorithm": request.algorithm,
                    "digits": request.digits, "period": request.period, "touch": bool(request.touch),
                    "profile": request.profile, "site": site, "access_end": access_end,
                    "seed_fingerprint": fingerprint, "vault_record": vault_record,
                    "wiped_revoked": wiped,
                }
                if otp is not None:
                    common["yubico_otp"] = otp["public"]
                if token is None:
                    tx.append("token.received", yubikey_body(
                        request.serial, info.model, info.firmware, custodian, site, None, "at-issue",
                        "received when first issued"), actor=custodian, at=at)
                tx.db["vault_records"].insert(
                    {"id": vault_record, "blob": station.vault.seal(vault_record, seed),
                     "created_at": rfc3339(at)}
                )
                if otp is not None:
                    record = otp["public"]["vault_record"]
                    tx.db["vault_records"].insert(
                        {"id": record, "blob": station.vault.seal(record, otp["secret"]),
                         "created_at": rfc3339(at)})
                started = append_approved(tx, station, "token.issue.started", common, operator=session,
                                          approver=approver, at=at)
                common = dict(started.body)
            try:
                key.put_totp(spec)
            except KeyRemovedError:
                # Unknown whether the key applied the PUT: the intent stays open and reconcile
                # asks the key when it is back (on insertion in the kiosk, or `station reconcile`).
                raise
            except DriverError as exc:
                # The key answered with a refusal: nothing was written.
                _record_failure(station, intent_id, request, exc)
                raise
        if otp is not None:
            # After the OATH write (its own connection); a key pulled here is settled by reconcile,
            # which programs the slot from the sealed secret if it is still empty.
            write_yubico_otp(station, request.serial, otp["slot"], otp["public"]["public_id"], otp["secret"])
    except DriverError as exc:
        raise _device_error(exc) from exc
    at = station.now()
    with station.record() as tx:
        entry = tx.append("token.issued", common, actor=custodian, at=at)
        recovery = on_bound(tx, station, request.owner, actor=custodian, at=at,
                            replacement="replaces" in common)
    public_id = modhex_encode(bytes.fromhex(otp["public"]["public_id"])) if otp else None
    return IssueResult(request.serial, request.owner, cred_id, info.model, info.firmware, fingerprint,
                       rfc3339(entry.at_datetime), entry.seq, public_id,
                       () if recovery is None else recovery.codes)


def _yubico_otp_plan(station: Station, serial: int, intent_id: str, slot: int | None) -> dict | None:
    """Fresh Yubico OTP material for the recipe's slot: the public part for the ledger, the secret sealed."""
    if slot is None:
        return None
    private_id, aes_key = os.urandom(6), os.urandom(16)
    secret = yubico_secret(private_id, aes_key)
    public = {"credential_id": f"yubico-otp/slot{slot}", "public_id": serial_public_id(serial).hex(),
              "vault_record": f"yubico-otp/{serial}/{intent_id}",
              "fingerprint": station.vault.fingerprint(aes_key),
              "slot": slot}
    return {"slot": slot, "public": public, "secret": secret}


def _check_otp_slot_free(station: Station, serial: int, slot: int) -> None:
    with open_otp(serial, station.bus) as key:
        if key.configured(slot):
            raise CredentialExistsError(
                f"OTP slot {slot} of key {serial} is already programmed; this recipe writes Yubico OTP"
                " there.",
                "Use a key whose slot is empty, or a recipe without Yubico OTP (yubikey-oath-totp).",
            )


def write_yubico_otp(station: Station, serial: int, slot: int, public_id_hex: str, secret: bytes) -> None:
    import json

    data = json.loads(secret)
    with open_otp(serial, station.bus) as key:
        key.put_yubico_otp(slot, bytes.fromhex(public_id_hex), bytes.fromhex(data["private_id"]),
                           bytes.fromhex(data["aes_key"]))


def _wipe_revoked(station: Station, key: OathKey, serial: int, cred_id: str) -> bool:
    """Delete a credential of the same name that this station revoked (a key returned, now reissued).

    Its codes are refused already; left on the key it would block the new credential's name. A
    credential the station does not know, or one still live, is never touched: check_can_put refuses.
    """
    if cred_id.encode() not in key.credential_ids():
        return False
    row = station.ledger.db.execute("SELECT status FROM credentials WHERE id = ?",
                                    [credential_key(serial, cred_id)]).fetchone()
    if row is None or row[0] != "revoked":
        return False
    key.delete(cred_id.encode())
    return True


def _record_failure(station: Station, intent_id: str, request: IssueRequest, exc: DriverError) -> None:
    reason = type(exc).__name__.removesuffix("Error").lower()
    station.append(
        "token.issue.failed",
        {"intent_id": intent_id, "serial": request.serial, "reason": reason, "detail": exc.message},
        actor=request.custodian.operator,
    )
