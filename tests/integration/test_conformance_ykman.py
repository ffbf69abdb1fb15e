"""Conformance: Yubico's ykman CLI over the real pcscd against one virtual key of every firmware profile.

Every profile in firmware_profiles/ gets one virtual key (reused by all the tests of that profile), on
the face a real key of that model shows a PC/SC host: a model with NFC on a "Virtual PCD" reader (ykman
sees an NFC key), a USB-only model on the project's "Yubico YubiKey OTP+FIDO+CCID" reader (ykman sees a
USB key through its CCID interface). The expected outcome of each command is not read from the emulator:

- model facts (name, form factor, applications per transport, serial shown or not) come from the
  profile, whose every fact cites Yubico's documentation (firmware_profiles/*.toml);
- what ykman does with them, including each refusal, comes from ykman/yubikit's own source, cited at
  each constant below (ykman 5.9 in the project's venv);
- codes are computed here, independently: RFC 4226/6238 and RFC 2202 test vectors, and Yubico OTPs
  decoded by tests/yubico_otp_decode.py.

Where a real key answers through an interface a PC/SC reader cannot carry, the test says so and checks
what a real key does when only its CCID interface is reachable: over USB ykman computes `otp calculate`
only through the HID OTP interface (ykman/_cli/otp.py `calculate`), so a key reached through pcscd alone
gets "The connection type required for this command is not supported/enabled on the YubiKey.", the
message Yubico/yubikey-manager#686 shows from a real 5C NFC whose HID interface was not accessible. The
slot's answer is then checked in-process with yubikit.
"""

from __future__ import annotations

import base64
import hmac
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pcsc_harness
import pytest
from yubico_otp_decode import decode, to_modhex
from yubikit.yubiotp import SLOT, YubiOtpSession

import firmware_profiles
from drivers.emulator import VirtualConnection, VirtualYubiKey
from firmware_profiles import FirmwareProfile

PROFILES = firmware_profiles.load_all()
SERIAL_BASE = 8_300_000

# Version gates as ykman and yubikit apply them, before the key is asked:
CONFIG_FROM = (5, 0, 0)  # ykman/_cli/config.py _require_config; yubikit write_device_config 5.0.0
RENAME_FROM = (5, 3, 1)  # yubikit/oath.py OathSession.rename_credential: require_version(5, 3, 1)
SHA512_FROM = (4, 3, 1)  # ykman/_cli/oath.py _add_cred; YKOATH: HMAC-SHA512 from firmware 4.3.1

# ykman's words (ykman/_cli/*.py, yubikit), quoted by the assertions.
NOT_AVAILABLE = "The functionality required for this command is not enabled or not available on this YubiKey."
NO_CONNECTION = "The connection type required for this command is not supported/enabled on the YubiKey."
NO_CONFIG = ("Configuring applications is not supported on this YubiKey. "
             "Use the `mode` command to configure USB interfaces.")
NO_NFC = "This YubiKey does not support NFC."

# `ykman info` rows in ykman's order (CAPABILITY), with their display names.
APPS = [("OTP", "Yubico OTP"), ("U2F", "FIDO U2F"), ("FIDO2", "FIDO2"), ("OATH", "OATH"), ("PIV", "PIV"),
        ("OPENPGP", "OpenPGP"), ("HSMAUTH", "YubiHSM Auth")]
FORM_FACTOR_TEXT = {  # yubikit FORM_FACTOR.__str__
    "USB_A_KEYCHAIN": "Keychain (USB-A)", "USB_A_NANO": "Nano (USB-A)", "USB_C_KEYCHAIN": "Keychain (USB-C)",
    "USB_C_NANO": "Nano (USB-C)", "USB_C_LIGHTNING": "Keychain (USB-C, Lightning)",
}

