"""Round trips through two stations: what station A exports, a fresh station B imports, and the codes
of every token stay the same: TOTP codes read off the virtual YubiKey, HOTP codes from RFC 4226's
table, Yubico OTPs typed by the virtual key's button, all checked with station.codes on both sides.
"""

from __future__ import annotations

import pytest
from desk_fixtures import make_desk
from idp_helpers import (
    OTP_SERIAL,
    PASSWORD,
    RFC4226,
    RFC_SECRET,
    YK_SERIAL,
    drive,
    populated,
)
from yubikit.oath import OathSession

from drivers.emulator import VirtualConnection
from station.codes import (
    Accepted,
    HotpState,
    HotpToken,
    Rejected,
    TotpState,
    TotpToken,
    YubicoOtpKey,
    YubicoOtpState,
    verify_hotp,
    verify_totp,
    verify_yubico_otp,
)
from station.errors import InputError
from station.idp.exports import ExportRequest, export_tokens
from station.idp.imports import ImportOptions, import_seed_file
from station.idp.selection import Selection
from station.idp.token_seeds import Owner
from station.seedfiles import ExportRefused
from station.seedfiles.encoding import modhex_decode
from station.verify import verify_totp as station_verify_totp

TOTP, HOTP, YUBICO = str(YK_SERIAL), "FT0001", str(OTP_SERIAL)
KEY128 = bytes(range(16))
# format -> (the tokens it carries, how it is protected)
CASES = {
    "pskc": ((TOTP, HOTP, YUBICO), "password"),
    "pskc-aes128": ((TOTP, HOTP, YUBICO), "key"),
    "privacyidea-pskc": ((TOTP, HOTP, YUBICO), "password"),
    "privacyidea-csv": ((TOTP, HOTP), "password"),
    "entra-csv": ((TOTP,), "password"),
    "entra-graph": ((TOTP,), "password"),
    "okta-yubikey": ((YUBICO,), "password"),
    "duo": ((TOTP, HOTP), "password"),
    "yubico-log": ((YUBICO,), "password"),
    "otpauth": ((TOTP, HOTP), "password"),
}


@pytest.fixture
def station_a(desk):
    return desk, *populated(desk)


def _export(desk, tmp_path, fmt, serials, protection, **kw):
    name = "pskc" if fmt == "pskc-aes128" else fmt
    request = ExportRequest(
        name,
        drive(tmp_path),
        Selection(serials=serials),
        password=PASSWORD if protection == "password" else None,
        preshared_key=KEY128 if protection == "key" else None,
        owner=Owner(upn_suffix="example.org") if fmt.startswith("entra") else Owner(),
        for_testing_only=fmt == "otpauth",
        **kw,
    )
    return export_tokens(desk.station, request, operator=desk.op("sam"))


def _seed_in(station, serial):
    cur = station.ledger.db.execute("SELECT * FROM seeds WHERE serial = ?", [serial])
    row = dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True))
    return row, station.secret(row["vault_record"])


