"""Firmware profiles: every file loads, typos are refused, every profile serves under its own name.

The name check uses the real yubikit read_info + get_name over an in-process virtual key, so a
profile's model_name is exactly what `station devices` (and ykman) will show for that key.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from yubikit.support import get_name, read_info

import firmware_profiles as fp
from drivers.discovery import KeyInfo
from drivers.emulator import VirtualConnection, VirtualYubiKey
from station.errors import DeviceError
from station.profiles import check_key_can_hold, oath_capacity, profile_for

PROFILES = fp.load_all()
MODELS = {"yubikey-5-nfc", "yubikey-5c-nfc", "yubikey-5ci", "yubikey-5-nano", "yubikey-5c-nano",
          "yubikey-4", "security-key-nfc", "security-key-nfc-ee", "yubikey-5-nfc-fips"}


def test_every_model_and_firmware_line_is_described():
    assert set(fp.model_ids()) == MODELS
    for model in ("yubikey-5-nfc", "yubikey-5c-nfc", "yubikey-5ci", "yubikey-5-nano", "yubikey-5c-nano"):
        lines = {p.version[:2] for p in PROFILES if p.model_id == model}
        assert lines == {(5, 2), (5, 4), (5, 7)}, model


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.model_id}-{p.version_text}")
def test_documented_limits(profile):
    if profile.has_oath:
        assert profile.oath_capacity == (64 if profile.version >= (5, 7, 0) else 32)
        assert profile.oath_name_max == 64
        assert profile.oath_sha512 == (profile.version >= (4, 3, 1))
        assert profile.oath_rename == (profile.version >= (5, 3, 1))
        assert profile.otp_slots == 2
    else:
        assert profile.sky and profile.capabilities == {"U2F", "FIDO2"}
    # Applications per series (Technical Manual "YubiKey 5 Series", "Pre-5.6 Firmware Specifics":
    # YubiHSM Auth from 5.4.3; YubiKey 4: no FIDO2; Security Key series: FIDO only), the same set
    # over NFC as over USB on the models with NFC.
    if profile.sky:
        apps = {"U2F", "FIDO2"}
    elif profile.version < (5, 0, 0):
        apps = {"OTP", "U2F", "OPENPGP", "PIV", "OATH"}
    else:
        apps = {"OTP", "U2F", "OPENPGP", "PIV", "OATH", "FIDO2"} | (
            {"HSMAUTH"} if profile.version >= (5, 4, 3) else set())
    assert profile.usb_capabilities == apps
    assert profile.nfc_capabilities == (apps if profile.nfc else set())
    if "FIDO2" in profile.capabilities:
        assert profile.fido2_resident_keys == (100 if profile.version >= (5, 7, 0) else 25)
    assert bool(profile.nfc_capabilities) == profile.nfc
    assert profile.form_factor_byte & 0x80 == (0x80 if profile.fips else 0)
    assert profile.form_factor_byte & 0x40 == (0x40 if profile.sky else 0)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.model_id}-{p.version_text}")
def test_served_profile_has_its_model_name(profile):
    key = VirtualYubiKey.open(serial=5550001, model=profile.model_id, firmware=profile.version_text)
    info = read_info(VirtualConnection(key))
    assert get_name(info, None) == profile.model_name
    assert (info.version.major, info.version.minor, info.version.patch) == profile.version
    assert info.is_fips == profile.fips and info.is_sky == profile.sky
    # A plain Security Key reports no serial (yubikit would call it "Enterprise Edition" otherwise).
    assert info.serial == (5550001 if profile.serial_visible else None)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """id = "m"
name = "M"
form_factor = "USB_A_KEYCHAIN"
nfc = false

