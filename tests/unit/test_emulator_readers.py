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
    conf = readers.prepare_config_dir(tmp_path / "out", driver=fake_driver, extra_readers=2)
    assert sorted(p.name for p in conf.iterdir()) == ["vpcd", "vpcd-extra-2", "vpcd-extra-3", "yubikey-usb"]
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


def test_extra_readers_have_their_own_driver_copy_and_ports(tmp_path):
    fake_driver = tmp_path / "libifdvpcd.so"
    fake_driver.write_bytes(b"\x7fELF driver")
    conf = readers.prepare_config_dir(tmp_path / "out", driver=fake_driver, extra_readers=3)
    extras = [directives((conf / f"vpcd-extra-{n}").read_text()) for n in (2, 3, 4)]
    assert [e["FRIENDLYNAME"] for e in extras] == ["Virtual PCD 2", "Virtual PCD 3", "Virtual PCD 4"]
    assert [int(e["CHANNELID"], 16) for e in extras] == [35967, 35969, 35971]
    libs = {e["LIBPATH"] for e in extras} | {directives((conf / "yubikey-usb").read_text())["LIBPATH"]}
    assert len(libs) == 4  # one driver copy per reader: vpcd's slot table is static per library
    assert readers.nfc_ports(3) == [35963, 35964, 35967, 35968, 35969, 35970, 35971, 35972]
    assert readers.reader_name(35968) == "Virtual PCD 2 00 01"
    assert readers.reader_name(35971) == "Virtual PCD 4 00 00"


def test_ports_and_counts_out_of_range_are_refused(tmp_path):
    with pytest.raises(ValueError, match="feeds no reader"):
        readers.reader_name(35962)
    with pytest.raises(ValueError, match="feeds no reader"):
        readers.reader_name(35967 + 2 * readers.MAX_EXTRA_READERS)
    with pytest.raises(ValueError, match="16 slots"):
        readers.prepare_config_dir(tmp_path, extra_readers=readers.MAX_EXTRA_READERS + 1)


@pytest.mark.parametrize(("model", "transport", "says"), [
    ("yubikey-5ci", "nfc", "has no NFC"),
    ("yubikey-4", "nfc", "has no NFC"),
    ("security-key-nfc", "usb", "no smart-card (CCID) interface over USB"),
])
def test_serve_refuses_a_face_the_model_does_not_have(model, transport, says):
    from drivers.emulator import serve

    firmware = "4.3.7" if model == "yubikey-4" else "5.4.3"
    with pytest.raises(ValueError, match=re.escape(says)):  # before it ever connects to vpcd
        serve(1, firmware, model=model, transport=transport, port=1)
