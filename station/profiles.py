"""What firmware_profiles/ says about a present key: the station's limits and refusals come from here.

The station never carries a model's abilities in code. It finds the key's profile (by the model name
yubikit gives the key, else by what the key reports) and asks it: whether the key has an OATH applet,
which hashes it takes, how many credentials it holds. `profiles` defaults to the shipped files; a test
may hand in another set to show that a changed file changes the station's answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from yubikit.management import FORM_FACTOR

import firmware_profiles
from drivers.discovery import KeyInfo
from firmware_profiles import FirmwareProfile

from .errors import DeviceError


def profile_for(info: KeyInfo, profiles: Sequence[FirmwareProfile] | None = None) -> FirmwareProfile | None:
    """The profile of a present key: by the model name yubikit gives it, else by what it reports.

    The name is what yubikit's get_name builds from the key's device info; a key whose name no profile
    carries (a new marketing name, an odd configuration) is matched by form factor, the applications
    it supports and its firmware line, so its limits still come from data rather than guesses.
    """
    try:
        version = firmware_profiles.parse_version(info.firmware)
    except firmware_profiles.ProfileError:
        return None
    profiles = firmware_profiles.load_all() if profiles is None else tuple(profiles)

    def at_version(model_id: str) -> FirmwareProfile | None:
        try:
            return firmware_profiles.find(model_id, version, profiles)
        except firmware_profiles.ProfileError:
            return None

    named = [p.model_id for p in profiles if p.model_name == info.model]
    if named:
        return at_version(named[0])
    supported = frozenset(info.supported)
    if not supported:
        return None  # nothing reported to match on
    for model_id in sorted({p.model_id for p in profiles}):
        profile = at_version(model_id)
        if profile is None:
            continue
        caps = profile.nfc_capabilities if info.transport == "NFC" else profile.usb_capabilities
        if caps == supported and _form_factor_text(profile) == info.form_factor:
            return profile
    return None


def _form_factor_text(profile: FirmwareProfile) -> str:
    # KeyInfo.form_factor is str(yubikit FORM_FACTOR), e.g. "Keychain (USB-A)".
    return str(FORM_FACTOR.from_code(profile.form_factor_code))


def oath_capacity(info: KeyInfo, profiles: Sequence[FirmwareProfile] | None = None) -> int:
    """How many OATH credentials the key holds when full."""
    profile = profile_for(info, profiles)
    if profile is not None:
        return profile.oath_capacity
    # A model we have no profile for: the OATH applet's documented sizes by firmware line.
    return 64 if firmware_profiles.parse_version(info.firmware) >= (5, 7, 0) else 32


def check_key_can_hold(
    info: KeyInfo, algorithm: str, touch: bool = False, profiles: Sequence[FirmwareProfile] | None = None
) -> None:
    """Refuse, from the key's profile, a TOTP credential the key cannot hold; nothing is written yet."""
    profile = profile_for(info, profiles)
    if profile is None:
        return  # no profile: the key's own answers (applet missing, 6A80) still refuse before the intent
    if not profile.has_oath:
        raise DeviceError(
            f"Key {info.serial} ({info.model}) has no OATH application: it cannot hold a TOTP credential.",
            "Security Keys hold FIDO credentials only. Take a YubiKey 5 from stock for this owner.",
        )
    if not profile.supports_oath_algorithm(algorithm):
        raise DeviceError(
            f"Key {info.serial} ({info.model}, firmware {info.firmware}) cannot hold a {algorithm}"
            " credential.",
            "Use --algorithm SHA1 or SHA256, or take a key with newer firmware (SHA-512 needs 4.3.1+).",
        )
    if touch and not profile.oath_touch:
        raise DeviceError(
            f"Key {info.serial} ({info.model}, firmware {info.firmware}) cannot require a touch for codes.",
            "Use a recipe without touch, or a key whose firmware supports it.",
        )
