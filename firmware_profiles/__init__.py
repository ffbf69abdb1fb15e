"""Models and firmware of the keys a desk meets, as validated data.

The TOML files beside this module are the single description of what each model and firmware can do;
the station reads them to plan provisioning and the virtual YubiKey reads them to behave like the real one.
This module only loads and validates them: it imports nothing else from the project.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
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


# Bits of the form-factor byte above the form factor itself, as yubikit's DeviceInfo reads them.
FORM_FACTOR_FIPS_BIT = 0x80
FORM_FACTOR_SKY_BIT = 0x40

OTP_FEATURES = frozenset({"YUBICO_OTP", "OATH_HOTP", "STATIC_PASSWORD", "CHALRESP_HMAC", "CHALRESP_YUBICO"})
PIV_TOUCH_POLICIES = frozenset({"DEFAULT", "NEVER", "ALWAYS", "CACHED"})

# Keys each table may hold; anything else is a typo and refused.
MODEL_KEYS = {
    "id": str, "name": str, "form_factor": str, "nfc": bool,
    "sky": bool, "fips": bool, "serial_visible": bool, "firmware": list,
}
MODEL_OPTIONAL = {"sky": False, "fips": False, "serial_visible": True}
FIRMWARE_KEYS = {
    "version": str, "usb_capabilities": list, "nfc_capabilities": list,
    "oath_capacity": int, "oath_name_max": int, "oath_sha512": bool, "oath_rename": bool,
    "oath_touch": bool, "otp_slots": int, "otp_features": list,
    "fido2_resident_keys": int, "piv_key_slots": int, "piv_touch_policies": list,
}
# Keys a firmware entry may leave out (older files, and models without the application).
FIRMWARE_OPTIONAL = {
    "nfc_capabilities": [], "oath_touch": False, "otp_slots": 0, "otp_features": [],
    "fido2_resident_keys": 0, "piv_key_slots": 0, "piv_touch_policies": [],
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
    sky: bool = False
    fips: bool = False
    serial_visible: bool = True
    oath_touch: bool = False
    otp_slots: int = 0
    otp_features: frozenset[str] = frozenset()
    fido2_resident_keys: int = 0
    piv_key_slots: int = 0
    piv_touch_policies: frozenset[str] = frozenset()

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

    @property
    def form_factor_byte(self) -> int:
        """The Management applet's form-factor byte: the code plus the FIPS and Security Key bits."""
        return (
            self.form_factor_code
            | (FORM_FACTOR_FIPS_BIT if self.fips else 0)
            | (FORM_FACTOR_SKY_BIT if self.sky else 0)
        )

    @property
    def capabilities(self) -> frozenset[str]:
        """Every application the key has on any transport."""
        return self.usb_capabilities | self.nfc_capabilities

    @property
    def has_oath(self) -> bool:
        return "OATH" in self.capabilities

    def supports_oath_algorithm(self, algorithm: str) -> bool:
        """Whether the OATH applet takes this hash (SHA1, SHA256, SHA512)."""
        if not self.has_oath:
            return False
        if algorithm.upper() == "SHA512":
            return self.oath_sha512
        return algorithm.upper() in ("SHA1", "SHA256")


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