[[firmware]]
version = "5.4.3"
usb_capabilities = ["OATH"]
oath_capacity = 32
oath_name_max = 64
oath_sha512 = true
oath_rename = true
"""


def test_minimal_file_loads_with_defaults(tmp_path):
    (p,) = fp.load_file(write(tmp_path, BASE))
    assert p.has_oath and not p.sky and p.serial_visible and p.otp_slots == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("oath_rename = true", "oath_rename = true\noath_renmae = true"), "unknown keys ['oath_renmae']"),
        (('nfc = false', 'nfc = false\nskyy = true'), "unknown keys ['skyy']"),
        (("oath_capacity = 32", 'oath_capacity = "32"'), "'oath_capacity' must be int"),
        (('usb_capabilities = ["OATH"]', 'usb_capabilities = ["OATHH"]'), "unknown values ['OATHH']"),
        (('usb_capabilities = ["OATH"]', 'usb_capabilities = ["OATH"]\nnfc_capabilities = ["OATH"]'),
         "model without NFC"),
        (('usb_capabilities = ["OATH"]', 'usb_capabilities = ["FIDO2"]'), "without the OATH application"),
        (('usb_capabilities = ["OATH"]', 'usb_capabilities = ["OATH", "OTP"]'), "otp_slots must be 2"),
        (('usb_capabilities = ["OATH"]', 'usb_capabilities = ["OATH", "PIV"]'), "piv_key_slots"),
        (('nfc = false', 'nfc = false\nsky = true\nfips = true'), "both a Security Key and FIPS"),
        (('version = "5.4.3"', 'version = "5.4"'), "MAJOR.MINOR.PATCH"),
        (('oath_sha512 = true', ''), "missing key 'oath_sha512'"),
    ],
)
def test_malformed_files_are_refused_clearly(tmp_path, change, message):
    old, new = change
    with pytest.raises(fp.ProfileError, match="m.toml") as err:
        fp.load_file(write(tmp_path, BASE.replace(old, new, 1)))
    assert message in str(err.value)


def test_find_refuses_another_firmware_line():
    assert fp.find("yubikey-5-nfc", "5.4.7").oath_capacity == 32
    assert fp.find("yubikey-5-nfc", "5.7.2").oath_capacity == 64
    with pytest.raises(fp.ProfileError, match="major version differs"):
        fp.find("yubikey-4", "5.4.3")
    with pytest.raises(fp.ProfileError, match="known models"):
        fp.find("yubikey-6", "6.0.0")


def key_info(model: str, firmware: str, form_factor: str = "Keychain (USB-A)",
             supported: tuple[str, ...] = ()) -> KeyInfo:
    return KeyInfo("Virtual PCD 00 00", 42, model, firmware, form_factor, "NFC", supported, supported, None)


def test_station_matches_by_name_then_by_what_the_key_reports():
    assert profile_for(key_info("YubiKey 5C NFC", "5.7.1")).model_id == "yubikey-5c-nfc"
    # An unknown marketing name: matched by form factor, applications and firmware line.
    odd = key_info("YubiKey 5C NFC (new name)", "5.4.3", "Keychain (USB-C)",
                   ("OTP", "U2F", "FIDO2", "OATH", "PIV", "OPENPGP", "HSMAUTH"))
    assert profile_for(odd).model_id == "yubikey-5c-nfc"
    assert profile_for(key_info("Mystery", "5.4.3")) is None


def test_station_refusals_come_from_profiles():
    sky = key_info("Security Key NFC - Enterprise Edition", "5.7.1", supported=("U2F", "FIDO2"))
    with pytest.raises(DeviceError, match=r"Key 42 \(Security Key NFC - Enterprise Edition\) has no OATH"):
        check_key_can_hold(sky, "SHA1")
    old = key_info("YubiKey 4", "4.2.6")
    with pytest.raises(DeviceError, match="cannot hold a SHA512 credential"):
        check_key_can_hold(old, "SHA512")
    check_key_can_hold(old, "SHA256")
    check_key_can_hold(key_info("YubiKey 4", "4.3.7"), "SHA512")


def test_a_changed_profile_file_changes_the_station_s_answer(tmp_path):
    """The refusals and limits are read from the files: edit one and the station follows."""
    shipped = (fp.PROFILE_DIR / "yubikey-4.toml").read_text(encoding="utf-8")
    first = shipped.index("[[firmware]]")
    edited = shipped[:first] + shipped[first:].replace("oath_sha512 = false", "oath_sha512 = true", 1)
    edited = edited.replace("oath_capacity = 32", "oath_capacity = 20", 1)
    path = tmp_path / "yubikey-4.toml"
    path.write_text(edited, encoding="utf-8")
    profiles = [p for p in PROFILES if p.model_id != "yubikey-4"] + fp.load_file(path)
    old = key_info("YubiKey 4", "4.2.6")
    with pytest.raises(DeviceError, match="cannot hold a SHA512 credential"):
        check_key_can_hold(old, "SHA512")
    check_key_can_hold(old, "SHA512", profiles=profiles)
    assert (oath_capacity(old), oath_capacity(old, profiles)) == (32, 20)
