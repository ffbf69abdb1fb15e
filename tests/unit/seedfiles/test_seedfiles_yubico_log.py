"""YubiKey Personalization Tool and ykman -O logs (Yubico and traditional layouts)."""

from datetime import datetime

import pytest
from seedfile_helpers import yubikey_public_id
from ykman.otp import format_csv

from station.seedfiles import ImportMode, OtpKind, SeedFileRejected, parse_yubico_log

KEY = bytes.fromhex("a47c5bf9c152202f577be6721c0113af")
PRIVATE = bytes.fromhex("83cebdfb7b93")


def ykman_line(serial: int) -> str:
    # ykman's own writer (ykman/otp.py), the function behind `ykman otp yubiotp -O FILE`.
    return format_csv(
        serial,
        bytes.fromhex("ff00") + serial.to_bytes(4, "big"),
        PRIVATE,
        KEY,
        None,
        datetime(2026, 1, 2, 3, 4, 5),
    )


def test_ykman_output_imports():
    data = (ykman_line(20261203) + "\n" + ykman_line(20261204) + "\n").encode()
    first, second = parse_yubico_log(data).seeds
    assert (first.serial, first.kind, first.public_id) == (
        "20261203",
        OtpKind.YUBICO_OTP,
        yubikey_public_id(20261203),
    )
    assert first.secret == KEY and first.private_id == PRIVATE and second.serial == "20261204"


def test_personalization_tool_yubico_format_modes():
    # Lines of the tool's "Yubico format" for Yubico OTP, OATH-HOTP with an identifier, static, chal-resp.
    data = (
        b"508326,cccccccccccc,83cebdfb7b93,a47c5bf9c152202f577be6721c0113af,,2013-12-12T08:43:17,\n"
        b"508327,ubhm00508327,12,69cfb9202438ca68964ec3244bfa4843d073a43b,,2013-12-12T08:41:07,\n"
        b"508328,,,9e2fd386224a7f77e9b5aee775464033,,2013-12-12T08:44:34,\n"
    )
    result = parse_yubico_log(data)
    yubiotp, hotp = result.seeds
    assert (yubiotp.serial, yubiotp.public_id, yubiotp.private_id) == ("508326", "cccccccccccc", PRIVATE)
    assert (hotp.kind, hotp.counter, hotp.key_id, hotp.digits) == (OtpKind.HOTP, 12, "ubhm00508327", 6)
    assert result.notes == (
        "line 3: serial 508328: a static password configuration, which holds no OTP seed",
    )


def test_hotp_without_identifier_at_counter_zero_is_ambiguous():
    data = b"508326,,0,69cfb9202438ca68964ec3244bfa4843d073a43b,,2013-12-12T08:41:07,\n"
    with pytest.raises(SeedFileRejected) as err:
        parse_yubico_log(data)
    assert "challenge-response" in err.value.rejects[0].problem and "assume_hotp" in err.value.rejects[0].hint
    (seed,) = parse_yubico_log(data, assume_hotp=True, hotp_digits=8).seeds
    assert (seed.kind, seed.counter, seed.digits) == (OtpKind.HOTP, 0, 8)


def test_traditional_format():
    public_id = yubikey_public_id(4711)
    data = (
        "LOGGING START,12/11/2013 11:09\n"
        f"Yubico OTP,12/11/2013 11:10,2,{public_id},ab86c04de6a3,d26a7c0f85fdda28bd816e406342b214,,,"
        "0,0,0,0,0,0,0,0,0,0\n"
        "Yubico OTP,12/11/2013 11:10,1,vvgutbiedkvi,ab86c04de6a3,d26a7c0f85fdda28bd816e406342b214,,,"
        "0,0,0,0,0,0,0,0,0,0\n"
        "Static Password,11.12.13 19:08,1,,d5a3d50327dc,0e8e37b0e38b314a56748c030f58d21d,,,"
        "0,0,0,0,0,0,0,0,0,0\n"
    ).encode()
    result = parse_yubico_log(data, mode=ImportMode.GOOD_ONES)
    (seed,) = result.seeds
    assert (seed.serial, seed.slot, seed.public_id) == ("4711", 2, public_id)
    (reject,) = result.rejects
    assert reject.position == 3 and "no serial number" in reject.problem and "Yubico format" in reject.hint
    assert len(result.notes) == 1 and "Static Password" in result.notes[0]


def test_same_key_twice_in_a_log_is_a_duplicate():
    data = (ykman_line(20261203) + "\n" + ykman_line(20261203) + "\n").encode()
    with pytest.raises(SeedFileRejected, match="appears more than once"):
        parse_yubico_log(data)
