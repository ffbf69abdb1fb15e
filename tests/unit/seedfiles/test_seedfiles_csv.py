"""CSV seed files: serial,secret (hex or base32, decided per file), vendor Entra-style, privacyIDEA."""

import base64

import pytest

from station.seedfiles import (
    HashAlgorithm,
    ImportMode,
    OtpKind,
    SecretEncoding,
    SeedFileError,
    SeedFileRejected,
    parse_privacyidea_csv,
    parse_serial_secret_csv,
    parse_vendor_csv,
)

HEX = "3132333435363738393031323334353637383930"  # RFC 4226's secret
B32 = base64.b32encode(bytes.fromhex(HEX)).decode()  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ


def test_hex_secrets_are_recognised_with_a_header_line():
    data = f"Serial Number,Seed\n1001,{HEX}\n1002,{HEX[::-1]}\n".encode()
    result = parse_serial_secret_csv(data, kind=OtpKind.TOTP, period=60)
    assert [(s.serial, s.secret.hex(), s.period) for s in result.seeds] == [
        ("1001", HEX, 60),
        ("1002", HEX[::-1], 60),
    ]


def test_base32_secrets_with_spaces_and_lower_case():
    grouped = " ".join(B32[i : i + 4] for i in range(0, len(B32), 4)).lower()
    data = f"1001,{grouped}\n1002,{B32}\n".encode()
    result = parse_serial_secret_csv(data, kind=OtpKind.HOTP)
    assert all(s.secret == b"12345678901234567890" for s in result.seeds)


def test_hotp_counter_in_the_third_column():
    (seed,) = parse_serial_secret_csv(f"1001,{HEX},42\n".encode(), kind=OtpKind.HOTP).seeds
    assert seed.counter == 42


def test_secrets_that_read_as_both_encodings_need_to_be_told():
    ambiguous = "ABCDEF234567ABCDEF234567ABCDEF23"
    data = f"1001,{ambiguous}\n".encode()
    with pytest.raises(SeedFileError, match="reads both as hex and as base32") as err:
        parse_serial_secret_csv(data, kind=OtpKind.TOTP)
    assert "secret_encoding" in err.value.hint
    as_hex = parse_serial_secret_csv(data, kind=OtpKind.TOTP, secret_encoding=SecretEncoding.HEX)
    as_b32 = parse_serial_secret_csv(data, kind=OtpKind.TOTP, secret_encoding=SecretEncoding.BASE32)
    assert as_hex.seeds[0].secret != as_b32.seeds[0].secret


def test_one_ambiguous_secret_follows_the_rest_of_the_file():
    data = f"1001,{HEX}\n1002,ABCDEF234567ABCDEF234567ABCDEF23\n".encode()
    result = parse_serial_secret_csv(data, kind=OtpKind.TOTP)
    assert result.seeds[1].secret == bytes.fromhex("ABCDEF234567ABCDEF234567ABCDEF23")


def test_mixed_encodings_are_refused_for_the_file():
    data = f"1001,{HEX}\n1002,{B32}\n".encode()
    with pytest.raises(SeedFileError, match="some secrets are only valid hex and others only valid base32"):
        parse_serial_secret_csv(data, kind=OtpKind.TOTP)


def test_a_bad_secret_and_a_short_line_are_both_named():
    data = f"1001,{HEX}\n1002,{HEX[:-1]}\n1003\n".encode()
    with pytest.raises(SeedFileRejected) as err:
        parse_serial_secret_csv(data, kind=OtpKind.TOTP)
    assert [(r.position, r.serial) for r in err.value.rejects] == [(2, "1002"), (3, "1003")]
    assert "not valid hex" in err.value.rejects[0].problem
    assert HEX[:-1] not in err.value.message


def test_duplicate_serial_in_csv():
    data = f"1001,{HEX}\n1002,{HEX}\n1001,{HEX}\n".encode()
    result = parse_serial_secret_csv(data, kind=OtpKind.TOTP, mode=ImportMode.GOOD_ONES)
    assert [s.serial for s in result.seeds] == ["1002"]
    assert [r.position for r in result.rejects] == [1, 3]


def test_not_utf8_and_utf16_files_are_explained():
    with pytest.raises(SeedFileError, match="not UTF-8"):
        parse_serial_secret_csv(b"1001,\xff\xfe\n", kind=OtpKind.TOTP)
    with pytest.raises(SeedFileError, match="NUL bytes"):
        parse_serial_secret_csv("1001,abcd\n".encode("utf-16"), kind=OtpKind.TOTP)