def _credential_in(station, serial):
    cur = station.ledger.db.execute("SELECT * FROM credentials WHERE serial = ?", [serial])
    row = dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True))
    return row, station.secret(row["vault_record"])


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_export_then_import_into_a_fresh_station_keeps_every_code(station_a, tmp_path, fmt):
    desk_a, yubikey, otp_key = station_a
    serials, protection = CASES[fmt]
    result = _export(desk_a, tmp_path, fmt, serials, protection)
    assert sorted(result.serials) == sorted(serials)

    desk_b = make_desk(tmp_path / "station-b")
    try:
        data = open(result.path, "rb").read()
        options = ImportOptions(
            password=PASSWORD if protection == "password" else None,
            preshared_key=KEY128 if protection == "key" else None,
        )
        report, parsed = import_seed_file(
            desk_b.station, data, options, operator=desk_b.op("carol"), source="export"
        )
        # otpauth URIs carry no serial: the account name (the owner) stands in for it
        renamed = {TOTP: "alice", HOTP: "bob"} if fmt == "otpauth" else {}
        assert sorted(report.received) == sorted(renamed.get(s, s) for s in serials), parsed.format
        now = desk_a.clock()
        if TOTP in serials:
            row, secret_b = _seed_in(desk_b.station, renamed.get(TOTP, TOTP))
            cred, secret_a = _credential_in(desk_a.station, YK_SERIAL)
            token_b = TotpToken(secret_b, row["algorithm"], row["digits"], row["period"])
            token_a = TotpToken(secret_a, cred["algorithm"], cred["digits"], cred["period"])
            step = int(now.timestamp()) // 30
            assert [token_b.code_at(s) for s in range(step - 3, step + 4)] == [
                token_a.code_at(s) for s in range(step - 3, step + 4)
            ]
            oath = OathSession(VirtualConnection(yubikey))  # the key A issued: its code, read off it
            code = oath.calculate_code(oath.list_credentials()[0], int(now.timestamp())).value
            assert isinstance(verify_totp(token_b, TotpState(), code, now), Accepted)
            verified = station_verify_totp(desk_a.station, "alice", code, operator=desk_a.op("carol"))
            assert verified.serial == YK_SERIAL
        if HOTP in serials:
            row, secret_b = _seed_in(desk_b.station, renamed.get(HOTP, HOTP))
            assert secret_b == RFC_SECRET and row["counter"] == 1  # A accepted RFC 4226's code 0 at issue
            token_b = HotpToken(secret_b, row["algorithm"], row["digits"])
            assert [token_b.code_at(c) for c in range(10)] == RFC4226
            assert isinstance(verify_hotp(token_b, HotpState(row["counter"]), RFC4226[0]), Rejected)
            assert isinstance(verify_hotp(token_b, HotpState(row["counter"]), RFC4226[1]), Accepted)
        if YUBICO in serials:
            row_b, blob_b = _seed_in(desk_b.station, YUBICO)
            row_a, blob_a = _seed_in(desk_a.station, YUBICO)
            key_b = YubicoOtpKey(modhex_decode(row_b["public_id"]), blob_b[:6], blob_b[6:])
            key_a = YubicoOtpKey(modhex_decode(row_a["public_id"]), blob_a[:6], blob_a[6:])
            otp = otp_key.press_button(1)
            assert isinstance(verify_yubico_otp(key_a, YubicoOtpState(), otp), Accepted)
            assert isinstance(verify_yubico_otp(key_b, YubicoOtpState(), otp), Accepted)
            assert (
                desk_b.station.ledger.db.execute(
                    "SELECT kind FROM tokens WHERE serial = ?", [YUBICO]
                ).fetchone()[0]
                == "yubikey"
            )
    finally:
        desk_b.station.close()


@pytest.mark.parametrize(
    ("fmt", "refused"),
    [
        (
            "entra-csv",
            {
                HOTP: "Entra ID takes TOTP hardware tokens only, this is HOTP",
                YUBICO: "Entra ID takes TOTP hardware tokens only, this is YUBICO-OTP",
            },
        ),
        (
            "okta-yubikey",
            {
                TOTP: "Okta's YubiKey seed upload takes Yubico OTP keys only, this is TOTP",
                HOTP: "Okta's YubiKey seed upload takes Yubico OTP keys only, this is HOTP",
            },
        ),
        ("privacyidea-csv", {YUBICO: "the OATH CSV holds HOTP and TOTP only"}),
    ],
)
def test_a_token_the_target_cannot_take_is_refused_with_its_reason(station_a, tmp_path, fmt, refused):
    desk, _yubikey, _key = station_a
    with pytest.raises(ExportRefused) as caught:
        _export(desk, tmp_path, fmt, (TOTP, HOTP, YUBICO), "password")
    reasons = dict(caught.value.refusals)
    assert set(reasons) == set(refused)
    for serial, start in refused.items():
        assert reasons[serial].startswith(start)
    assert "--leave-out-refused" in caught.value.hint
    assert list((tmp_path / "usb").iterdir()) == []  # nothing written
    assert "idp.exported" not in desk.types()
    # Leaving them out is explicit: named in the result and the ledger, and still outstanding.
    result = _export(desk, tmp_path, fmt, (TOTP, HOTP, YUBICO), "password", leave_out_refused=True)
    assert {s for s, _r in result.left_out} == set(refused)
    event = list(desk.station.ledger.entries())[-1]
    assert {x["serial"] for x in event.body["left_out"]} == set(refused)