def _check_keys(table: object, allowed: dict[str, type], optional: dict, where: str) -> dict:
    """The table with defaults filled in; unknown keys, missing keys and wrong types are errors."""
    if not isinstance(table, dict):
        raise ProfileError(f"{where}: expected a table, not {table!r}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ProfileError(f"{where}: unknown keys {unknown} (allowed: {', '.join(sorted(allowed))})")
    out = dict(table)
    for key, kind in allowed.items():
        if key not in out:
            if key not in optional:
                raise ProfileError(f"{where}: missing key {key!r}")
            out[key] = optional[key]
            continue
        value = out[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ProfileError(f"{where}: {key!r} must be {kind.__name__}, not {value!r}")
    return out


def _names(values: list, known: frozenset[str] | dict, key: str, where: str) -> frozenset[str]:
    if not all(isinstance(v, str) for v in values):
        raise ProfileError(f"{where}: {key!r} must be a list of strings, not {values!r}")
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ProfileError(f"{where}: unknown values {unknown} in {key!r}")
    if len(set(values)) != len(values):
        raise ProfileError(f"{where}: duplicate values in {key!r}")
    return frozenset(values)


def _firmware(model: dict, fw: dict, at: str) -> FirmwareProfile:
    try:
        version = parse_version(fw["version"])
    except ProfileError as exc:
        raise ProfileError(f"{at}: {exc}") from exc
    usb = _names(fw["usb_capabilities"], CAPABILITY_BITS, "usb_capabilities", at)
    nfc_caps = _names(fw["nfc_capabilities"], CAPABILITY_BITS, "nfc_capabilities", at)
    if model["nfc"] and not nfc_caps:
        raise ProfileError(f"{at}: an NFC model needs 'nfc_capabilities'")
    if not model["nfc"] and nfc_caps:
        raise ProfileError(f"{at}: 'nfc_capabilities' given for a model without NFC")
    oath = "OATH" in usb | nfc_caps
    capacity, name_max = fw["oath_capacity"], fw["oath_name_max"]
    if oath and (capacity < 1 or not 1 <= name_max <= 255):
        raise ProfileError(f"{at}: oath_capacity or oath_name_max out of range")
    if not oath and (capacity != 0 or fw["oath_sha512"] or fw["oath_rename"] or fw["oath_touch"]):
        raise ProfileError(f"{at}: OATH settings given for a key without the OATH application")
    otp_features = _names(fw["otp_features"], OTP_FEATURES, "otp_features", at)
    has_otp = "OTP" in usb | nfc_caps
    if has_otp != (fw["otp_slots"] == 2) or (not has_otp and otp_features):
        raise ProfileError(f"{at}: otp_slots must be 2 with the OTP application and 0 (no features) without")
    if ("FIDO2" in usb | nfc_caps) != (fw["fido2_resident_keys"] > 0):
        raise ProfileError(f"{at}: fido2_resident_keys must be > 0 exactly when FIDO2 is there")
    touch = _names(fw["piv_touch_policies"], PIV_TOUCH_POLICIES, "piv_touch_policies", at)
    if ("PIV" in usb | nfc_caps) != (fw["piv_key_slots"] > 0) or (fw["piv_key_slots"] == 0 and touch):
        raise ProfileError(f"{at}: piv_key_slots must be > 0 exactly when PIV is there")
    return FirmwareProfile(
        model_id=model["id"],
        model_name=model["name"],
        form_factor=model["form_factor"],
        nfc=model["nfc"],
        version=version,
        usb_capabilities=usb,
        nfc_capabilities=nfc_caps,
        oath_capacity=capacity,
        oath_name_max=name_max,
        oath_sha512=fw["oath_sha512"],
        oath_rename=fw["oath_rename"],
        sky=model["sky"],
        fips=model["fips"],
        serial_visible=model["serial_visible"],
        oath_touch=fw["oath_touch"],
        otp_slots=fw["otp_slots"],
        otp_features=otp_features,
        fido2_resident_keys=fw["fido2_resident_keys"],
        piv_key_slots=fw["piv_key_slots"],
        piv_touch_policies=touch,
    )


def load_file(path: Path) -> list[FirmwareProfile]:
    """Load and validate one model file; every error names the file and the entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: not valid TOML: {exc}") from exc
    where = path.name
    model = _check_keys(data, MODEL_KEYS, MODEL_OPTIONAL, where)
    if model["form_factor"] not in FORM_FACTORS:
        raise ProfileError(f"{where}: unknown form_factor {model['form_factor']!r}")
    if model["sky"] and model["fips"]:
        raise ProfileError(f"{where}: a model is not both a Security Key and FIPS")
    if not model["firmware"]:
        raise ProfileError(f"{where}: no [[firmware]] entries")
    profiles = []
    for i, entry in enumerate(model["firmware"]):
        at = f"{where} firmware #{i + 1}"
        fw = _check_keys(entry, FIRMWARE_KEYS, FIRMWARE_OPTIONAL, at)
        profiles.append(_firmware(model, fw, at))
    versions = [p.version for p in profiles]
    if len(set(versions)) != len(versions):
        raise ProfileError(f"{where}: a firmware version is listed twice")
    return profiles


@cache
def load_all(directory: Path = PROFILE_DIR) -> tuple[FirmwareProfile, ...]:
    """Every profile in the directory, validated; model ids and names are unique across files."""
    profiles: list[FirmwareProfile] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        loaded = load_file(path)
        model = loaded[0]
        for key in (model.model_id, model.model_name):
            if key in seen:
                raise ProfileError(f"{path.name}: model {key!r} is also in {seen[key]}")
            seen[key] = path.name
        profiles.extend(loaded)
    return tuple(profiles)


def model_ids() -> list[str]:
    """Every model id, sorted (for --model choices and tests)."""
    return sorted({p.model_id for p in load_all()})


def find(
    model_id: str,
    version: tuple[int, int, int] | str,
    profiles: Sequence[FirmwareProfile] | None = None,
) -> FirmwareProfile:
    """The profile of one model at one firmware version, among `profiles` (default: the shipped ones).

    An exact version match wins; otherwise the newest listed version not newer than the one asked
    for (firmware features only ever grow within a model line).
    """
    if isinstance(version, str):
        version = parse_version(version)
    everything = load_all() if profiles is None else tuple(profiles)
    candidates = [p for p in everything if p.model_id == model_id]
    if not candidates:
        known = sorted({p.model_id for p in everything})
        raise ProfileError(f"no profile for model {model_id!r}; known models: {', '.join(known)}")
    older = [p for p in candidates if p.version <= version]
    if not older:
        listed = ", ".join(p.version_text for p in candidates)
        raise ProfileError(
            f"{model_id} has no profile for firmware {'.'.join(map(str, version))}; listed: {listed}"
        )
    best = max(older, key=lambda p: p.version)
    if best.version[0] != version[0]:
        # Features grow within a firmware line, not across lines: a YubiKey 4 on "5.4.3" is no such key.
        listed = ", ".join(p.version_text for p in candidates)
        raise ProfileError(
            f"{model_id} has no firmware {'.'.join(map(str, version))} (major version differs);"
            f" listed: {listed}"
        )
    if best.version != version:
        # Same feature set as the nearest older listed version, but report the version asked for.
        best = FirmwareProfile(**{**best.__dict__, "version": version})
    return best