def test_yubico_otp_cannot_come_from_serial_secret():
    with pytest.raises(SeedFileError, match="public and a private id"):
        parse_serial_secret_csv(b"1,2\n", kind=OtpKind.YUBICO_OTP)


# Microsoft's example row ("Upload hardware OATH tokens in CSV format") and Deepnet's SafeID sample.
ENTRA_EXAMPLE = (
    b"upn,serial number,secret key,time interval,manufacturer,model\n"
    b"Helga@contoso.com,1234567,2234567abcdef2234567abcdef,60,Contoso,HardwareKey\n"
)
DEEPNET_EXAMPLE = (
    b"serial number,secret key,time interval,manufacturer,model\n"
    b"10001001,234567ABCDEFGHIJKLMNOPQRSTUVWXYZ,60,Deepnet Security,SafeID/Classic\n"
    b"10001002,ZYXWVUTSRQPONMLKJIHGFEDCBA765432,60,Deepnet Security,SafeID/Classic\n"
)


def test_entra_example_row():
    (seed,) = parse_vendor_csv(ENTRA_EXAMPLE).seeds
    assert (seed.owner, seed.serial, seed.period, seed.manufacturer, seed.model) == (
        "Helga@contoso.com",
        "1234567",
        60,
        "Contoso",
        "HardwareKey",
    )
    assert seed.kind is OtpKind.TOTP and seed.secret == base64.b32decode("2234567ABCDEF2234567ABCDEF======")


def test_deepnet_sample_without_upn():
    result = parse_vendor_csv(DEEPNET_EXAMPLE)
    assert [s.serial for s in result.seeds] == ["10001001", "10001002"]
    assert result.seeds[0].secret == base64.b32decode("234567ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert all(s.owner == "" and s.period == 60 for s in result.seeds)


def test_vendor_hex_file_gets_a_hint():
    data = f"serial number,secret key,time interval\n1,{HEX},30\n".encode()
    with pytest.raises(SeedFileRejected) as err:
        parse_vendor_csv(data)
    assert "secret_encoding=hex" in err.value.rejects[0].hint
    (seed,) = parse_vendor_csv(data, secret_encoding=SecretEncoding.HEX).seeds
    assert seed.secret.hex() == HEX


def test_vendor_file_without_header():
    with pytest.raises(SeedFileError, match="lacks secret and serial") as err:
        parse_vendor_csv(f"1,{B32},30\n".encode())
    assert "serial,secret layout" in err.value.hint


def test_privacyidea_v1_lines():
    data = (
        f"# a comment\n"
        f"t1, {HEX}\n"
        f"t2, {HEX}, totp, 8\n"
        f"t3, {HEX}, hotp, 6, 17\n"
        f"t4, {HEX}, totp, 6, 60\n"
        f"t5, {'31' * 32}, totp, 8, 30\n"
        f"t6, {'31' * 64}, totp, 8, 30\n"
    ).encode()
    seeds = {s.serial: s for s in parse_privacyidea_csv(data).seeds}
    assert (seeds["t1"].kind, seeds["t1"].digits, seeds["t1"].counter) == (OtpKind.HOTP, 6, 0)
    assert (seeds["t2"].kind, seeds["t2"].digits, seeds["t2"].period) == (OtpKind.TOTP, 8, 30)
    assert seeds["t3"].counter == 17 and seeds["t4"].period == 60
    assert seeds["t5"].algorithm is HashAlgorithm.SHA256 and seeds["t6"].algorithm is HashAlgorithm.SHA512


def test_privacyidea_v2_user_columns():
    data = f"# version: 2\nalice, ldap, corp, t1, {HEX}, totp, 6, 30\n, , , t2, {HEX}, hotp, 6, 3\n".encode()
    first, second = parse_privacyidea_csv(data).seeds
    assert (first.owner, first.owner_resolver, first.owner_realm, first.serial) == (
        "alice",
        "ldap",
        "corp",
        "t1",
    )
    assert second.owner == "" and second.counter == 3


def test_privacyidea_unknown_type_and_bad_seed():
    data = f"t1, {HEX}, ocra, OCRA-1:HOTP-SHA1-6:QN08\nt2, {B32}, totp\nt3, {HEX}, totp, 6, 30\n".encode()
    with pytest.raises(SeedFileRejected) as err:
        parse_privacyidea_csv(data)
    assert [(r.position, r.serial) for r in err.value.rejects] == [(1, "t1"), (2, "t2")]
    assert (
        "'ocra' is unknown" in err.value.rejects[0].problem
        and "not valid hex" in err.value.rejects[1].problem
    )
