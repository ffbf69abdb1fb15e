"""The data directory: where a station keeps its config, database and sealed signing key.

Layout (all files 0600, directory 0700):
    station.json   site, log origin, current ledger key id and public key, vault header, sealed key
    station.db     SQLite: the ledger, the inventory projection and the vault's sealed records

A station.json written before the Merkle ledger has no ``origin``; the station then uses the default
derived from the site (``default_origin``) and records it when it upgrades the ledger.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from ledger.errors import LedgerError
from ledger.keys import key_id, public_key_from_text

from .errors import NotInitialisedError, StationError
from .policy import Policy
from .vault import VaultHeader

CONFIG_NAME = "station.json"
DB_NAME = "station.db"
FORMAT_VERSION = 1
# A C2SP key name: non-empty, no spaces, no "+"; we also keep it printable and short.
_ORIGIN_RE = re.compile(r"[^\s+]{1,128}")


def default_origin(site: str) -> str:
    """``token-station.invalid/<site as a slug>``: a valid log name that says "set your own".

    ``.invalid`` is reserved (RFC 2606), so the default can never collide with a real domain; an
    organisation should pass ``--origin tokens.example.org/branch-07`` at ``station init``.
    """
    ascii_site = unicodedata.normalize("NFKD", site).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9._-]+", "-", ascii_site)
    return f"token-station.invalid/{slug.strip('-') or 'station'}"


def check_origin(origin: str) -> str:
    """The origin if it can name a C2SP log (and its signing key), else a ValueError saying why."""
    if not _ORIGIN_RE.fullmatch(origin) or any(unicodedata.category(c).startswith("C") for c in origin):
        raise ValueError(
            f"{origin!r} cannot name a log: use 1 to 128 printable characters without spaces or '+', "
            "like tokens.example.org/branch-07"
        )
    return origin


def resolve_data_dir(explicit: str | os.PathLike | None) -> Path:
    """--data wins, then STATION_DATA, then the user's data directory."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("STATION_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "token-station"


@dataclass(frozen=True)
class StationConfig:
    site: str
    created_at: str
    key_id: str
    public_key: str
    sealed_signing_key: str  # base64 of the vault-sealed raw Ed25519 private key
    vault: VaultHeader
    version: int = FORMAT_VERSION
    origin: str = ""  # the ledger's C2SP origin; "" in configs written before the Merkle ledger
    policy: Policy = Policy()  # security policy (policy.py); written only when it differs from the defaults

    @property
    def log_origin(self) -> str:
        return self.origin or default_origin(self.site)

    def with_key(self, key_id: str, public_key: str, sealed: str) -> StationConfig:
        return replace(self, key_id=key_id, public_key=public_key, sealed_signing_key=sealed)

    def to_json(self) -> dict:
        data = dict(self.__dict__)
        data["vault"] = self.vault.to_json()
        data.pop("policy")
        if self.policy != Policy():
            data["policy"] = self.policy.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict) -> StationConfig:
        """Parse and check every field's type; a wrong one raises ValueError naming it."""
        texts = ("site", "created_at", "key_id", "public_key", "sealed_signing_key")
        fields = {k: data[k] for k in texts}
        for name, value in fields.items():
            if not isinstance(value, str):
                raise ValueError(f"{name} must be text")
        header = VaultHeader.from_json(data["vault"])
        policy = Policy.from_json(data.get("policy"))
        origin = data.get("origin", "")
        if not isinstance(origin, str) or origin and check_origin(origin) != origin:
            raise ValueError("origin must be text")
        config = cls(**fields, vault=header, version=data.get("version", 1), origin=origin, policy=policy)
        if key_id(public_key_from_text(config.public_key)) != config.key_id:
            raise ValueError("the public key does not match the key id")
        config.sealed_key_bytes()
        return config

    def sealed_key_bytes(self) -> bytes:
        """The sealed signing key as bytes (ValueError if it is not well-formed base64)."""
        try:
            raw = base64.b64decode(self.sealed_signing_key, validate=True)
        except binascii.Error as exc:
            raise ValueError("sealed_signing_key is not base64") from exc
        if len(raw) < 12 + 16:
            raise ValueError("sealed_signing_key is too short")
        return raw


def config_path(data_dir: Path) -> Path:
    return data_dir / CONFIG_NAME


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_NAME


def load_config(data_dir: Path) -> StationConfig:
    """The station's config, or an error that says the directory is missing or not initialised."""
    if not data_dir.is_dir():
        raise NotInitialisedError(
            f"The data directory {data_dir} does not exist.",
            "Run 'station init --site NAME' first, or point --data / STATION_DATA at the right place.",
        )
    path = config_path(data_dir)
    if not path.is_file() or not db_path(data_dir).is_file():
        raise NotInitialisedError(
            f"{data_dir} is not an initialised station (no {CONFIG_NAME} or {DB_NAME}).",
            "Run 'station init --site NAME --data DIR' to set it up.",
        )
    try:
        return StationConfig.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, LedgerError) as exc:
        raise StationError(
            f"{path} is damaged: {exc}", "Restore the data directory from its backup."
        ) from exc


def write_config(data_dir: Path, config: StationConfig) -> None:
    """Write the config atomically (temp file, fsync, rename) with owner-only permissions."""
    path = config_path(data_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(config.to_json(), fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
