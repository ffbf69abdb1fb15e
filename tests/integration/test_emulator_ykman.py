"""The virtual YubiKey through the real PC/SC stack, judged by Yubico's real ykman CLI."""

from __future__ import annotations

import time

import pcsc_harness
import pyotp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits, base32


def ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_info_shows_serial_and_firmware(virtual_key):
    # Through the installed `ykman` console script itself (the other tests fork ykman's main()).
    key = virtual_key(serial=31415926)
    out = ok(pcsc_harness.run_ykman(key.reader, "info"))
    assert "Device type: YubiKey 5 NFC" in out
    assert "Serial number: 31415926" in out
    assert "Firmware version: 5.4.3" in out
    assert "OATH" in out


def test_info_newer_firmware(virtual_key, ykman):
    key = virtual_key(serial=27182818, firmware="5.7.1")
    out = ok(ykman(key.reader, "info"))
    assert "Serial number: 27182818" in out
    assert "Firmware version: 5.7.1" in out


def test_oath_add_list_code_delete(virtual_key, ykman):
    key = virtual_key(serial=1001)
    ok(ykman(key.reader, "oath", "accounts", "add", "-i", "Example", "alice", SECRET))
    ok(ykman(key.reader, "oath", "accounts", "add", "-o", "HOTP", "counter", SECRET))
    listed = ok(ykman(key.reader, "oath", "accounts", "list")).split()
    assert listed == ["counter", "Example:alice"]  # ykman sorts by issuer, else name

    totp = pyotp.TOTP(SECRET)
    before = totp.at(time.time())
    out = ok(ykman(key.reader, "oath", "accounts", "code", "alice"))
    after = totp.at(time.time())
    name, code = out.split()
    assert name == "Example:alice"
    assert code in (before, after)  # a period boundary may fall between the calls

    hotp = pyotp.HOTP(SECRET)
    for counter in range(3):
        out = ok(ykman(key.reader, "oath", "accounts", "code", "counter"))
        assert out.split() == ["counter", hotp.at(counter)]

    ok(ykman(key.reader, "oath", "accounts", "delete", "alice", "--force"))
    assert ok(ykman(key.reader, "oath", "accounts", "list")).split() == ["counter"]


def test_two_keys_at_once(virtual_key, ykman):
    first = virtual_key(serial=2001, port=35963)
    second = virtual_key(serial=2002, port=35964)
    assert (first.reader, second.reader) == ("Virtual PCD 00 00", "Virtual PCD 00 01")
    assert "Serial number: 2001" in ok(ykman(first.reader, "info"))
    assert "Serial number: 2002" in ok(ykman(second.reader, "info"))
    ok(ykman(second.reader, "oath", "accounts", "add", "only-on-second", SECRET))
    assert ok(ykman(first.reader, "oath", "accounts", "list")).split() == []
    assert ok(ykman(second.reader, "oath", "accounts", "list")).split() == ["only-on-second"]


def test_key_survives_restart(virtual_key, ykman):
    key = virtual_key(serial=3001)
    ok(ykman(key.reader, "oath", "accounts", "add", "kept", SECRET))
    key.stop()
    again = virtual_key(serial=3001, state=key.state_path)
    assert ok(ykman(again.reader, "oath", "accounts", "list")).split() == ["kept"]


def test_pull_during_put_loses_the_write(virtual_key, ykman):
    key = virtual_key(serial=4001)
    ok(ykman(key.reader, "oath", "accounts", "add", "before", SECRET))
    key.stop()
    saved = key.state_path.read_bytes()

    pulled = virtual_key(serial=4001, state=key.state_path, extra_args=["--pull-on-ins", "01"])
    result = ykman(pulled.reader, "oath", "accounts", "add", "lost", SECRET)
    assert result.returncode != 0
    assert pulled.wait_exit() == 0
    pulled.wait_removed()
    assert "pulled on INS 01" in pulled.log()
    assert key.state_path.read_bytes() == saved

    # The key as it comes back, into the same reader, holds only what was there before the pull.
    back = virtual_key(serial=4001, state=key.state_path)
    assert ok(ykman(back.reader, "oath", "accounts", "list")).split() == ["before"]
