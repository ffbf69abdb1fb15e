"""Models and firmware of the keys a desk meets, as validated data.

The TOML files beside this module are the single description of what each model and firmware can do;
the station reads them to plan provisioning and the virtual YubiKey reads them to behave like the real one.
This module only loads and validates them: it imports nothing else from the project.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROFILE_DIR = Path(__file__).parent

# Bit values of the capabilities as the Management applet reports them (yubikit's CAPABILITY).
CAPABILITY_BITS = {
    "OTP": 0x01,
    "U2F": 0x02,
    "OPENPGP": 0x08,
    "PIV": 0x10,
    "OATH": 0x20,
    "HSMAUTH": 0x100,
    "FIDO2": 0x200,
}
FORM_FACTORS = {
    "USB_A_KEYCHAIN": 0x01,
    "USB_A_NANO": 0x02,
    "USB_C_KEYCHAIN": 0x03,
    "USB_C_NANO": 0x04,
    "USB_C_LIGHTNING": 0x05,
    "USB_A_BIO": 0x06,
    "USB_C_BIO": 0x07,
}


class ProfileError(ValueError):
    """A firmware profile file is malformed, or no profile matches what was asked."""


@dataclass(frozen=True)
class FirmwareProfile:
    """What one model on one firmware version can do."""

    model_id: str
    model_name: str
    form_factor: str
    nfc: bool
    version: tuple[int, int, int]
    usb_capabilities: frozenset[str]
    nfc_capabilities: frozenset[str]
    oath_capacity: int
    oath_name_max: int
    oath_sha512: bool
    oath_rename: bool

    @property
    def version_text(self) -> str:
        return ".".join(str(p) for p in self.version)

    @property
    def usb_capability_bits(self) -> int:
        return _bits(self.usb_capabilities)

    @property
    def nfc_capability_bits(self) -> int:
        return _bits(self.nfc_capabilities)

    @property
    def form_factor_code(self) -> int:
        return FORM_FACTORS[self.form_factor]


def _bits(names: frozenset[str]) -> int:
    value = 0
    for name in names:
        value |= CAPABILITY_BITS[name]
    return value


def parse_version(text: str) -> tuple[int, int, int]:
    """Parse "5.4.3" into (5, 4, 3), with an error that names the bad text."""
    parts = text.strip().split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ProfileError(f"firmware version {text!r} is not of the form MAJOR.MINOR.PATCH")
    major, minor, patch = (int(p) for p in parts)
    if not all(0 <= p <= 255 for p in (major, minor, patch)):
        raise ProfileError(f"firmware version {text!r} has a part outside 0-255")
    return major, minor, patch


def _require(table: dict, key: str, kind: type, where: str) -> object:
    if key not in table:
        raise ProfileError(f"{where}: missing key {key!r}")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProfileError(f"{where}: {key!r} must be {kind.__name__}, not {value!r}")
    return value


def _capabilities(table: dict, key: str, where: str) -> frozenset[str]:
    names = _require(table, key, list, where)
    unknown = [n for n in names if n not in CAPABILITY_BITS]
    if unknown:
        raise ProfileError(f"{where}: unknown capabilities {unknown} in {key!r}")
    return frozenset(names)


def load_file(path: Path) -> list[FirmwareProfile]:
    """Load and validate one model file; every error names the file and the entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: not valid TOML: {exc}") from exc
    where = path.name
    model_id = _require(data, "id", str, where)
    name = _require(data, "name", str, where)
    form_factor = _require(data, "form_factor", str, where)
    if form_factor not in FORM_FACTORS:
        raise ProfileError(f"{where}: unknown form_factor {form_factor!r}")
    nfc = _require(data, "nfc", bool, where)
    entries = _require(data, "firmware", list, where)
    if not entries:
        raise ProfileError(f"{where}: no [[firmware]] entries")
    profiles = []
    for i, fw in enumerate(entries):
        at = f"{where} firmware #{i + 1}"
        version = parse_version(_require(fw, "version", str, at))
        capacity = _require(fw, "oath_capacity", int, at)
        name_max = _require(fw, "oath_name_max", int, at)
        if capacity < 0 or not 1 <= name_max <= 255:
            raise ProfileError(f"{at}: oath_capacity or oath_name_max out of range")
        profiles.append(
            FirmwareProfile(
                model_id=model_id,
                model_name=name,
                form_factor=form_factor,
                nfc=nfc,
                version=version,
                usb_capabilities=_capabilities(fw, "usb_capabilities", at),
                nfc_capabilities=_capabilities(fw, "nfc_capabilities", at) if nfc else frozenset(),
                oath_capacity=capacity,
                oath_name_max=name_max,
                oath_sha512=_require(fw, "oath_sha512", bool, at),
                oath_rename=_require(fw, "oath_rename", bool, at),
            )
        )
    return profiles


@cache
def load_all(directory: Path = PROFILE_DIR) -> tuple[FirmwareProfile, ...]:
    """Every profile in the directory, validated."""
    profiles: list[FirmwareProfile] = []
    for path in sorted(directory.glob("*.toml")):
        profiles.extend(load_file(path))
    return tuple(profiles)


def find(model_id: str, version: tuple[int, int, int] | str) -> FirmwareProfile:
    """The profile of one model at one firmware version.

    An exact version match wins; otherwise the newest listed version not newer than the one asked
    for (firmware features only ever grow within a model line).
    """
    if isinstance(version, str):
        version = parse_version(version)
    candidates = [p for p in load_all() if p.model_id == model_id]
    if not candidates:
        known = sorted({p.model_id for p in load_all()})
        raise ProfileError(f"no profile for model {model_id!r}; known models: {', '.join(known)}")
    older = [p for p in candidates if p.version <= version]
    if not older:
        listed = ", ".join(p.version_text for p in candidates)
        raise ProfileError(
            f"{model_id} has no profile for firmware {'.'.join(map(str, version))}; listed: {listed}"
        )
    best = max(older, key=lambda p: p.version)
    if best.version != version:
        # Same feature set as the nearest older listed version, but report the version asked for.
        best = FirmwareProfile(**{**best.__dict__, "version": version})
    return best
