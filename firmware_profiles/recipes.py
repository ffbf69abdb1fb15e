"""Provisioning recipes: what the station writes to a token when it issues it, as validated data.

A recipe names the kind of token it is for and, for a YubiKey, the OATH credential to create. Files
live in recipes/ beside this module; unknown keys, wrong types and impossible values are refused on
load with the file and key named. Like the rest of this package it imports nothing from the project.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import CAPABILITY_BITS, ProfileError

RECIPE_DIR = Path(__file__).parent / "recipes"
KINDS = ("yubikey", "oath")
TOP_KEYS = {"id": str, "name": str, "kind": str, "needs": list, "oath": dict, "yubico_otp": dict}
YUBICO_OTP_KEYS = {"slot": int}
OATH_KEYS = {"type": str, "issuer": str, "algorithm": str, "digits": int, "period": int, "touch": bool}


@dataclass(frozen=True)
class OathRecipe:
    oath_type: str
    issuer: str
    algorithm: str
    digits: int
    period: int
    touch: bool


@dataclass(frozen=True)
class Recipe:
    id: str
    name: str
    kind: str
    needs: frozenset[str]
    oath: OathRecipe | None
    yubico_otp_slot: int | None = None  # also program Yubico OTP into this OTP slot (1 or 2)


def _typed(table: dict, allowed: dict[str, type], where: str, optional: frozenset[str] = frozenset()) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ProfileError(f"{where}: unknown keys {unknown} (allowed: {', '.join(sorted(allowed))})")
    for key, kind in allowed.items():
        if key not in table:
            if key in optional:
                continue
            raise ProfileError(f"{where}: missing key {key!r}")
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ProfileError(f"{where}: {key!r} must be {kind.__name__}, not {value!r}")


def _oath(table: dict, where: str) -> OathRecipe:
    _typed(table, OATH_KEYS, f"{where} [oath]")
    if table["type"] != "TOTP":
        raise ProfileError(f"{where} [oath]: type {table['type']!r}: only TOTP is provisioned to YubiKeys")
    if table["algorithm"] not in ("SHA1", "SHA256", "SHA512"):
        raise ProfileError(f"{where} [oath]: algorithm {table['algorithm']!r} (SHA1, SHA256 or SHA512)")
    if table["digits"] not in (6, 8) or table["period"] not in (30, 60):
        raise ProfileError(f"{where} [oath]: digits must be 6 or 8 and period 30 or 60")
    if not table["issuer"].strip() or ":" in table["issuer"]:
        raise ProfileError(f"{where} [oath]: issuer must be non-empty and without ':'")
    return OathRecipe(
        table["type"], table["issuer"], table["algorithm"], table["digits"], table["period"], table["touch"]
    )


def load_recipe(path: Path) -> Recipe:
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {exc}") from exc
    _typed(data, TOP_KEYS, where, optional=frozenset({"oath", "yubico_otp"}))
    if data["kind"] not in KINDS:
        raise ProfileError(f"{where}: kind {data['kind']!r} (one of {', '.join(KINDS)})")
    unknown = [n for n in data["needs"] if n not in CAPABILITY_BITS]
    if unknown:
        raise ProfileError(f"{where}: unknown applications {unknown} in 'needs'")
    oath = _oath(data["oath"], where) if "oath" in data else None
    if (data["kind"] == "yubikey") != (oath is not None):
        raise ProfileError(f"{where}: a yubikey recipe has an [oath] table; a classic oath recipe has none")
    if path.stem != data["id"]:
        raise ProfileError(f"{where}: id {data['id']!r} must match the file name")
    slot = None
    if "yubico_otp" in data:
        _typed(data["yubico_otp"], YUBICO_OTP_KEYS, f"{where} [yubico_otp]")
        slot = data["yubico_otp"]["slot"]
        if slot not in (1, 2) or data["kind"] != "yubikey" or "OTP" not in data["needs"]:
            raise ProfileError(
                f"{where} [yubico_otp]: slot must be 1 or 2, on a yubikey recipe that needs OTP"
            )
    return Recipe(data["id"], data["name"], data["kind"], frozenset(data["needs"]), oath, slot)


@cache
def load_recipes(directory: Path = RECIPE_DIR) -> dict[str, Recipe]:
    return {r.id: r for r in (load_recipe(p) for p in sorted(directory.glob("*.toml")))}


def find_recipe(recipe_id: str) -> Recipe:
    recipes = load_recipes()
    if recipe_id not in recipes:
        raise ProfileError(f"no provisioning recipe {recipe_id!r}; known: {', '.join(sorted(recipes))}")
    return recipes[recipe_id]
