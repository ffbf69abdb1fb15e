"""Provisioning recipes are validated data: the shipped ones load, malformed ones are refused by name."""

import pytest

from firmware_profiles import ProfileError
from firmware_profiles.recipes import find_recipe, load_recipe, load_recipes

GOOD = """id = "{id}"
name = "x"
kind = "yubikey"
needs = ["OATH"]

[oath]
type = "TOTP"
issuer = "Token Station"
algorithm = "SHA1"
digits = 6
period = 30
touch = false
"""


def test_shipped_recipes_load():
    recipes = load_recipes()
    assert set(recipes) == {
        "yubikey-oath-totp",
        "yubikey-oath-totp-touch",
        "yubikey-oath-totp-otp",
        "classic-oath",
    }
    assert find_recipe("yubikey-oath-totp-otp").yubico_otp_slot == 1
    assert find_recipe("yubikey-oath-totp").yubico_otp_slot is None
    totp = find_recipe("yubikey-oath-totp").oath
    assert (totp.issuer, totp.algorithm, totp.digits, totp.period, totp.touch) == (
        "Token Station",
        "SHA1",
        6,
        30,
        False,
    )
    assert find_recipe("classic-oath").oath is None
    with pytest.raises(ProfileError, match="no provisioning recipe 'nope'"):
        find_recipe("nope")


@pytest.mark.parametrize(
    "change,says",
    [
        (("digits = 6", "digits = 7"), "digits must be 6 or 8"),
        (("touch = false", "touch = false\ncolour = 1"), "unknown keys \\['colour'\\]"),
        (('kind = "yubikey"', 'kind = "smartcard"'), "kind 'smartcard'"),
        (('needs = ["OATH"]', 'needs = ["TELEPATHY"]'), "unknown applications"),
        (('issuer = "Token Station"', 'issuer = "a:b"'), "without ':'"),
        (('type = "TOTP"', 'type = "HOTP"'), "only TOTP"),
        (("period = 30", 'period = "30"'), "'period' must be int"),
        (("touch = false", "touch = false\n[yubico_otp]\nslot = 1"), "needs OTP"),
        (('needs = ["OATH"]', 'needs = ["OATH", "OTP"]\n[yubico_otp]\nslot = 3'), "slot must be 1 or 2"),
    ],
)
def test_malformed_recipes_are_refused(tmp_path, change, says):
    path = tmp_path / "r.toml"
    path.write_text(GOOD.format(id="r").replace(*change))
    with pytest.raises(ProfileError, match=says):
        load_recipe(path)


def test_recipe_id_matches_its_file(tmp_path):
    path = tmp_path / "other.toml"
    path.write_text(GOOD.format(id="r"))
    with pytest.raises(ProfileError, match="must match the file name"):
        load_recipe(path)
