"""Refusals that come from firmware profiles, and model names, over pcscd with the station CLI.

A Security Key has no OATH application and a YubiKey 4 on 4.2 has no SHA-512: the station refuses
both before writing anything, so the ledger is exactly as it was. `station devices` names each model as
yubikit names the real key, and shows the OATH capacity its profile gives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pcsc_harness
import pytest
from pcsc_harness import VPCD_BASE_PORT
from station_cli import StationCli, action_rows

PASS = "correct horse battery"
STATION = Path(sys.executable).parent / "station"
SERIAL = 31337101


CLI: list[StationCli] = []


def run(data: Path, *args: str, as_: str | None = None) -> subprocess.CompletedProcess:
    """The station CLI; `--custodian carol` (or as_) signs carol in with her test token, as a script would."""
    who = as_ or (args[args.index("--custodian") + 1] if "--custodian" in args else None)
    return CLI[-1].run(*args, as_=who, data=data)


def ledger_rows(data: Path) -> list[tuple]:
    return action_rows(data)  # a refused issue leaves everything but the custodian's sign-in as it was


@pytest.fixture
def data(tmp_path):
    data = tmp_path / "station"
    cli = StationCli(data, tmp_path)
    CLI.append(cli)
    result = cli.init()
    assert result.returncode == 0, result.stderr
    # The custodian handing out tokens is an enrolled operator with her own (test) token.
    cli.add_operator("carol", "custodian")
    return data


def test_security_key_refused_ledger_unchanged(data, virtual_key, ykman):
    key = virtual_key(SERIAL, extra_args=["--model", "security-key-nfc-ee"])
    before = ledger_rows(data)
    result = run(data, "issue", "--serial", str(SERIAL), "--owner", "alice", "--custodian", "carol")
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"Key {SERIAL} (Security Key NFC - Enterprise Edition) has no OATH application: "
        "it cannot hold a TOTP credential." in result.stderr
    )
    assert "YubiKey 5" in result.stderr  # the hint says what to do instead
    assert ledger_rows(data) == before
    # ykman agrees the key has no OATH application.
    info = ykman(key.reader, "info")
    assert info.returncode == 0, info.stderr
    assert "Security Key NFC" in info.stdout
    assert ykman(key.reader, "oath", "accounts", "list").returncode != 0


def test_sha512_refused_on_firmware_without_it(data, virtual_key, tmp_path):
    # A YubiKey 4 has no NFC: a PC/SC host meets it through its USB CCID interface.
    if not pcsc_harness.usb_face_available():
        pytest.skip("the running pcscd does not serve the project's USB-face reader")
    virtual_key(SERIAL, firmware="4.2.6", port=pcsc_harness.USB_PORT,
                extra_args=["--model", "yubikey-4", "--transport", "usb"])
    before = ledger_rows(data)
    result = run(
        data,
        "issue",
        "--serial",
        str(SERIAL),
        "--owner",
        "alice",
        "--custodian",
        "carol",
        "--algorithm",
        "SHA512",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Key {SERIAL} (YubiKey 4, firmware 4.2.6) cannot hold a SHA512 credential." in result.stderr
    assert ledger_rows(data) == before
    # Nor the key: its state file (the fixture keeps it under tmp_path) holds no credential.
    state = json.loads((tmp_path / f"key-{SERIAL}.json").read_text(encoding="utf-8"))
    assert state["oath"]["credentials"] == []


def test_devices_json_names_models(data, virtual_key):
    virtual_key(SERIAL, extra_args=["--model", "yubikey-5-nfc-fips"])
    virtual_key(
        SERIAL + 1, firmware="5.7.1", port=VPCD_BASE_PORT + 1, extra_args=["--model", "security-key-nfc-ee"]
    )
    shown = run(data, "devices", "--json")
    assert shown.returncode == 0, shown.stderr
    models = {k["serial"]: (k["model"], k["firmware"], k["profile"], k["oath_capacity"])
              for k in json.loads(shown.stdout)}
    assert models == {  # capacity and profile from firmware_profiles/, the rest as the key reports it
        SERIAL: ("YubiKey 5 NFC FIPS", "5.4.3", "yubikey-5-nfc-fips", 32),
        SERIAL + 1: ("Security Key NFC - Enterprise Edition", "5.7.1", "security-key-nfc-ee", None),
    }
    text = run(data, "devices").stdout
    assert "OATH credentials: 0 of 32" in text and "OATH credentials: none (no OATH application)" in text
