"""The station's tokens as neutral `TokenSeed`s for the writers, secrets opened from the vault.

One token can hold several credentials: a YubiKey issued here carries one OATH TOTP credential per
issue to its holder (credentials table), and, with a recipe that programs Yubico OTP, its OTP slot's
key (a credentials row too, sealed as `code_check.yubico_secret`, public id in hex); a YubiKey
received from a Personalization Tool or ykman log carries its OTP slot's key (seeds table: private
id then AES key, public id in modhex). A classic token carries its vendor seed; once issued,
its credential row holds the owner and, for HOTP, the last counter accepted, so the export starts
the IdP past every code already used here.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from ..code_check import yubico_parts
from ..core import Station
from ..seedfiles import HashAlgorithm, OtpKind, TokenSeed
from ..seedfiles.encoding import modhex_encode

LIVE_CREDENTIALS = ("active", "suspended")  # suspended: its token is blocked, the IdP still may know it
_KINDS = {"TOTP": OtpKind.TOTP, "HOTP": OtpKind.HOTP, "YUBICO_OTP": OtpKind.YUBICO_OTP}


@dataclass(frozen=True)
class Owner:
    """How the IdP names the owner: a UPN suffix for ids without one, privacyIDEA's realm/resolver."""

    upn_suffix: str = ""
    realm: str = ""
    resolver: str = ""

    def upn(self, owner: str | None) -> str:
        if not owner:
            return ""
        if self.upn_suffix and "@" not in owner:
            return owner + "@" + self.upn_suffix.lstrip("@")
        return owner


def _rows(db: sqlite_utils.Database, sql: str, params: list) -> list[dict]:
    cur = db.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _issuer(credential_id: str) -> str:
    # yubikit's credential id: [period/]issuer:name
    name = credential_id.split("/", 1)[1] if "/" in credential_id.split(":", 1)[0] else credential_id
    return name.split(":", 1)[0] if ":" in name else ""


def _manufacturer(token: dict, vendor: str | None) -> str:
    return "Yubico" if token["kind"] == "yubikey" else (vendor or "")


def seeds_of(station: Station, token: dict, owner: Owner) -> list[TokenSeed]:
    """Every credential of one token (its `tokens` row) the IdP can be given, as TokenSeeds."""
    db = station.ledger.db
    serial = token["serial"]
    seed_rows = _rows(db, "SELECT * FROM seeds WHERE serial = ?", [serial])
    seed = seed_rows[0] if seed_rows else None
    creds = _rows(
        db,
        "SELECT * FROM credentials WHERE serial = ? AND status IN (?, ?) ORDER BY issued_at, id",
        [serial, *LIVE_CREDENTIALS],
    )
    common = dict(
        serial=serial,
        model=token["model"] or "",
        owner=owner.upn(token["owner"]),
        owner_realm=owner.realm if token["owner"] else "",
        owner_resolver=owner.resolver if token["owner"] else "",
    )
    out = []
    for cred in creds:
        from_seed = seed is not None and cred["vault_record"] == seed["vault_record"]
        kind = _KINDS[cred["oath_type"]]
        if kind is OtpKind.YUBICO_OTP and not from_seed:
            out.append(_issued_yubico_otp(station, token, cred, common))
            continue
        counter = 0
        if kind is OtpKind.HOTP:
            start = seed["counter"] if from_seed and seed["counter"] is not None else 0
            counter = max(start, cred["last_step"] + 1) if cred["last_step"] is not None else start
        out.append(
            TokenSeed(
                kind=kind,
                secret=station.secret(cred["vault_record"]),
                digits=cred["digits"],
                algorithm=HashAlgorithm(cred["algorithm"]),
                period=cred["period"] or 30,
                counter=counter,
                manufacturer=_manufacturer(token, seed["vendor"] if from_seed else None),
                issuer=_issuer(cred["credential_id"]),
                **common,
            )
        )
    if seed is not None and not any(c["vault_record"] == seed["vault_record"] for c in creds):
        out.append(_from_seed(station, token, seed, common))
    return out


def public_id_modhex(credential: dict) -> str:
    """A Yubico OTP credential's public id as the IdPs write it (credentials keep it in hex)."""
    return modhex_encode(bytes.fromhex(credential["public_id"] or ""))


def _issued_yubico_otp(station: Station, token: dict, cred: dict, common: dict) -> TokenSeed:
    """The Yubico OTP slot a recipe programmed at issue (credential id ``yubico-otp/slotN``)."""
    private_id, aes_key = yubico_parts(station.secret(cred["vault_record"]))
    slot = cred["credential_id"].rpartition("slot")[2]
    return TokenSeed(
        kind=OtpKind.YUBICO_OTP,
        secret=aes_key,
        private_id=private_id,
        public_id=public_id_modhex(cred),
        slot=int(slot) if slot.isdigit() else None,
        manufacturer=_manufacturer(token, None),
        **common,
    )


def _from_seed(station: Station, token: dict, seed: dict, common: dict) -> TokenSeed:
    blob = station.secret(seed["vault_record"])
    manufacturer = _manufacturer(token, seed["vendor"])
    if seed["oath_type"] == "YUBICO_OTP":
        return TokenSeed(
            kind=OtpKind.YUBICO_OTP,
            secret=blob[6:],
            private_id=blob[:6],
            public_id=seed["public_id"],
            slot=seed["slot"],
            manufacturer=manufacturer,
            **common,
        )
    return TokenSeed(
        kind=_KINDS[seed["oath_type"]],
        secret=blob,
        digits=seed["digits"],
        algorithm=HashAlgorithm(seed["algorithm"]),
        period=seed["period"] or 30,
        counter=seed["counter"] or 0,
        slot=seed["slot"],
        manufacturer=manufacturer,
        **common,
    )
