"""Station-level golden files: what the station writes for a fixed desk (RFC test secrets, fixed keys,
fixed clock), decrypted, against files checked in; and the Entra CSV against Entra's upload rules.

Set IDP_GOLDEN_UPDATE=1 to rewrite the files after a deliberate change, and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyotp
import pytest
from desk_fixtures import op
from idp_helpers import OTP_SERIAL, PASSWORD, RFC4226, drive, program_yubico_otp

from station.idp.archive import open_seven_zip
from station.idp.exports import ExportRequest, export_tokens
from station.idp.imports import ImportOptions, import_seed_file
from station.idp.selection import Selection
from station.idp.token_seeds import Owner
from station.inventory import lifecycle as lc
from station.inventory.classic import issue_classic

GOLDEN = Path(__file__).parent / "data" / "golden"
SECRETS = {"FT1001": b"12345678901234567890", "FT1002": bytes(range(20)), "FT2001": b"12345678901234567890"}


@pytest.fixture
def fixed_desk(desk):
    st = desk.station
    totp = "".join(f"{s},{SECRETS[s].hex()}\n" for s in ("FT1001", "FT1002")).encode()
    import_seed_file(
        st,
        totp,
        ImportOptions(format="serial-secret", kind="totp", secret_encoding="hex"),
        operator=op("carol"),
        source="feitian-totp.csv",
        vendor="Feitian",
        model="c200",
    )
    hotp = f"FT2001,{SECRETS['FT2001'].hex()}\n".encode()
    import_seed_file(
        st,
        hotp,
        ImportOptions(format="serial-secret", kind="hotp", secret_encoding="hex"),
        operator=op("carol"),
        source="feitian-hotp.csv",
        vendor="Feitian",
        model="c100",
    )
    line = program_yubico_otp(desk.insert(OTP_SERIAL), OTP_SERIAL)
    import_seed_file(st, (line + "\n").encode(), ImportOptions(), operator=op("carol"), source="ykman.csv")
    for serial, owner in (("FT1001", "alice"), ("FT1002", "carl")):
        code = pyotp.TOTP(_b32(SECRETS[serial])).at(desk.clock())
        issue_classic(st, serial, owner=owner, operator=op("carol"), code=code)
    issue_classic(st, "FT2001", owner="bob", operator=op("carol"), code=RFC4226[0])
    return desk


def _b32(secret: bytes) -> str:
    import base64

    return base64.b32encode(secret).decode()


def _golden(name: str, content: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("IDP_GOLDEN_UPDATE"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    assert content == path.read_bytes(), f"{name} differs from the golden file"


CASES = {
    "entra-csv": ("FT1001", "FT1002"),
    "entra-graph": ("FT1001", "FT1002"),
    "okta-yubikey": (str(OTP_SERIAL),),
    "duo": ("FT1001", "FT1002", "FT2001"),
    "privacyidea-csv": ("FT1001", "FT1002", "FT2001"),
    "yubico-log": (str(OTP_SERIAL),),
}


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_station_exports_match_the_golden_files(fixed_desk, tmp_path, fmt):
    owner = Owner(upn_suffix="example.org", realm="staff", resolver="ldap")
    req = ExportRequest(fmt, drive(tmp_path), Selection(serials=CASES[fmt]), password=PASSWORD, owner=owner)
    result = export_tokens(fixed_desk.station, req, operator=op("sam"))
    members = open_seven_zip(open(result.path, "rb").read(), PASSWORD)
    for name, content in sorted(members.items()):
        _golden(f"{fmt}/{name}", content)


def test_deactivation_lists_match_the_golden_files(fixed_desk, tmp_path):
    st = fixed_desk.station
    lc.report_lost(st, "FT1001", operator=op("carol"), reason="train")
    lc.block(st, "FT2001", operator=op("carol"), reason="suspected copy")
    lc.report_lost(st, str(OTP_SERIAL), operator=op("carol"), reason="never issued, gone from the safe")
    serials = ("FT1001", "FT2001", str(OTP_SERIAL))
    for fmt in ("entra-csv", "okta-yubikey", "duo", "privacyidea-csv", "pskc"):
        # Entra never held the HOTP token or the Yubico OTP key, Okta only the Yubico OTP key: explicit.
        req = ExportRequest(
            fmt,
            drive(tmp_path),
            Selection(serials=serials),
            deactivations=True,
            owner=Owner(upn_suffix="example.org") if fmt == "entra-csv" else Owner(),
            leave_out_refused=fmt in ("entra-csv", "okta-yubikey"),
        )
        result = export_tokens(st, req, operator=op("carol"))
        _golden(f"deactivate/{result.idp}.csv", open(result.path, "rb").read())
        left_out = {s: r for s, r in result.left_out}
        if fmt == "entra-csv":
            assert set(left_out) == {"FT2001", str(OTP_SERIAL)}
            assert "Entra ID never held it" in left_out["FT2001"]
        if fmt == "okta-yubikey":
            assert set(left_out) == {"FT1001", "FT2001"}


ENTRA_HEADER = "upn,serial number,secret key,time interval,manufacturer,model"


def entra_upload_problems(text: str) -> list[str]:
    """Entra's published CSV upload rules, written out again here (not the station's own checker)."""
    lines = text.splitlines()
    problems = [] if lines and lines[0] == ENTRA_HEADER else ["header row"]
    for number, line in enumerate(lines[1:], 2):
        cells = line.split(",")
        if len(cells) != 6:
            problems.append(f"{number}: six columns")
            continue
        upn, serial, secret, interval, manufacturer, model = cells
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", upn):
            problems.append(f"{number}: upn")
        if not re.fullmatch(r"[A-Za-z2-7]{16,128}", secret):
            problems.append(f"{number}: secret key: Base32 (a-z, 2-7), 128 characters at most")
        if interval not in ("30", "60"):
            problems.append(f"{number}: time interval 30 or 60")
        if not (serial and manufacturer and model):
            problems.append(f"{number}: serial, manufacturer and model are required")
    return problems


def test_the_entra_csv_passes_entras_upload_rules_and_codes_match(fixed_desk, tmp_path):
    req = ExportRequest(
        "entra-csv",
        drive(tmp_path),
        Selection(since_last=True),
        password=PASSWORD,
        owner=Owner(upn_suffix="example.org"),
        leave_out_refused=True,
    )
    result = export_tokens(fixed_desk.station, req, operator=op("sam"))
    assert [s for s, _ in result.left_out] == ["FT2001"]
    assert "Entra ID takes TOTP hardware tokens only, this is HOTP" in result.left_out[0][1]
    text = open_seven_zip(open(result.path, "rb").read(), PASSWORD)["entra-hardware-oath-tokens.csv"].decode()
    assert entra_upload_problems(text) == []
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert [r[:2] for r in rows] == [["alice@example.org", "FT1001"], ["carl@example.org", "FT1002"]]
    for _upn, serial, secret, interval, *_ in rows:
        assert pyotp.TOTP(secret, interval=int(interval)).at(fixed_desk.clock()) == pyotp.TOTP(
            _b32(SECRETS[serial])
        ).at(fixed_desk.clock())
    assert (
        entra_upload_problems(text.replace("alice@example.org,FT1001,", "alice@example.org,FT1001,ABC1"))
        != []
    )
