"""The pcscd reader configuration shipped with the emulator (drivers/emulator/reader.conf.d)."""

from __future__ import annotations

import re

import pytest

from drivers.emulator import readers


def directives(text: str) -> dict[str, str]:
    """The reader.conf directives of one file (comments skipped), as pcscd reads them."""
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = re.split(r"\s+", line.strip(), maxsplit=1)
            found[key] = value.strip('"')
    return found


def test_shipped_readers_and_ports():
    stock = directives((readers.SHIPPED_DIR / "vpcd").read_text())
    usb = directives((readers.SHIPPED_DIR / "yubikey-usb").read_text())
    assert stock["FRIENDLYNAME"] == "Virtual PCD" and int(stock["CHANNELID"], 16) == 35963
    assert "Yubico YubiKey OTP+FIDO+CCID" in usb["FRIENDLYNAME"]
    # vpcd feeds slot n of a reader from port CHANNELID + n; the USB face must not share the stock ports.
    assert int(usb["CHANNELID"], 16) == readers.USB_PORT == 35965
    assert usb["DEVICENAME"].endswith(usb["CHANNELID"])
    assert usb["LIBPATH"] != stock["LIBPATH"]
    assert readers.reader_name(35963) == "Virtual PCD 00 00"
    assert readers.reader_name(35964) == "Virtual PCD 00 01"
    assert readers.reader_name(35965) == "Yubico YubiKey OTP+FIDO+CCID 00 00"


def test_prepare_config_dir_uses_a_copy_of_the_driver(tmp_path):
    fake_driver = tmp_path / "libifdvpcd.so"
    fake_driver.write_bytes(b"\x7fELF driver")
    conf = readers.prepare_config_dir(tmp_path / "out", driver=fake_driver)
    assert sorted(p.name for p in conf.iterdir()) == ["vpcd", "yubikey-usb"]
    usb = directives((conf / "yubikey-usb").read_text())
    copy = tmp_path / "out" / readers.DRIVER_COPY_NAME
    assert usb["LIBPATH"] == str(copy)
    assert not copy.is_symlink() and copy.read_bytes() == fake_driver.read_bytes()
    assert (conf / "vpcd").read_text() == (readers.SHIPPED_DIR / "vpcd").read_text()


@pytest.mark.skipif(not readers.STOCK_DRIVER.exists(), reason="vsmartcard-vpcd is not installed")
def test_prepare_config_dir_with_the_installed_driver(tmp_path):
    conf = readers.prepare_config_dir(tmp_path)
    assert (tmp_path / readers.DRIVER_COPY_NAME).stat().st_size == readers.STOCK_DRIVER.stat().st_size
    assert directives((conf / "vpcd").read_text())["LIBPATH"] == str(readers.STOCK_DRIVER)
