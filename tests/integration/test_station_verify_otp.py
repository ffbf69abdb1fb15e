"""End to end over pcscd: a virtual key's Yubico OTP slot and OATH credential, both written by the
station at issue, are verified by the station, offline, once each.

The real stack throughout: the `station` console script (carol signs in with her test token, as a
script would), pcscd and vpcd with the virtual key in its own process, and Yubico's ykman CLI as the
independent reader of the key (its OATH code, its OTP slot status). A button press cannot travel
through pcscd: the test stops the emulator and presses in-process on the same state file, which is
the same key (as tests/integration/test_emulator_otp_ykman.py does).
"""

from __future__ import annotations

import json

import pytest
from station_cli import StationCli
from yubikit.core.otp import modhex_encode

from drivers.emulator import VirtualYubiKey

SERIAL = 31337301
PROFILE = "yubikey-oath-totp-otp"


@pytest.fixture
def cli(tmp_path):
    cli = StationCli(tmp_path / "station", tmp_path)
    assert cli.init().returncode == 0
    cli.add_operator("carol", "custodian")
    return cli


def ok(result) -> dict:
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def test_a_virtual_keys_yubico_otp_slot_and_oath_credential_are_verified_by_the_station(
    cli, virtual_key, ykman
):
    key = virtual_key(SERIAL)
    issued = ok(
        cli.run(
            "issue", "--serial", str(SERIAL), "--owner", "alice", "--profile", PROFILE, "--json", as_="carol"
        )
    )
    public_id = modhex_encode(b"\xff\x00" + SERIAL.to_bytes(4, "big"))
    assert issued["yubico_otp_public_id"] == public_id
    info = ykman(key.reader, "otp", "info")
    assert info.returncode == 0 and info.stdout.splitlines()[0] == "Slot 1: programmed", info.stderr

    # The OATH credential, read by ykman, verified once.
    out = ykman(key.reader, "oath", "accounts", "code", "--single", "Token Station:alice")
    code = out.stdout.strip()
    assert out.returncode == 0 and code.isdigit() and len(code) == 6, out.stderr
    accepted = ok(cli.run("verify", "--owner", "alice", "--code", code, "--json", as_="carol"))
    assert (accepted["kind"], accepted["serial"]) == ("totp", SERIAL)
    replay = cli.run("verify", "--owner", "alice", "--code", code, as_="carol")
    assert replay.returncode == 3 and "already used" in replay.stderr

    # The Yubico OTP slot: the key's own button, typed OTPs verified by their public id alone.
    key.stop()
    pressing = VirtualYubiKey.open(SERIAL, state_path=key.state_path)
    first, second = pressing.press_button(1), pressing.press_button(1)
    assert first.startswith(public_id) and len(first) == 44
    accepted = ok(cli.run("verify", "--code", second, "--json", as_="carol"))
    assert (accepted["kind"], accepted["owner"], accepted["serial"]) == ("yubico-otp", "alice", SERIAL)
    for again, says in ((second, "already used"), (first, "older than one already used")):
        refused = cli.run("verify", "--owner", "alice", "--code", again, as_="carol")
        assert refused.returncode == 3 and says in refused.stderr, refused.stderr
    third = pressing.press_button(1)
    upper = ok(cli.run("verify", "--owner", "alice", "--code", third.upper(), "--json", as_="carol"))
    assert (upper["kind"], upper["serial"]) == ("yubico-otp", SERIAL)  # typed with Caps Lock on

    events = [
        (e["type"], e["body"].get("kind"), e["body"].get("reason"))
        for e in ok(cli.run("ledger", "show", "--json"))
        if e["type"].startswith("otp.")
    ]
    assert events == [
        ("otp.accepted", None, None),
        ("otp.rejected", None, "replay"),
        ("otp.accepted", "yubico-otp", None),
        ("otp.rejected", "yubico-otp", "replay"),
        ("otp.rejected", "yubico-otp", "older code"),
        ("otp.accepted", "yubico-otp", None),
    ]
    assert cli.run("ledger", "verify").returncode == 0
