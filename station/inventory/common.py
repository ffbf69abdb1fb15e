"""Shared checks for inventory functions: ids and serials as typed, tokens and places looked up."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime

import sqlite_utils

from ..errors import InputError, StationError

SERIAL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
MAX_ID = 64


class NotFound(StationError):
    """A serial, site, location, operator or audit the station does not know."""


def clean_id(label: str, value: str | None, *, max_len: int = MAX_ID) -> str:
    """An id as typed: trimmed, non-empty, printable, not too long."""
    value = (value or "").strip()
    if not value:
        raise InputError(f"The {label} is empty.", f"Type the {label}.")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InputError(f"The {label} contains control characters.", f"Retype the {label}.")
    if len(value) > max_len:
        raise InputError(f"The {label} is longer than {max_len} characters.", f"Use a shorter {label}.")
    return value


def clean_reason(value: str | None, default: str | None = None) -> str:
    if not (value or "").strip():
        if default is not None:
            return default
        raise InputError("A reason is needed for this action.", "Say why in a few words (--reason).")
    return clean_id("reason", value, max_len=200)


def clean_serial(value: str | int | None) -> str:
    """A token serial as printed or scanned: letters, digits, '.', '_' and '-' (no spaces)."""
    text = str(value if value is not None else "").strip()
    if not SERIAL_RE.fullmatch(text):
        raise InputError(
            f"{text!r} is not a token serial." if text else "The serial is empty.",
            "Type or scan the serial printed on the token (letters and digits, up to 40).",
        )
    return text


def yubikey_serial(value: str | int) -> int:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**32:
        raise InputError(
            f"{text!r} is not a YubiKey serial number.", "Type the serial printed on the key (digits only)."
        )
    return int(text)


@dataclass(frozen=True)
class TokenView:
    """One token as the inventory sees it now."""

    serial: str
    kind: str
    model: str | None
    firmware: str | None
    status: str
    prior_status: str | None
    owner: str | None
    last_owner: str | None
    custodian: str | None
    site: str | None
    location: str | None
    access_end: str | None
    profile: str | None
    received_at: str | None
    issued_at: str | None
    status_since: str | None
    updated_at: str | None
    last_seq: int | None


TOKEN_COLUMNS = tuple(f.name for f in fields(TokenView))


def find_token(db: sqlite_utils.Database, serial: str) -> dict | None:
    row = db.execute(
        f"SELECT {', '.join(TOKEN_COLUMNS)} FROM tokens WHERE serial = ?",  # noqa: S608
        [serial],
    ).fetchone()
    return None if row is None else dict(zip(TOKEN_COLUMNS, row, strict=True))


def get_token(db: sqlite_utils.Database, serial: str) -> dict:
    token = find_token(db, serial)
    if token is None:
        raise NotFound(
            f"Token {serial} is not in this station's inventory.",
            "Check the serial; a new token is received into stock first (station receive).",
        )
    return token


def resolve_place(
    db: sqlite_utils.Database, home_site: str, site: str | None, location: str | None
) -> tuple[str, str | None]:
    """(site, location) for a token's new place: a location implies its site; default the home site."""
    if location:
        row = db.execute("SELECT site FROM locations WHERE id = ?", [location]).fetchone()
        if row is None:
            raise NotFound(
                f"There is no storage location {location!r}.",
                "List them with 'station location list'; an admin adds new ones.",
            )
        if site and site != row[0]:
            raise InputError(
                f"Location {location} belongs to site {row[0]}, not {site}.",
                "Give the location alone, or its own site.",
            )
        return row[0], location
    site = site or home_site
    if db.execute("SELECT 1 FROM sites WHERE id = ?", [site]).fetchone() is None:
        raise NotFound(f"There is no site {site!r}.", "List them with 'station site list'.")
    return site, None


def today(at: datetime) -> date:
    """The UTC calendar day of an instant (access end dates are whole days)."""
    return at.astimezone(UTC).date()
