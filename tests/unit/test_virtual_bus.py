"""drivers/ over the in-process bus: recognition, OATH writes, busy readers and pulled keys.

The same discovery and OATH code runs over pcscd in tests/integration; here the bus is the only
stand-in, and the key on it is the virtual YubiKey answering real APDUs.
"""

import pytest

from drivers.discovery import find_key, scan
from drivers.emulator import VirtualYubiKey
from drivers.emulator.bus import VirtualBus
from drivers.errors import KeyBusyError, KeyNotFoundError, KeyRemovedError
from drivers.oath import TotpSpec, open_oath


def test_keys_are_recognised_by_talking_to_them():
    bus = VirtualBus(readers=3)
    bus.insert(VirtualYubiKey.open(20000001, "5.4.3"))
    bus.insert(VirtualYubiKey.open(20000002, "5.7.1", model="yubikey-5c-nfc"))
    keys, busy = scan(bus)
    assert busy == []
    assert [(k.serial, k.model, k.firmware) for k in keys] == [
        (20000001, "YubiKey 5 NFC", "5.4.3"),
        (20000002, "YubiKey 5C NFC", "5.7.1"),
    ]
    assert keys[0].oath_credentials == 0


def test_missing_busy_and_pulled_keys_are_typed_errors():
    bus = VirtualBus()
    key = VirtualYubiKey.open(20000003)
    reader = bus.insert(key)
    with pytest.raises(KeyNotFoundError, match="present: 20000003"):
        find_key(1, bus)
    bus.hold(reader)
    with pytest.raises(KeyBusyError, match="busy"):
        find_key(20000003, bus)
    bus.hold(reader, busy=False)
    key.pull_on(0x01)  # pulled when the OATH PUT arrives
    with open_oath(20000003, bus) as oath, pytest.raises(KeyRemovedError, match="being written"):
        oath.put_totp(TotpSpec("Token Station", "alice", b"k" * 20))
    with pytest.raises(KeyNotFoundError):  # the pulled key no longer answers in its reader
        find_key(20000003, bus)
    bus.remove(key)
    key.pull_on(None)
    bus.insert(key)
    with open_oath(20000003, bus) as oath:
        assert oath.credential_ids() == []  # the half-sent PUT was never applied
