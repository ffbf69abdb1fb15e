"""Exports are written only where the operator says, encrypted, 0600, recorded without secrets; and no
secret reaches any other file the station writes (data dir, ledger, exports' neighbours, CLI output).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pskc
import pytest
from desk_fixtures import op
from idp_helpers import (
    AES_KEY,
    PASSWORD,
    PRIVATE_ID,
    RFC_SECRET,
    YK_SERIAL,
    drive,
    populated,
    sign_in_for,
)

from station.cli import main
from station.errors import InputError, StationError
from station.idp.exports import ExportRequest, export_tokens
from station.idp.selection import Selection
from station.idp.token_seeds import Owner
from station.inventory.roles import NotPermitted
from station.seedfiles.encoding import base32_encode, modhex_encode

SEVEN_ZIP = shutil.which("7zz") or shutil.which("7z")


def request(fmt, to, *serials, **kw):
    kw.setdefault("password", PASSWORD)
    return ExportRequest(fmt, to, Selection(serials=serials or (str(YK_SERIAL),)), **kw)


def forms(secret: bytes) -> list[bytes]:
    """Every way a secret is commonly written: raw, hex, base32, base64, modhex."""
    texts = [
        secret.hex(),
        secret.hex().upper(),
        base32_encode(secret),
        base64.b64encode(secret).decode(),
        modhex_encode(secret),
    ]
    return [secret, *(t.encode() for t in texts)]


def secrets_of(desk) -> list[bytes]:
    db = desk.station.ledger.db
    records = [
        r[0] for r in db.execute("SELECT vault_record FROM credentials UNION SELECT vault_record FROM seeds")
    ]
    found = [desk.station.secret(r) for r in records]
    return [*found, RFC_SECRET, AES_KEY, PRIVATE_ID, PASSWORD.encode()]


def scan(paths, secrets) -> list[str]:
    hits = []
    for path in paths:
        data = path.read_bytes()
        for secret in secrets:
            for form in forms(secret):
                if len(form) >= 6 and form in data:
                    hits.append(f"{path}: a secret as {form[:4]!r}...")
    return hits


def test_export_file_is_0600_encrypted_and_opens_with_real_7zip(desk, tmp_path):
    populated(desk)
    result = export_tokens(
        desk.station, request("entra-csv", drive(tmp_path), owner=Owner("example.org")), operator=op("sam")
    )
    assert os.stat(result.path).st_mode & 0o777 == 0o600
    data = open(result.path, "rb").read()
    assert hashlib.sha256(data).hexdigest() == result.sha256 and data.startswith(b"7z\xbc\xaf\x27\x1c")
    assert scan([tmp_path / "usb" / os.path.basename(result.path)], secrets_of(desk)) == []
    if SEVEN_ZIP is None:
        pytest.skip("7-Zip (Debian package 7zip) is not installed: setup.sh installs it")
    out = tmp_path / "admin"
    wrong = subprocess.run(
        [SEVEN_ZIP, "x", "-pnot the password", f"-o{out}", result.path], capture_output=True
    )
    assert wrong.returncode != 0 and not out.exists() or not any(out.iterdir())
    ok = subprocess.run([SEVEN_ZIP, "x", f"-p{PASSWORD}", f"-o{out}", result.path], capture_output=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    text = (out / "entra-hardware-oath-tokens.csv").read_text()
    assert text.startswith("upn,serial number,secret key,time interval,manufacturer,model\n")
    assert f"alice@example.org,{YK_SERIAL}," in text


def test_pskc_exports_decrypt_and_verify_with_python_pskc(desk, tmp_path):
    populated(desk)
    serials = (str(YK_SERIAL), "FT0001", "20261202")
    expected = {s: [] for s in serials}
    db = desk.station.ledger.db
    for serial in serials:
        for (record,) in db.execute(
            "SELECT vault_record FROM credentials WHERE serial = ? UNION"
            " SELECT vault_record FROM seeds WHERE serial = ?",
            [serial, serial],
        ):
            blob = desk.station.secret(record)
            expected[serial] = blob[6:] if serial == "20261202" else blob
    key16, key32 = bytes(range(16)), bytes(range(32))
    cases = [
        ("pskc", {"password": PASSWORD}),
        ("pskc", {"preshared_key": key16, "password": None}),
        ("pskc", {"preshared_key": key32, "password": None}),
        ("privacyidea-pskc", {"password": PASSWORD}),
        ("privacyidea-pskc", {"preshared_key": key16, "password": None}),
    ]
    for fmt, unlock in cases:
        result = export_tokens(
            desk.station, request(fmt, drive(tmp_path), *serials, **unlock), operator=op("sam")
        )
        container = pskc.PSKC(io.BytesIO(open(result.path, "rb").read()))
        assert container.encryption.is_encrypted and container.mac.algorithm
        if unlock.get("preshared_key"):
            container.encryption.key = unlock["preshared_key"]
        else:
            container.encryption.derive_key(PASSWORD)
        got = {k.device.serial: k.secret for k in container.keys}  # python-pskc checks each ValueMAC here
        assert got == expected, fmt
        # The Yubico PSKC profile (draft-josefsson-keyprov-pskc-yubikey) carries the private id in the
        # clear UserId "CN=<public id>, UID=<private id>": the one value PSKC does not encrypt (README).
        text = open(result.path, "rb").read()
        assert text.count(PRIVATE_ID.hex().encode()) == 1 and b"UID=" + PRIVATE_ID.hex().encode() in text
        others = [s for s in secrets_of(desk) if s != PRIVATE_ID]
        assert scan([tmp_path / "usb" / os.path.basename(result.path)], others) == []


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda tmp, desk: desk.station.data_dir / "exports", "inside the station's data directory"),
        (lambda tmp, desk: tmp / "shared", "can be written to by other users"),
        (lambda tmp, desk: tmp / "readable", "can be read by every user"),
    ],
)
def test_refused_places(desk, tmp_path, make, problem):
    populated(desk)
    place = make(tmp_path, desk)
    place.mkdir(exist_ok=True)
    os.chmod(place, {"shared": 0o1777, "readable": 0o755}.get(place.name, 0o700))
    with pytest.raises(InputError, match=problem) as caught:
        export_tokens(desk.station, request("pskc", place), operator=op("sam"))
    assert "removable drive" in caught.value.hint
    assert list(place.iterdir()) == [] and "idp.exported" not in desk.types()


def test_never_overwrites_never_plain_and_needs_the_right_role(desk, tmp_path):
    populated(desk)
    usb = drive(tmp_path)
    (usb / "tokens.xml").write_bytes(b"keep me")
    with pytest.raises(InputError, match="never overwritten"):
        export_tokens(desk.station, request("pskc", usb / "tokens.xml"), operator=op("sam"))
    assert (usb / "tokens.xml").read_bytes() == b"keep me"
    with pytest.raises(InputError, match="no password given"):
        export_tokens(desk.station, request("entra-csv", usb, password=None), operator=op("sam"))
    with pytest.raises(InputError, match="at least 12 characters"):
        export_tokens(desk.station, request("pskc", usb, password="short"), operator=op("sam"))
    with pytest.raises(InputError, match="test setups only"):
        export_tokens(desk.station, request("otpauth", usb), operator=op("sam"))
    with pytest.raises(NotPermitted, match="needs the admin or supervisor role"):
        export_tokens(desk.station, request("pskc", usb), operator=op("carol"))  # a custodian: no secrets
    assert os.listdir(usb) == ["tokens.xml"] and "idp.exported" not in desk.types()


def test_a_failed_write_leaves_no_record_and_no_file(desk, tmp_path, monkeypatch):
    populated(desk)
    usb = drive(tmp_path)
    sam = op("sam")  # signed in first: the sign-in is an event of its own
    size = desk.station.ledger.size()

    def full_disk(target, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("station.idp.exports.write_private", full_disk)
    with pytest.raises(OSError):
        export_tokens(desk.station, request("pskc", usb), operator=sam)
    assert desk.station.ledger.size() == size and os.listdir(usb) == []


def test_no_secret_in_any_file_but_the_export_and_the_ledger_records_it_without_secrets(
    desk, tmp_path, capsys, monkeypatch
):
    populated(desk)
    usb = drive(tmp_path)
    monkeypatch.setenv("STATION_PASSPHRASE", "correct horse battery")
    monkeypatch.setenv("STATION_EXPORT_PASSWORD", PASSWORD)
    desk.station.close()
    data = str(desk.station.data_dir)
    for argv in (
        ["export", "pskc", "--to", str(usb), "--since-last", "--operator", "sam"],
        [
            "export",
            "entra-csv",
            "--to",
            str(usb),
            "--serial",
            str(YK_SERIAL),
            "--upn-suffix",
            "example.org",
            "--operator",
            "sam",
        ],
        ["export", "okta-yubikey", "--to", str(usb), "--serial", "20261202", "--operator", "sam"],
        ["report-lost", "--serial", "FT0001", "--reason", "train", "--operator", "carol"],
        [
            "export",
            "privacyidea-csv",
            "--to",
            str(usb),
            "--since-last",
            "--deactivations",
            "--operator",
            "carol",
        ],
        ["export", "list"],
        ["report", "idp-hand-off"],
        ["ledger", "show"],
    ):
        sign_in_for(monkeypatch, desk, argv)
        assert main(["--data", data, "--json", *argv]) == 0, capsys.readouterr()
    out = capsys.readouterr()
    from station.core import open_station

    desk.station = open_station(
        desk.station.data_dir, "correct horse battery", clock=desk.clock, bus=desk.bus
    )
    secrets = secrets_of(desk)
    exports = {
        os.path.basename(r["path"])
        for r in desk.station.ledger.db.execute("SELECT path FROM idp_exports").fetchall()
        for r in [{"path": r[0]}]
    }
    # Every file under tmp_path: the data directory (database, WAL, config) and the drive. The seed
    # inputs (the ykman log, the vendor CSV) were handed over as bytes, never written to a file here.
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "station.db" for p in written)
    assert {p.name for p in written if p.parent == usb} == exports
    assert scan(written, secrets) == []  # data dir, WAL/journal, config, the exports themselves (encrypted)
    assert all(f not in (out.out + out.err).encode() for s in secrets for f in forms(s) if len(f) >= 6)
    events = [e for e in desk.station.ledger.entries() if e.type == "idp.exported"]
    assert len(events) == 4
    for event in events:
        body = event.body
        assert {"export_id", "format", "sha256", "items", "protection", "path"} <= set(body)
        assert event.actor in ("sam", "carol")
        assert hashlib.sha256(open(body["path"], "rb").read()).hexdigest() == body["sha256"]
        raw = json.dumps(body).encode()
        assert all(f not in raw for s in secrets for f in forms(s) if len(f) >= 6)
    assert events[-1].body["items"] == {"deactivate": ["FT0001"]}


def test_read_only_station_cannot_export(desk, tmp_path):
    from station.core import open_readonly

    populated(desk)
    reader = open_readonly(desk.station.data_dir)
    try:
        with pytest.raises(StationError, match="read-only"):
            export_tokens(reader, request("pskc", drive(tmp_path)), operator=op("sam"))
    finally:
        reader.close()


def test_every_hand_off_function_needs_a_signed_in_operator_and_refuses_a_locked_one(desk, tmp_path):
    from station.idp.exports import confirm_export, withdraw_export
    from station.idp.imports import ImportOptions, import_seed_file
    from station.operators.lockout import lock_operator
    from station.operators.sessions import NotSignedIn
    from station.operators.signin import sign_out

    populated(desk)
    usb = drive(tmp_path)
    before = desk.station.ledger.size()
    # An operator id is not a sign-in: every entry point of the hand-off refuses it.
    with pytest.raises(NotSignedIn, match="No operator is signed in"):
        export_tokens(desk.station, request("pskc", usb), operator="sam")
    with pytest.raises(NotSignedIn):
        export_tokens(desk.station, request("pskc", usb, deactivations=True, password=None), operator="carol")
    with pytest.raises(NotSignedIn):
        confirm_export(desk.station, "0123456789ab", operator="carol")
    with pytest.raises(NotSignedIn):
        withdraw_export(desk.station, "0123456789ab", operator="carol", reason="x")
    with pytest.raises(NotSignedIn):
        data = f"FT9001,{RFC_SECRET.hex()}\n".encode()
        options = ImportOptions(format="serial-secret", kind="totp", secret_encoding="hex")
        import_seed_file(desk.station, data, options, operator="carol", source="vendor.csv")
    assert desk.station.ledger.size() == before and os.listdir(usb) == []
    # A session that ended is refused too, and so is a locked operator's.
    sam = op("sam")
    sign_out(desk.station, sam)
    with pytest.raises(NotSignedIn, match="the session ended"):
        export_tokens(desk.station, request("pskc", usb), operator=sam)
    sam = op("sam")
    lock_operator(desk.station, "sam", operator=op("hank"), reason="token reported stolen")
    with pytest.raises(NotSignedIn):
        export_tokens(desk.station, request("pskc", usb), operator=sam)
    assert os.listdir(usb) == [] and "idp.exported" not in desk.types()


def test_the_cli_signs_the_operator_in_for_every_hand_off_verb(desk, tmp_path, capsys, monkeypatch):
    populated(desk)
    usb = drive(tmp_path)
    data = str(desk.station.data_dir)
    desk.station.close()
    for name in ("STATION_OPERATOR", "STATION_OPERATOR_PIN", "STATION_OPERATOR_OTP", "STATION_SESSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STATION_PASSPHRASE", "correct horse battery")
    monkeypatch.setenv("STATION_EXPORT_PASSWORD", PASSWORD)
    vendor = tmp_path / "vendor.csv"
    vendor.write_text(f"FT9001,{RFC_SECRET.hex()}\n")
    verbs = (
        ["export", "pskc", "--to", str(usb), "--since-last", "--operator", "sam"],
        ["export", "confirm", "0123456789ab", "--operator", "carol"],
        ["export", "withdraw", "0123456789ab", "--reason", "x", "--operator", "carol"],
        ["import", str(vendor), "--format", "serial-secret", "--kind", "totp", "--operator", "carol"],
        [
            "receive",
            "--seed-file",
            str(vendor),
            "--format",
            "serial-secret",
            "--kind",
            "totp",
            "--operator",
            "carol",
        ],
    )
    for argv in verbs:  # a named operator without PIN and code (no terminal to ask on)
        assert main(["--data", data, "--json", *argv]) == 2
        out = json.loads(capsys.readouterr().out)
        assert out["error"].startswith("No PIN for"), out
    monkeypatch.setenv("STATION_OPERATOR_PIN", "pin-sam-0000")
    monkeypatch.setenv("STATION_OPERATOR_OTP", desk.codes.next("sam"))
    assert main(["--data", data, "--json", *verbs[0]]) != 0  # a wrong PIN
    out = json.loads(capsys.readouterr().out)
    assert "PIN or the code is wrong" in out["error"], out
    assert os.listdir(usb) == []
    sign_in_for(monkeypatch, desk, verbs[0])
    assert main(["--data", data, "--json", *verbs[0]]) == 0
    exported = json.loads(capsys.readouterr().out)
    from station.core import open_station

    desk.station = open_station(Path(data), "correct horse battery", clock=desk.clock, bus=desk.bus)
    event = [e for e in desk.station.ledger.entries() if e.type == "idp.exported"][-1]
    assert event.actor == "sam" and event.body["export_id"] == exported["export_id"]


def test_the_admins_vault_export_carries_seed_file_keys_and_is_not_the_idp_hand_off(desk):
    """`station vault export` (issue 6, admin only) reads both vault layouts: a Yubico OTP key taken over
    from a ykman log (private id + AES key) as well as OATH seeds; it is a vault.exported event, not an
    IdP export awaiting confirmation."""
    from station.export import export_secrets

    populated(desk)
    with pytest.raises(NotPermitted, match="may not export vault"):
        export_secrets(desk.station, ["20261202"], operator=op("sam"), password=PASSWORD, reason="x")
    export = export_secrets(
        desk.station, ["20261202", "FT0001"], operator=op("hank"), password=PASSWORD, reason="migration"
    )
    container = pskc.PSKC(io.BytesIO(export.data))
    container.encryption.derive_key(PASSWORD)
    assert {k.device.serial: k.secret for k in container.keys} == {"20261202": AES_KEY, "FT0001": RFC_SECRET}
    assert [e.type for e in desk.station.ledger.entries()][-1] == "vault.exported"
    assert desk.station.ledger.db.execute("SELECT count(*) FROM idp_exports").fetchone()[0] == 0
