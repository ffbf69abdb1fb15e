"""The pcscd reader configuration the project ships: the stock vpcd readers plus the key's USB face.

`reader.conf.d/` beside this module holds two reader.conf files for `pcscd --config DIR`:

- `vpcd`: Debian's stock "Virtual PCD" readers on ports 35963/35964 (keys there answer as NFC keys);
- `yubikey-usb`: a vpcd reader named "Yubico YubiKey OTP+FIDO+CCID" on ports 35965/35966, where a key
  served with `--transport usb` (USB ATR) is found by plain `ykman list` and `ykman --device SERIAL ...`.

One pcscd serves all four readers. The USB reader must load its own copy of the vpcd driver (see the
comment in `yubikey-usb`), so the shipped file names a fixed copy location; `prepare_config_dir` writes
a usable directory anywhere, copying the driver beside it, which is what the test harness does.

For more keys at once, `prepare_config_dir` adds extra NFC-face readers "Virtual PCD 2", "Virtual PCD
3", ... (two slots each, on their own driver copy, ports from 35967 up). pcscd serves at most 16 reader
slots in all (PCSCLITE_MAX_READERS_CONTEXTS), so at most 6 extra readers fit beside the shipped ones.

    conf = prepare_config_dir(Path("/tmp/ts-readers"))
    pcscd --foreground --config /tmp/ts-readers/reader.conf.d
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

SHIPPED_DIR = Path(__file__).parent / "reader.conf.d"
STOCK_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
DRIVER_COPY_NAME = "libifdvpcd-yubikey.so"

NFC_PORT = 35963  # "Virtual PCD 00 00"
USB_PORT = 35965  # CHANNELID 0x8C7D of yubikey-usb
USB_READER_NAME = "Yubico YubiKey OTP+FIDO+CCID"
EXTRA_BASE_PORT = 35967  # first port of "Virtual PCD 2"; each extra reader takes two ports
DEFAULT_EXTRA_READERS = 3
MAX_EXTRA_READERS = 6  # 2 stock + 2 USB + 2 * 6 = 16 slots, pcscd's limit


def reader_name(port: int) -> str:
    """The name pcscd gives the reader slot fed by this port (shipped readers and the extra ones)."""
    if port in (USB_PORT, USB_PORT + 1):
        return f"{USB_READER_NAME} 00 {port - USB_PORT:02d}"
    if port >= EXTRA_BASE_PORT:
        reader, slot = divmod(port - EXTRA_BASE_PORT, 2)
        if reader >= MAX_EXTRA_READERS:
            raise ValueError(f"port {port} feeds no reader (last is {nfc_ports(MAX_EXTRA_READERS)[-1]})")
        return f"Virtual PCD {reader + 2} 00 {slot:02d}"
    if port not in (NFC_PORT, NFC_PORT + 1):
        raise ValueError(f"port {port} feeds no reader (vpcd ports start at {NFC_PORT})")
    return f"Virtual PCD 00 {port - NFC_PORT:02d}"


def nfc_ports(extra_readers: int = DEFAULT_EXTRA_READERS) -> list[int]:
    """The ports of every NFC-face slot: the stock two, then two per extra reader."""
    return [NFC_PORT, NFC_PORT + 1, *range(EXTRA_BASE_PORT, EXTRA_BASE_PORT + 2 * extra_readers)]


def _extra_reader_conf(number: int, libpath: Path) -> str:
    channel = EXTRA_BASE_PORT + 2 * (number - 2)
    return (
        f"# Extra NFC-face reader {number}, written by drivers.emulator.readers.prepare_config_dir:\n"
        f"# slots on ports {channel} and {channel + 1}, on its own copy of the vpcd driver.\n"
        f'FRIENDLYNAME "Virtual PCD {number}"\n'
        f"DEVICENAME   /dev/null:0x{channel:04X}\n"
        f"LIBPATH      {libpath}\n"
        f"CHANNELID    0x{channel:04X}\n"
    )


def prepare_config_dir(
    dest: Path, driver: Path = STOCK_DRIVER, extra_readers: int = DEFAULT_EXTRA_READERS
) -> Path:
    """Write the shipped reader.conf files to dest/reader.conf.d, the USB reader on a copy of the driver,
    plus `extra_readers` NFC-face readers "Virtual PCD 2", ... each on its own copy.

    Returns the directory to pass to `pcscd --config`.
    """
    if not 0 <= extra_readers <= MAX_EXTRA_READERS:
        raise ValueError(f"extra_readers must be 0 to {MAX_EXTRA_READERS} (pcscd serves 16 slots at most)")
    conf_dir = Path(dest) / "reader.conf.d"
    conf_dir.mkdir(parents=True, exist_ok=True)
    copy = Path(dest) / DRIVER_COPY_NAME
    shutil.copyfile(driver, copy)  # a copy, not a link: its own static slot table (see yubikey-usb)
    for number in range(2, extra_readers + 2):
        extra_copy = Path(dest) / f"libifdvpcd-extra-{number}.so"
        shutil.copyfile(driver, extra_copy)
        conf = _extra_reader_conf(number, extra_copy)
        (conf_dir / f"vpcd-extra-{number}").write_text(conf, encoding="utf-8")
    for source in sorted(SHIPPED_DIR.iterdir()):
        if not source.is_file():
            continue
        text = source.read_text(encoding="utf-8")
        if source.name == "yubikey-usb":
            text = re.sub(r"(?m)^LIBPATH\s+.*$", f"LIBPATH      {copy}", text)
        (conf_dir / source.name).write_text(text, encoding="utf-8")
    return conf_dir
