"""`station demo` creates a station whose admin and custodian sign in with TOTP credentials on the demo
key itself (here a virtual key on the in-process bus; the demo serves the same key through pcscd)."""

from yubikit.oath import OathSession

from drivers.emulator import VirtualYubiKey
from drivers.emulator.bus import VirtualBus
from drivers.emulator.connection import VirtualConnection
from station.core import open_station
from station.demo import DEMO_PASSPHRASE, DEMO_PIN, DEMO_SERIAL, create_demo_station
from station.operators.signin import sign_in


def test_the_demo_operators_sign_in_with_codes_from_the_demo_key(tmp_path):
    bus = VirtualBus()
    key = VirtualYubiKey.open(DEMO_SERIAL)
    bus.insert(key)
    create_demo_station(tmp_path / "demo", DEMO_PASSPHRASE, bus)
    station = open_station(tmp_path / "demo", DEMO_PASSPHRASE, bus=bus)
    oath = OathSession(VirtualConnection(key))
    cred = next(c for c in oath.list_credentials() if c.id == b"Token Station operator:carol")
    step = int(station.now().timestamp()) // 30 + 1  # the admin used the current step at set-up
    code = oath.calculate_code(cred, step * 30).value
    assert sign_in(station, "carol", DEMO_PIN, code).operator == "carol"
    station.close()