SECRET_B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 4226 appendix D / RFC 6238 appendix B SHA-1 seed
SECRET = base64.b32decode(SECRET_B32)
RFC4226_CODES = ["755224", "287082", "359152"]  # RFC 4226 appendix D, counters 0-2
RFC2202_KEY = bytes([0x0B] * 20)  # RFC 2202 test case 1
RFC2202_CHALLENGE, RFC2202_HMAC = b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"
STATIC_PASSWORD = "Conformance-p4ss"
PASSWORD = "s3cret-desk"


def profile_id(profile: FirmwareProfile) -> str:
    return f"{profile.model_id}-{profile.version_text}"


@dataclass
class Subject:
    """One profile's virtual key, and ykman pointed at it."""

    profile: FirmwareProfile
    key: pcsc_harness.KeyHandle
    face: str  # "nfc" or "usb"
    home: Path  # ykman's HOME: its remembered passwords stay in the test's directory
    tmp: Path
    runner: pcsc_harness.YkmanForkServer

    @property
    def serial(self) -> int:
        return self.key.serial

    def ykman(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return self.runner.run(self.key.reader, *args, input=input, env={"HOME": str(self.home)})

    def snapshot(self, name: str) -> VirtualYubiKey:
        """The same key in-process, from a copy of its state file (the served key is left alone)."""
        copy = self.tmp / f"{name}.json"
        shutil.copyfile(self.key.state_path, copy)
        p = self.profile
        return VirtualYubiKey.open(self.serial, p.version_text, p.model_id, copy, transport=self.face)


@pytest.fixture(scope="module", params=PROFILES, ids=profile_id)
def subject(request, pcscd, ykman_server, tmp_path_factory):
    profile: FirmwareProfile = request.param
    face = "nfc" if profile.nfc else "usb"
    if face == "usb" and not pcsc_harness.usb_face_available():
        pytest.skip("the running pcscd does not serve the project's USB-face reader (USB-only models)")
    tmp = tmp_path_factory.mktemp(profile_id(profile))
    serial = SERIAL_BASE + PROFILES.index(profile)
    port = pcsc_harness.USB_PORT if face == "usb" else pcsc_harness.VPCD_BASE_PORT
    key = pcsc_harness.start_key(
        serial, tmp / "key.json", tmp / "emulator.log", firmware=profile.version_text, port=port,
        extra_args=["--model", profile.model_id, "--transport", face],
        serial_visible=profile.serial_visible,
    )
    (tmp / "home").mkdir()
    yield Subject(profile, key, face, tmp / "home", tmp, ykman_server)
    key.stop()


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.args}: rc={result.returncode}\n{result.stdout}{result.stderr}"
    return result.stdout


def refused(result: subprocess.CompletedProcess, says: str) -> None:
    assert result.returncode != 0, f"{result.args} succeeded:\n{result.stdout}"
    assert says in result.stderr, f"{result.args}: {result.stderr}"


def app_table(info: str) -> dict[str, list[str]]:
    """The `ykman info` application table: display name -> [USB status, (NFC status)]."""
    lines = info.splitlines()
    rows = lines[lines.index(next(x for x in lines if x.startswith("Applications"))) + 1:]
    table = {}
    for row in rows:
        if not row.strip():
            break
        name, *cells = [cell.strip() for cell in row.split("\t")]
        table[name] = cells
    return table


def expected_table(profile: FirmwareProfile, disabled: str | None = None) -> dict[str, list[str]]:
    def status(supported: frozenset[str], app: str) -> str:
        if app not in supported:
            return "Not available"
        return "Disabled" if app == disabled else "Enabled"

    return {
        shown: [status(profile.usb_capabilities, app)]
        + ([status(profile.nfc_capabilities, app)] if profile.nfc else [])
        for app, shown in APPS
    }


