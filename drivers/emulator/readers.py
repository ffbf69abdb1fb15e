"""The pcscd reader configuration the project ships: the stock vpcd readers plus the key's USB face.

`reader.conf.d/` beside this module holds two reader.conf files for `pcscd --config DIR`:

- `vpcd`: Debian's stock "Virtual PCD" readers on ports 35963/35964 (keys there answer as NFC keys);
- `yubikey-usb`: a vpcd reader named "Yubico YubiKey OTP+FIDO+CCID" on ports 35965/35966, where a key
  served with `--transport usb` (USB ATR) is found by plain `ykman list` and `ykman --device SERIAL ...`.

One pcscd serves all four readers. The USB reader must load its own copy of the vpcd driver (see the
comment in `yubikey-usb`), so the shipped file names a fixed copy location; `prepare_config_dir` writes
a usable directory anywhere, copying the driver beside it, which is what the test harness does:

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


def reader_name(port: int) -> str:
    """The name pcscd gives the reader slot fed by this port under the shipped configuration."""
    if port in (USB_PORT, USB_PORT + 1):
        return f"{USB_READER_NAME} 00 {port - USB_PORT:02d}"
    return f"Virtual PCD 00 {port - NFC_PORT:02d}"


def prepare_config_dir(dest: Path, driver: Path = STOCK_DRIVER) -> Path:
    """Write the shipped reader.conf files to dest/reader.conf.d, the USB reader on a copy of the driver.

    Returns the directory to pass to `pcscd --config`.
    """
    conf_dir = Path(dest) / "reader.conf.d"
    conf_dir.mkdir(parents=True, exist_ok=True)
    copy = Path(dest) / DRIVER_COPY_NAME
    shutil.copyfile(driver, copy)  # a copy, not a link: its own static slot table (see yubikey-usb)
    for source in sorted(SHIPPED_DIR.iterdir()):
        if not source.is_file():
            continue
        text = source.read_text(encoding="utf-8")
        if source.name == "yubikey-usb":
            text = re.sub(r"(?m)^LIBPATH\s+.*$", f"LIBPATH      {copy}", text)
        (conf_dir / source.name).write_text(text, encoding="utf-8")
    return conf_dir
