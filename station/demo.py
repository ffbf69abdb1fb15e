"""`station demo`: the kiosk on a virtual YubiKey, for a first look and for training.

Starts pcscd if none runs, serves a virtual YubiKey 5 NFC on the first vpcd reader, creates a demo
station the first time, runs the kiosk, and on exit stops only what it started. The virtual key's
state and the demo station live in the demo data directory, so a second run continues where the
first stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from drivers import pcscd
from drivers.bus import PCSC, KeyBus
from drivers.discovery import list_keys
from drivers.errors import DriverError
from drivers.oath import TotpSpec, open_oath

from .core import init_station
from .datadir import config_path
from .errors import DeviceError
from .inventory.admin import enrol_operator
from .operators.credentials import OPERATOR_ISSUER

DEMO_PASSPHRASE = "demo passphrase - not for real tokens"  # noqa: S105 - published on purpose
DEMO_SERIAL = 20261203
DEMO_CUSTODIAN = "carol"
DEMO_ADMIN = "demo-admin"
DEMO_PIN = "demo-pin-2468"  # noqa: S105 - published on purpose: the demo's operators' PIN


def _wait_for_key(serial: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DeviceError("The virtual YubiKey stopped at start.", "Run 'station emulator serve -v'.")
        try:
            if any(k.serial == serial for k in list_keys()):
                return
        except DriverError:
            pass
        time.sleep(0.1)
    raise DeviceError("The virtual YubiKey did not appear in pcscd.",
                      "Check that vsmartcard-vpcd is installed (/etc/reader.conf.d/vpcd).")


def create_demo_station(
    data_dir: Path, passphrase: str, bus: KeyBus = PCSC, serial: int = DEMO_SERIAL
) -> None:
    """The demo station: its admin and custodian sign in with TOTP credentials on the demo key itself."""
    from .operators.credentials import program_yubikey_token, set_credentials
    from .operators.signin import sign_in

    admin_token = program_yubikey_token(bus, serial, DEMO_ADMIN, "totp")
    station = init_station(data_dir, "demo-branch", passphrase, admin=DEMO_ADMIN, admin_pin=DEMO_PIN,
                           admin_token=admin_token, bus=bus)
    station.init_envelope = None  # a demo has no safe; a real station prints it at `station init`
    with open_oath(serial, bus) as key:
        cred = TotpSpec(OPERATOR_ISSUER, DEMO_ADMIN, b"").credential_id()
        code = key.calculate(cred, int(station.now().timestamp()))
    admin = sign_in(station, DEMO_ADMIN, DEMO_PIN, code)
    enrol_operator(station, DEMO_CUSTODIAN, "custodian", operator=admin)
    set_credentials(station, DEMO_CUSTODIAN, pin=DEMO_PIN,
                    token=program_yubikey_token(bus, serial, DEMO_CUSTODIAN, "totp"), operator=admin)
    station.close()


def run_demo(data_dir: Path, kiosk: Callable[[Path], int], serial: int = DEMO_SERIAL) -> int:
    """Run the kiosk (passed in by the CLI: station/ never imports the tui) on a virtual key."""
    passphrase = os.environ.setdefault("STATION_PASSPHRASE", DEMO_PASSPHRASE)
    data_dir.mkdir(parents=True, exist_ok=True)
    daemon = pcscd.start()
    key = subprocess.Popen(  # noqa: S603 - our own module, no shell
        [sys.executable, "-m", "drivers.emulator", "--serial", str(serial),
         "--state", str(data_dir / f"virtual-key-{serial}.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_key(serial, key)
        if not config_path(data_dir).exists():
            create_demo_station(data_dir, passphrase, serial=serial)
        print(f"Demo: sign in as {DEMO_CUSTODIAN} (or {DEMO_ADMIN}) with PIN {DEMO_PIN} and the code from"
              " ykman --reader 'Virtual PCD 00 00' oath accounts code"
              f" 'Token Station operator:{DEMO_CUSTODIAN}'")
        return kiosk(data_dir)
    finally:
        key.terminate()
        key.wait(10)
        pcscd.stop(daemon)
        stopped = "the virtual key" + (" and pcscd" if daemon is not None else "")
        print(f"Demo ended: {stopped} stopped; the demo station stays in {data_dir}.")