def test_duo_yubikey_rows_cannot_come_back_and_say_why(station_a, tmp_path):
    desk, _yubikey, _key = station_a
    result = _export(desk, tmp_path, "duo", (YUBICO,), "password")
    desk_b = make_desk(tmp_path / "station-b")
    try:
        with pytest.raises(InputError, match="'yk' is not a Duo OATH token type") as caught:
            import_seed_file(
                desk_b.station,
                open(result.path, "rb").read(),
                ImportOptions(password=PASSWORD),
                operator=desk_b.op("carol"),
                source="duo.7z",
            )
        assert "carry no public id" in caught.value.hint and "Yubico log or PSKC" in caught.value.hint
        assert "token.received" not in desk_b.types()
    finally:
        desk_b.station.close()


def test_a_yubikey_issued_with_totp_and_yubico_otp_goes_to_each_idp_with_what_it_takes(desk, tmp_path):
    """Issue 6's recipe programs a TOTP credential and Yubico OTP (slot 1) on one key: Entra gets the
    TOTP credential, Okta the Yubico OTP key, each naming the other as left out; Duo and PSKC carry
    both. A fresh station that imports the Yubico log accepts the key's own button press."""
    from station.idp.imports import read_seed_file
    from station.issue import IssueRequest, issue_totp
    from station.verify import verify_code

    key = desk.only(YK_SERIAL)
    issue_totp(
        desk.station, IssueRequest(YK_SERIAL, "alice", desk.op("carol"), profile="yubikey-oath-totp-otp")
    )
    entra = _export(desk, tmp_path, "entra-csv", (TOTP,), "password")
    assert entra.serials == (TOTP,)
    assert entra.left_out == (
        (TOTP, "Yubico OTP key: Entra ID takes TOTP hardware tokens only, this is YUBICO-OTP"),
    )
    okta = _export(desk, tmp_path, "okta-yubikey", (TOTP,), "password")
    assert okta.serials == (TOTP,) and okta.left_out[0][1].startswith("TOTP credential: Okta")
    duo = _export(desk, tmp_path, "duo", (TOTP,), "password")  # Duo tells its tokens apart by type
    assert duo.serials == (TOTP,) and duo.left_out == ()
    both = _export(desk, tmp_path, "pskc", (TOTP,), "password")
    parsed = read_seed_file(open(both.path, "rb").read(), ImportOptions(password=PASSWORD))
    assert sorted(s.kind.value for s in parsed.seeds) == ["totp", "yubico-otp"]
    log = _export(desk, tmp_path, "yubico-log", (TOTP,), "password")
    desk_b = make_desk(tmp_path / "station-b")
    try:
        data = open(log.path, "rb").read()
        options = ImportOptions(password=PASSWORD)
        import_seed_file(desk_b.station, data, options, operator=desk_b.op("carol"), source="log.7z")
        row_b, blob_b = _seed_in(desk_b.station, TOTP)
        key_b = YubicoOtpKey(modhex_decode(row_b["public_id"]), blob_b[:6], blob_b[6:])
        otp = key.press_button(1)
        assert isinstance(verify_yubico_otp(key_b, YubicoOtpState(), otp), Accepted)
        assert verify_code(desk.station, "alice", otp, operator=desk.op("carol")).kind == "yubico-otp"
    finally:
        desk_b.station.close()
