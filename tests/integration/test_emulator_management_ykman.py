"""Management through the real ykman CLI: `ykman config ...` on both faces of the virtual key.

The NFC face is the stock "Virtual PCD 00 00" reader; the USB face is the project's reader
"Yubico YubiKey OTP+FIDO+CCID 00 00" (drivers/emulator/reader.conf.d/yubikey-usb), which the pcscd the
harness starts serves beside the stock ones. A pcscd the harness did not start may lack it: the USB
tests skip then.
"""

from __future__ import annotations

import pcsc_harness
import pytest

LOCK = "00112233445566778899aabbccddeeff"
NOT_ENABLED = "not enabled or not available"


def ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def failed(result):
    assert result.returncode != 0, f"unexpected success:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def enabled_line(info: str, app: str) -> list[str]:
    """The `ykman info` table row of one application: [usb, nfc]."""
    line = next(x for x in info.splitlines() if x.startswith(app))
    return [cell.strip() for cell in line.split("\t")[1:]]


@pytest.fixture
def usb_key(virtual_key, pcscd):
    """Start a key on the USB face (USB ATR behind the Yubico-named reader)."""
    if not pcsc_harness.usb_face_available():
        pytest.skip("the running pcscd does not serve the project's USB-face reader")

    def start(serial: int, **kwargs):
        return virtual_key(serial, port=pcsc_harness.USB_PORT, extra_args=["--transport", "usb"], **kwargs)

    return start


def test_nfc_disable_and_enable_oath(virtual_key, ykman):
    key = virtual_key(serial=4100001)
    out = ok(ykman(key.reader, "config", "nfc", "--disable", "OATH", "-f"))
    assert "NFC application configuration updated." in out
    assert enabled_line(ok(ykman(key.reader, "info")), "OATH") == ["Enabled", "Disabled"]
    assert NOT_ENABLED in failed(ykman(key.reader, "oath", "accounts", "list"))
    ok(ykman(key.reader, "config", "nfc", "--enable", "OATH", "-f"))
    ok(ykman(key.reader, "oath", "accounts", "list"))


def test_usb_setting_over_nfc_leaves_nfc_alone(virtual_key, ykman):
    key = virtual_key(serial=4100002)
    out = ok(ykman(key.reader, "config", "usb", "--disable", "OATH", "-f"))
    assert "USB application configuration updated." in out
    assert enabled_line(ok(ykman(key.reader, "info")), "OATH") == ["Disabled", "Enabled"]
    ok(ykman(key.reader, "oath", "accounts", "list"))  # over NFC, as on a real key
    # The setting persisted: a restart of the key from its state file keeps it.
    key.stop()
    again = virtual_key(serial=4100002, state=key.state_path)
    assert enabled_line(ok(ykman(again.reader, "info")), "OATH") == ["Disabled", "Enabled"]


def test_lock_code(virtual_key, ykman):
    key = virtual_key(serial=4100003)
    assert "Lock code updated." in ok(ykman(key.reader, "config", "set-lock-code", "-n", LOCK, "-f"))
    assert "Configured capabilities are protected by a lock code" in ok(ykman(key.reader, "info"))
    out = failed(ykman(key.reader, "config", "nfc", "--disable", "OATH", "-f"))
    assert "Configuration is locked - supply the --lock-code option." in out
    wrong = "ff" * 16
    out = failed(ykman(key.reader, "config", "nfc", "--disable", "OATH", "-f", "--lock-code", wrong))
    assert "Failed to configure NFC applications." in out  # the key refused it
    ok(ykman(key.reader, "config", "nfc", "--disable", "OATH", "-f", "--lock-code", LOCK))
    assert enabled_line(ok(ykman(key.reader, "info")), "OATH") == ["Enabled", "Disabled"]
    out = failed(ykman(key.reader, "config", "set-lock-code", "--clear", "-l", wrong, "-f"))
    assert "Failed to change the lock code. Wrong current code?" in out
    ok(ykman(key.reader, "config", "set-lock-code", "--clear", "-l", LOCK, "-f"))
    assert "protected by a lock code" not in ok(ykman(key.reader, "info"))


def test_usb_face_found_without_reader(usb_key, ykman):
    key = usb_key(4100004)
    assert key.reader == "Yubico YubiKey OTP+FIDO+CCID 00 00"
    assert "YubiKey 5 NFC (5.4.3) [OTP+FIDO+CCID] Serial: 4100004" in ok(ykman(None, "list"))
    assert ok(ykman(None, "list", "--serials")).split() == ["4100004"]
    out = ok(ykman(None, "--device", "4100004", "info"))
    assert "Serial number: 4100004" in out
    assert "Firmware version: 5.4.3" in out


def test_usb_disable_oath_on_the_usb_face(usb_key, ykman):
    key = usb_key(4100005)
    ok(ykman(key.reader, "config", "usb", "--disable", "OATH", "-f"))
    assert enabled_line(ok(ykman(key.reader, "info")), "OATH") == ["Disabled", "Enabled"]
    assert NOT_ENABLED in failed(ykman(key.reader, "oath", "accounts", "list"))
    ok(ykman(key.reader, "config", "usb", "--enable", "OATH", "-f"))
    ok(ykman(key.reader, "oath", "accounts", "list"))


def test_usb_interface_change_reboots_the_key(usb_key, ykman):
    key = usb_key(4100006)
    before = pcsc_harness.event_count(key.reader)
    out = ok(ykman(key.reader, "config", "usb", "--disable", "OTP", "-f"))
    assert "The YubiKey will reboot" in out
    # The key leaves the reader and comes back (pcscd counts the events) with OTP off.
    pcsc_harness.wait_for(
        lambda: (
            pcsc_harness.event_count(key.reader) not in (None, before)
            and pcsc_harness.read_serial(key.reader) == 4100006
        ),
        15,
        "the key to come back after its reboot",
    )
    assert enabled_line(ok(ykman(key.reader, "info")), "Yubico OTP") == ["Disabled", "Enabled"]
    assert "rebooting" in key.log()