def hotp(secret: bytes, counter: int, digits: int = 6, digest: str = "sha1") -> str:
    """RFC 4226 section 5.3, here rather than taken from a library the emulator also uses."""
    mac = hmac.new(secret, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    return f"{(int.from_bytes(mac[offset:offset + 4], 'big') & 0x7FFFFFFF) % 10**digits:0{digits}d}"


def totp_codes(secret: bytes, start: float, end: float, digest: str = "sha1", period: int = 30) -> set[str]:
    """RFC 6238 codes of every time step between start and end (a step boundary may fall between)."""
    return {hotp(secret, step, 6, digest) for step in range(int(start) // period, int(end) // period + 1)}


def ykman_order(names: list[str]) -> list[str]:
    """yubikit Credential.__lt__: by (issuer or name), then name, ignoring case."""

    def key(name: str) -> tuple[str, str]:
        issuer, _, short = name.rpartition(":")
        return ((issuer or short).lower(), short.lower())

    return sorted(names, key=key)


# -- info ---------------------------------------------------------------------------------------


def test_info(subject):
    p = subject.profile
    out = ok(subject.ykman("info"))
    header = out.split("\n\n")[0].splitlines()
    expected = [f"Device type: {p.model_name}"]
    if p.serial_visible:
        expected.append(f"Serial number: {subject.serial}")
    expected.append(f"Firmware version: {p.version_text}")
    if p.version >= (5, 0, 0):
        # A YubiKey 4 reports no form factor (its device info has none), so ykman prints no line.
        expected.append(f"Form factor: {FORM_FACTOR_TEXT[p.form_factor]}")
    if subject.face == "usb":
        expected.append("Enabled USB interfaces: OTP, FIDO, CCID")  # from the reader's name, as ykman does
    if p.nfc:
        expected.append("NFC transport is enabled")
    assert header == expected
    assert app_table(out) == expected_table(p)


# -- config usb / nfc --------------------------------------------------------------------------


def test_config_usb_and_nfc_enable_disable(subject):
    p = subject.profile
    app = "OATH" if p.has_oath else "U2F"
    shown = dict(APPS)[app]
    if p.version < CONFIG_FROM:
        refused(subject.ykman("config", "usb", "--disable", app, "-f"), NO_CONFIG)
        refused(subject.ykman("config", "nfc", "--disable", app, "-f"), NO_NFC)
        assert app_table(ok(subject.ykman("info"))) == expected_table(p)
        return
    if not p.has_oath:  # what a Security Key lacks cannot be switched either
        refused(subject.ykman("config", "usb", "--disable", "OATH", "-f"),
                "OATH not supported over USB on this YubiKey.")
    out = ok(subject.ykman("config", "usb", "--disable", app, "-f"))
    assert "USB application configuration updated." in out
    if p.nfc:
        out = ok(subject.ykman("config", "nfc", "--disable", app, "-f"))
        assert "NFC application configuration updated." in out
    else:
        refused(subject.ykman("config", "nfc", "--disable", app, "-f"), NO_NFC)
    table = app_table(ok(subject.ykman("info")))
    assert table[shown] == ["Disabled"] * (2 if p.nfc else 1)
    assert table == expected_table(p, disabled=app)
    if p.nfc and p.has_oath:  # switched off over NFC, the applet is gone for this NFC reader
        refused(subject.ykman("oath", "accounts", "list"), NOT_AVAILABLE)

    ok(subject.ykman("config", "usb", "--enable", app, "-f"))
    if p.nfc:
        ok(subject.ykman("config", "nfc", "--enable", app, "-f"))
    assert app_table(ok(subject.ykman("info"))) == expected_table(p)
    if p.has_oath:
        ok(subject.ykman("oath", "accounts", "list"))


# -- OATH ---------------------------------------------------------------------------------------


def test_oath_accounts_add_list_code_rename_delete(subject):
    p = subject.profile
    y = subject.ykman
    if not p.has_oath:  # a Security Key has no OATH applet: SELECT fails, ykman says so
        refused(y("oath", "accounts", "list"), NOT_AVAILABLE)
        refused(y("oath", "accounts", "add", "-f", "alice", SECRET_B32), NOT_AVAILABLE)
        return
    ok(y("oath", "reset", "-f"))
    added = ok(y("oath", "accounts", "add", "-f", "-i", "Example", "alice", SECRET_B32))
    assert "OATH account added." in added
    ok(y("oath", "accounts", "add", "-f", "-o", "HOTP", "-d", "8", "counter", SECRET_B32))
    ok(y("oath", "accounts", "add", "-f", "-t", "touchy", SECRET_B32))
    sha512 = y("oath", "accounts", "add", "-f", "-a", "SHA512", "strong", SECRET_B32)
    names = ["Example:alice", "counter", "touchy"]
    if p.version >= SHA512_FROM:
        ok(sha512)
        names.append("strong")
    else:
        refused(sha512, "Algorithm SHA512 not supported on this YubiKey.")

    start = time.time()
    out = ok(y("oath", "accounts", "code"))
    end = time.time()
    codes = dict(line.split(None, 1) for line in out.splitlines())
    assert list(codes) == ykman_order(names)
    assert codes["Example:alice"] in totp_codes(SECRET, start, end)
    assert codes["counter"] == "[HOTP Account]"  # CALCULATE ALL never moves an HOTP counter
    assert codes["touchy"] == "[Requires Touch]"
    if "strong" in names:
        assert codes["strong"] in totp_codes(SECRET, start, end, "sha512")
    for counter in range(2):
        assert ok(y("oath", "accounts", "code", "-s", "counter")).strip() == hotp(SECRET, counter, 8)
    start = time.time()
    touched = ok(y("oath", "accounts", "code", "-s", "touchy")).strip()  # the key's sensor grants it
    assert touched in totp_codes(SECRET, start, time.time())

    renamed = y("oath", "accounts", "rename", "-f", "alice", "Example:bob")
    if p.version >= RENAME_FROM:
        assert "Renamed Example:alice to Example:bob." in ok(renamed)
        names[0] = "Example:bob"
    else:
        refused(renamed, "This action requires YubiKey 5.3.1 or later")
    assert "Deleted counter." in ok(y("oath", "accounts", "delete", "-f", "counter"))
    names.remove("counter")
    assert ok(y("oath", "accounts", "list")).split() == ykman_order(names)


def test_oath_capacity(subject):
    """As many accounts as Yubico documents for the firmware (32, 64 from 5.7), then ykman's refusal."""
    p = subject.profile
    if not p.has_oath:  # no applet, no room: ykman finds no OATH to fill
        refused(subject.ykman("oath", "accounts", "add", "-f", "filler-00", SECRET_B32), NOT_AVAILABLE)
        return
    ok(subject.ykman("oath", "reset", "-f"))
    capacity = 64 if p.version >= (5, 7, 0) else 32  # YubiKey Technical Manual, "OATH"
    for n in range(capacity):
        ok(subject.ykman("oath", "accounts", "add", "-f", f"filler-{n:02d}", SECRET_B32))
    refused(subject.ykman("oath", "accounts", "add", "-f", "one-too-many", SECRET_B32),
            "No space left on the YubiKey for OATH accounts.")
    assert len(ok(subject.ykman("oath", "accounts", "list")).split()) == capacity
    ok(subject.ykman("oath", "reset", "-f"))


def test_oath_access_change_list_without_and_with_password_then_reset(subject):
    p = subject.profile
    y = subject.ykman
    if not p.has_oath:
        refused(y("oath", "access", "change", "-n", PASSWORD), NOT_AVAILABLE)
        return
    assert "Reset complete" in ok(y("oath", "reset", "-f"))
    ok(y("oath", "accounts", "add", "-f", "guarded", SECRET_B32))
    assert "Password updated." in ok(y("oath", "access", "change", "-n", PASSWORD))
    refused(y("oath", "accounts", "list", input=""), "Aborted")  # ykman asks; nobody answers
    refused(y("oath", "accounts", "list", "-p", "not-it"),
            "Authentication to the YubiKey failed. Wrong password?")
    assert ok(y("oath", "accounts", "list", "-p", PASSWORD)).split() == ["guarded"]
    assert "Reset complete" in ok(y("oath", "reset", "-f"))  # no password needed: it erases everything
    assert ok(y("oath", "accounts", "list")) == ""


# -- OTP ----------------------------------------------------------------------------------------


def test_otp_slots(subject):
    p = subject.profile
    y = subject.ykman
    if "OTP" not in p.capabilities:  # a Security Key has no OTP applet: no connection serves it
        refused(y("otp", "info"), NO_CONNECTION)
        refused(y("otp", "chalresp", "2", RFC2202_KEY.hex(), "-f"), NO_CONNECTION)
        return
    assert ok(y("otp", "info")).splitlines()[:2] == ["Slot 1: empty", "Slot 2: empty"]

    # Yubico OTP in slot 1 (public id from the serial), HMAC-SHA1 challenge-response in slot 2.
    csv = subject.tmp / "yubiotp.csv"
    out = ok(y("otp", "yubiotp", "1", "--serial-public-id", "--generate-private-id", "--generate-key",
               "--config-output", str(csv), "-f"))
    public_id = b"\xff\x00" + subject.serial.to_bytes(4, "big")  # ykman: 0xff 0x00 + serial
    assert f"Using YubiKey serial as public ID: {to_modhex(public_id)}" in out
    serial_field, public_field, private_hex, key_hex = csv.read_text().strip().split(",")[:4]
    assert (serial_field, public_field) == (str(subject.serial), to_modhex(public_id))
    assert "stored in slot 2." in ok(y("otp", "chalresp", "2", RFC2202_KEY.hex(), "-f"))
    assert ok(y("otp", "info")).splitlines()[:2] == ["Slot 1: programmed", "Slot 2: programmed"]

    calculated = y("otp", "calculate", "2", RFC2202_CHALLENGE.hex())
    if subject.face == "nfc":
        assert ok(calculated).strip() == RFC2202_HMAC
    else:
        refused(calculated, NO_CONNECTION)  # USB: ykman wants the HID OTP interface for this
    pressed = subject.snapshot("after-yubiotp")
    session = YubiOtpSession(VirtualConnection(pressed))
    assert session.calculate_hmac_sha1(SLOT.TWO, RFC2202_CHALLENGE).hex() == RFC2202_HMAC

    # The button: genuine Yubico OTPs, decoded independently with the AES key ykman wrote out.
    aes_key = bytes.fromhex(key_hex)
    first, second = decode(pressed.press_button(1), aes_key), decode(pressed.press_button(1), aes_key)
    assert first.public_id == second.public_id == public_id
    assert first.private_id == second.private_id == bytes.fromhex(private_hex)
    assert (first.usage_counter, first.session_counter) == (1, 0)
    assert (second.usage_counter, second.session_counter) == (1, 1)
    pressed.reinsert()
    third = decode(pressed.press_button(1), aes_key)
    assert (third.usage_counter, third.session_counter) == (2, 0)

    # HOTP in slot 1 (token id "ubhe" + serial, read over the OTP applet), a static password in slot 2.
    assert "HOTP credential stored in slot 1." in ok(
        y("otp", "hotp", "1", SECRET_B32, "--identifier", "ubhe", "-f"))
    out = ok(y("otp", "static", "2", STATIC_PASSWORD, "-k", "us", "-f"))
    assert "Static password stored in slot 2." in out
    assert "Slots swapped." in ok(y("otp", "swap", "-f"))
    swapped = subject.snapshot("after-swap")
    assert swapped.press_button(1) == STATIC_PASSWORD
    token_id = "ubhe" + f"{subject.serial:08d}"
    assert [swapped.press_button(2) for _ in range(2)] == [token_id + code for code in RFC4226_CODES[:2]]

    assert "Configuration slot 1 deleted." in ok(y("otp", "delete", "1", "-f"))
    assert "Configuration slot 2 deleted." in ok(y("otp", "delete", "2", "-f"))
    assert ok(y("otp", "info")).splitlines()[:2] == ["Slot 1: empty", "Slot 2: empty"]
