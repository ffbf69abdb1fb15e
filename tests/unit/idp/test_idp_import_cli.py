"""Imports through the station (RFC 6030's examples, a Yubico log) and the CLI verbs with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from desk_fixtures import op
from idp_helpers import (
    OTP_SERIAL,
    PASSWORD,
    YK_SERIAL,
    drive,
    populated,
    program_yubico_otp,
    sign_in_for,
)

from station.cli import main
from station.idp.imports import ImportOptions, import_seed_file
from station.inventory.intake import EntriesRejected

RFC = Path(__file__).parents[1] / "seedfiles" / "data" / "rfc6030"
PSK = bytes.fromhex("12345678901234567890123456789012")


@pytest.mark.parametrize(
    ("n", "options", "serials"),
    [
        (3, {}, ["987654321"]),
        (5, {}, ["987654321"]),
        (6, {"preshared_key": PSK}, ["987654321"]),
        (7, {"password": "qwerty"}, ["987654321"]),
    ],
)
def test_rfc6030_examples_come_into_stock_with_their_seeds_in_the_vault(desk, n, options, serials):
    data = (RFC / f"figure{n}.pskcxml").read_bytes()
    report, result = import_seed_file(
        desk.station, data, ImportOptions(**options), operator=op("carol"), source=f"figure{n}.pskcxml"
    )
    assert list(report.received) == serials and result.format == "PSKC"
    row = desk.station.ledger.db.execute(
        "SELECT vault_record FROM seeds WHERE serial = ?", [serials[0]]
    ).fetchone()
    assert desk.station.secret(row[0]) == result.seeds[0].secret
    raw = b"".join(e.raw for e in desk.station.ledger.entries())
    assert result.seeds[0].secret not in raw and result.seeds[0].secret.hex().encode() not in raw


def test_figure2s_four_byte_secret_and_figure10s_successive_keys_are_refused_by_name(desk):
    data = (RFC / "figure2.pskcxml").read_bytes()
    with pytest.raises(EntriesRejected, match=r"12345678\): secret shorter than 128 bits"):
        import_seed_file(desk.station, data, ImportOptions(), operator=op("carol"), source="figure2.pskcxml")
    data = (RFC / "figure10.pskcxml").read_bytes()
    with pytest.raises(EntriesRejected, match="serial listed twice"):
        import_seed_file(desk.station, data, ImportOptions(), operator=op("carol"), source="figure10.pskcxml")
    assert "token.received" not in desk.types()
    # One token holds one seed here: the device's later key is listed, the rest received on request.
    report, _ = import_seed_file(
        desk.station,
        data,
        ImportOptions(),
        operator=op("carol"),
        source="figure10.pskcxml",
        accept_partial=True,
    )
    assert sorted(report.received) == ["123456", "654321", "9999999"]
    assert [r.serial for r in report.rejected] == ["9999999"]


def run(capsys, data_dir, *argv) -> tuple[int, dict]:
    code = main(["--data", str(data_dir), "--json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_cli_export_list_show_confirm_import_and_failures_as_json(desk, tmp_path, capsys, monkeypatch):
    populated(desk)
    data_dir = desk.station.data_dir
    desk.station.close()
    monkeypatch.setenv("STATION_PASSPHRASE", "correct horse battery")
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    usb = drive(tmp_path)

    def cli(*argv):
        sign_in_for(monkeypatch, desk, argv)  # --operator WHO signs in with PIN and next code
        return run(capsys, data_dir, *argv)

    code, out = cli(
        "export",
        "entra-graph",
        "--to",
        str(usb),
        "--since-last",
        "--password-file",
        str(pw),
        "--operator",
        "sam",
    )
    assert (
        code == 2 and out["ok"] is False and "HOTP" in out["error"] and "--leave-out-refused" in out["hint"]
    )
    code, out = cli(
        "export",
        "entra-graph",
        "--to",
        str(usb),
        "--since-last",
        "--password-file",
        str(pw),
        "--upn-suffix",
        "example.org",
        "--leave-out-refused",
        "--operator",
        "sam",
    )
    assert code == 0 and out["serials"] == [str(YK_SERIAL)] and out["left_out"][0]["serial"] == "FT0001"
    export_id = out["export_id"]
    code, listed = cli("export", "list", "--pending")
    assert [e["id"] for e in listed["exports"]] == [export_id] and listed["outstanding"]["register"] == 1
    code, shown = cli("export", "show", export_id)
    assert shown["items"] == [{"serial": str(YK_SERIAL), "action": "register"}]
    code, done = cli("export", "confirm", export_id, "--operator", "carol")
    assert code == 0 and done["status"] == "confirmed"
    code, again = cli("export", "confirm", export_id, "--operator", "carol")
    assert code == 2 and "already confirmed" in again["error"]
    code, report = cli("report", "holdings-by-site")
    assert report["rows"][0]["active"] == 1 and report["rows"][0]["awaiting_idp"] == 1

    log = tmp_path / "ykman.csv"
    key_line = program_yubico_otp(desk.insert(OTP_SERIAL + 10), OTP_SERIAL + 10)
    log.write_text(key_line + "\n")
    code, received = cli("receive", "--seed-file", str(log), "--operator", "carol")
    assert code == 0 and received["received"] == [str(OTP_SERIAL + 10)] and received["format"] == "Yubico log"
    code, dup = cli("import", str(log), "--operator", "carol")
    assert code == 2 and dup["rejected"][0]["reason"].startswith("already in the inventory")
    code, bad = cli(
        "export",
        "pskc",
        "--to",
        str(data_dir),
        "--serial",
        str(YK_SERIAL),
        "--password-file",
        str(pw),
        "--operator",
        "sam",
    )
    assert code == 2 and "inside the station's data directory" in bad["error"]
    from station.core import open_station

    desk.station = open_station(data_dir, "correct horse battery", clock=desk.clock, bus=desk.bus)
