"""Every writer: golden files, the IdP's published rules, refusals with reasons, and round trips that
keep every code identical (pyotp for OATH, the Yubico OTP algorithm for YubiKeys). PSKC exports also
decrypt and verify with python-pskc, an implementation independent of ours.

Regenerate the golden files after a deliberate format change with SEEDFILES_REGENERATE=1.
"""

import base64
import dataclasses
import io
import json
import os

import pskc
import pytest
from seedfile_helpers import (
    ALL_SEEDS,
    DATA,
    HOTP_8,
    HOTP_CAROL,
    OATH_SEEDS,
    TOTP_ALICE,
    TOTP_BOB_60,
    TOTP_SHA256_8,
    TOTP_SHA512,
    WHEN,
    YUBIOTP,
    FixedRandom,
    codes,
)
from ykman.otp import format_csv

from station.seedfiles import (
    ExportRefused,
    OtpKind,
    Password,
    PresharedKey,
    SecretEncoding,
    entra_csv_problems,
    graph_hardware_oath_body,
    parse_otpauth_uris,
    parse_privacyidea_csv,
    parse_pskc,
    parse_serial_secret_csv,
    parse_vendor_csv,
    parse_yubico_log,
    write_duo_batches,
    write_entra_csv,
    write_okta_yubikey_seeds,
    write_otpauth_uris,
    write_privacyidea_csv,
    write_privacyidea_pskc,
    write_pskc,
)
from station.seedfiles import pskc_crypto as pc

GOLDEN = DATA / "golden"
PSK = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
PSK256 = bytes(range(32, 64))
PASSWORD = "correct horse battery staple"
TOTP_SHA256_6 = dataclasses.replace(TOTP_SHA256_8, digits=6)
ENTRA = (TOTP_ALICE, TOTP_BOB_60)
DUO = (TOTP_ALICE, TOTP_BOB_60, HOTP_CAROL, HOTP_8, YUBIOTP)


def exports() -> dict[str, bytes]:
    out = {
        "pskc-plain.xml": write_pskc(ALL_SEEDS),
        "pskc-preshared-aes128.xml": write_pskc(
            ALL_SEEDS, protection=PresharedKey(PSK), random_bytes=FixedRandom()
        ),
        "pskc-preshared-aes256-hmac-sha256.xml": write_pskc(
            ALL_SEEDS,
            protection=PresharedKey(PSK256, cipher=pc.AES256_CBC, mac=pc.HMAC_SHA256),
            random_bytes=FixedRandom(),
        ),
        "pskc-preshared-kw-aes128.xml": write_pskc(
            ALL_SEEDS, protection=PresharedKey(PSK, cipher=pc.KW_AES128), random_bytes=FixedRandom()
        ),
        # 1,000 iterations keep the test quick; the default is DEFAULT_ITERATIONS.
        "pskc-password.xml": write_pskc(
            ALL_SEEDS, protection=Password(PASSWORD, iterations=1000), random_bytes=FixedRandom()
        ),
        "privacyidea.pskc.xml": write_privacyidea_pskc(
            ALL_SEEDS, PresharedKey(PSK), random_bytes=FixedRandom()
        ),
        "privacyidea-v2.csv": write_privacyidea_csv(OATH_SEEDS),
        "entra.csv": write_entra_csv(ENTRA),
        "entra-graph.json": graph_hardware_oath_body((*ENTRA, TOTP_SHA256_6)),
        "okta-yubikey.csv": write_okta_yubikey_seeds([YUBIOTP], when=WHEN),
        "otpauth.txt": write_otpauth_uris(OATH_SEEDS, for_testing_only=True),
    }
    for batch in write_duo_batches(DUO):
        out[f"duo-{batch.token_type}.csv"] = batch.content
    return out


@pytest.mark.parametrize("name", sorted(exports()))
def test_golden_file(name):
    produced = exports()[name]
    path = GOLDEN / name
    if os.environ.get("SEEDFILES_REGENERATE") == "1":
        path.write_bytes(produced)
    assert produced == path.read_bytes(), f"{name} differs from its golden file"


def same_credential(a, b, fields=("serial", "kind", "secret", "digits", "algorithm")):
    for name in fields:
        assert getattr(a, name) == getattr(b, name), (a.serial, name)
    assert codes(a) == codes(b)


# --- PSKC ----------------------------------------------------------------------------------------

PSKC_FIELDS = (
    "serial",
    "kind",
    "secret",
    "digits",
    "algorithm",
    "period",
    "counter",
    "public_id",
    "private_id",
)


@pytest.mark.parametrize(
    "name, unlock",
    [
        ("pskc-plain.xml", {}),
        ("pskc-preshared-aes128.xml", {"preshared_key": PSK}),
        ("pskc-preshared-aes256-hmac-sha256.xml", {"preshared_key": PSK256}),
        ("pskc-preshared-kw-aes128.xml", {"preshared_key": PSK}),
        ("pskc-password.xml", {"password": PASSWORD}),
        ("privacyidea.pskc.xml", {"preshared_key": PSK}),
    ],
)
def test_pskc_round_trip_keeps_every_code(name, unlock):
    result = parse_pskc(exports()[name], **unlock)
    assert len(result.seeds) == len(ALL_SEEDS) and not result.rejects
    for original, again in zip(ALL_SEEDS, result.seeds, strict=True):
        same_credential(original, again, PSKC_FIELDS)
        assert (again.owner or again.public_id) and again.slot == original.slot


@pytest.mark.parametrize(
    "name, unlock",
    [
        ("pskc-preshared-aes128.xml", {"key": PSK}),
        ("pskc-preshared-aes256-hmac-sha256.xml", {"key": PSK256}),
        ("pskc-preshared-kw-aes128.xml", {"key": PSK}),
        ("pskc-password.xml", {"password": PASSWORD}),
        ("privacyidea.pskc.xml", {"key": PSK}),
    ],
)
def test_pskc_exports_decrypt_and_verify_with_python_pskc(name, unlock):
    container = pskc.PSKC(io.BytesIO(exports()[name]))
    if "key" in unlock:
        container.encryption.key = unlock["key"]
    else:
        container.encryption.derive_key(unlock["password"])
    otp_keys = [k for k in container.keys if not k.algorithm.endswith(":pin")]
    # python-pskc checks each ValueMAC when the secret is read and raises on a mismatch.
    assert [k.secret for k in otp_keys] == [s.secret for s in ALL_SEEDS]
    assert [k.serial for k in otp_keys] == [s.serial for s in ALL_SEEDS]
    for key, seed in zip(otp_keys, ALL_SEEDS, strict=True):
        if seed.kind is OtpKind.YUBICO_OTP:
            assert key.algorithm == "http://www.yubico.com/#yubikey-aes" and key.id == f"{seed.serial}:1"
            continue
        assert key.response_length == seed.digits and key.algorithm_suite == seed.algorithm.value
        assert (key.counter if seed.kind is OtpKind.HOTP else key.time_interval) == (
            seed.counter if seed.kind is OtpKind.HOTP else seed.period
        )


def test_python_pskc_notices_a_tampered_export():
    data = exports()["pskc-preshared-aes128.xml"]
    start = data.index(b"<pskc:ValueMAC>") + len(b"<pskc:ValueMAC>")
    tampered = data[:start] + (b"A" if data[start : start + 1] != b"A" else b"B") + data[start + 1 :]
    container = pskc.PSKC(io.BytesIO(tampered))
    container.encryption.key = PSK
    with pytest.raises(pskc.exceptions.DecryptionError):
        _ = container.keys[0].secret


def test_pin_goes_out_as_a_pin_key_and_comes_back():
    seed = dataclasses.replace(HOTP_CAROL, pin=b"2468")
    (again,) = parse_pskc(write_pskc([seed], protection=PresharedKey(PSK)), preshared_key=PSK).seeds
    assert again.pin == b"2468"


def test_privacyidea_pskc_leaves_pins_out():
    seed = dataclasses.replace(HOTP_CAROL, pin=b"2468")
    data = write_privacyidea_pskc([seed], PresharedKey(PSK))
    assert b"pskc:pin" not in data and b"PINPolicy" not in data


def test_password_export_uses_the_default_iterations():
    data = write_pskc([TOTP_ALICE], protection=Password(PASSWORD))
    assert b"<IterationCount>600000</IterationCount>" in data
    assert parse_pskc(data, password=PASSWORD).seeds[0].secret == TOTP_ALICE.secret


# --- Entra ---------------------------------------------------------------------------------------


def test_entra_csv_follows_the_upload_rules_and_round_trips():
    data = exports()["entra.csv"]
    assert entra_csv_problems(data) == []
    assert data.startswith(b"upn,serial number,secret key,time interval,manufacturer,model\n")
    again = parse_vendor_csv(data).seeds
    for original, seed in zip(ENTRA, again, strict=True):
        same_credential(original, seed, ("serial", "secret", "period", "owner", "manufacturer", "model"))


def test_entra_rules_checker_catches_each_rule():
    header = "upn,serial number,secret key,time interval,manufacturer,model\n"
    assert entra_csv_problems(b"serial,secret\n1,ABC\n") == [
        "the first line is not the header upn,serial number,secret key,time interval,manufacturer,model"
    ]
    bad = header + "a@x,1,GEZDGNBV====,30,M,X\nb@x,2," + "A" * 129 + ",45,M,X\nc@x,3,GEZDGNBV,30,,X\n"
    assert entra_csv_problems(bad.encode()) == [
        "line 2: the secret key is not Base32 (a-z, A-Z, 2-7)",
        "line 3: the secret key is over 128 characters",
        "line 3: the time interval is not 30 or 60",
        "line 4: an empty upn, serial number, manufacturer or model",
    ]


def test_entra_refuses_what_it_cannot_take_with_the_reason():
    long_secret = dataclasses.replace(TOTP_ALICE, serial="L1", secret=bytes(81))
    odd_step = dataclasses.replace(TOTP_ALICE, serial="S1", period=45)
    no_owner = dataclasses.replace(TOTP_ALICE, serial="N1", owner="")
    with pytest.raises(ExportRefused) as err:
        write_entra_csv([TOTP_ALICE, HOTP_CAROL, TOTP_SHA256_8, YUBIOTP, long_secret, odd_step, no_owner])
    reasons = dict(err.value.refusals)
    assert TOTP_ALICE.serial not in reasons
    assert "TOTP hardware tokens only, this is HOTP" in reasons[HOTP_CAROL.serial]
    assert "6-digit codes" in reasons[TOTP_SHA256_8.serial]
    assert "YUBICO-OTP" in reasons[YUBIOTP.serial]
    assert "longer than Entra's 128 characters" in reasons["L1"]
    assert "30 or 60 second" in reasons["S1"]
    assert "no owner" in reasons["N1"]
    assert HOTP_CAROL.secret.hex() not in err.value.message


def test_entra_csv_is_sha1_only_but_graph_takes_sha256():
    with pytest.raises(ExportRefused, match="the CSV upload is SHA-1 only"):
        write_entra_csv([TOTP_SHA256_6])
    with pytest.raises(ExportRefused, match="HMAC-SHA1 or HMAC-SHA256, this token uses SHA512"):
        graph_hardware_oath_body([TOTP_SHA512])


def test_graph_body_fields_and_codes():
    body = json.loads(exports()["entra-graph.json"])
    assert body["@context"] == "#$delta"
    for number, (device, seed) in enumerate(
        zip(body["value"], (*ENTRA, TOTP_SHA256_6), strict=True), start=1
    ):
        assert device["@contentId"] == str(number)
        assert device["serialNumber"] == seed.serial and device["timeIntervalInSeconds"] == seed.period
        assert device["hashFunction"] == {"SHA1": "hmacsha1", "SHA256": "hmacsha256"}[seed.algorithm.value]
        assert device["assignTo"] == {"id": seed.owner}
        secret = base64.b32decode(device["secretKey"] + "=" * (-len(device["secretKey"]) % 8))
        same_credential(seed, dataclasses.replace(seed, secret=secret))


# --- Duo -----------------------------------------------------------------------------------------


def test_duo_batches_round_trip():
    batches = {b.token_type: b for b in write_duo_batches(DUO)}
    assert set(batches) == {"t6-30", "t6-60", "h6", "h8", "yk"}
    for seed in DUO:
        if seed.kind is OtpKind.YUBICO_OTP:
            assert (
                batches["yk"].content
                == f"{seed.serial},{seed.private_id.hex()},{seed.secret.hex()}\n".encode()
            )
            continue
        token_type = f"h{seed.digits}" if seed.kind is OtpKind.HOTP else f"t{seed.digits}-{seed.period}"
        again = parse_serial_secret_csv(
            batches[token_type].content,
            kind=seed.kind,
            digits=seed.digits,
            period=seed.period,
            secret_encoding=SecretEncoding.HEX,
        ).seeds
        (match,) = [s for s in again if s.serial == seed.serial]
        same_credential(seed, match, ("serial", "secret", "counter"))


def test_duo_refuses_other_hashes():
    with pytest.raises(ExportRefused, match="HMAC-SHA1 only, this token uses SHA256"):
        write_duo_batches([TOTP_SHA256_8])


# --- privacyIDEA, Okta, otpauth -------------------------------------------------------------------


def test_privacyidea_csv_round_trip():
    data = exports()["privacyidea-v2.csv"]
    assert data.startswith(b"# version: 2\n")
    for original, again in zip(OATH_SEEDS, parse_privacyidea_csv(data).seeds, strict=True):
        same_credential(original, again, (*PSKC_FIELDS[:7], "owner"))


def test_privacyidea_csv_refuses_a_hash_its_reader_would_misread():
    sha256_short = dataclasses.replace(TOTP_ALICE, algorithm=TOTP_SHA256_8.algorithm)
    with pytest.raises(ExportRefused) as err:
        write_privacyidea_csv([sha256_short, YUBIOTP])
    reasons = dict(err.value.refusals)
    assert "would read a 20-byte seed as SHA1" in reasons[TOTP_ALICE.serial]
    assert "as PSKC" in reasons[YUBIOTP.serial]


def test_okta_seed_file_is_ykmans_yubico_format_and_round_trips():
    data = exports()["okta-yubikey.csv"]
    ykman_line = format_csv(
        int(YUBIOTP.serial),
        base64.b16decode(YUBIOTP.public_id.translate(str.maketrans("cbdefghijklnrtuv", "0123456789ABCDEF"))),
        YUBIOTP.private_id,
        YUBIOTP.secret,
        None,
        WHEN.replace(tzinfo=None),
    )
    assert data == (ykman_line + "\n").encode()
    (again,) = parse_yubico_log(data).seeds
    same_credential(YUBIOTP, again, ("serial", "kind", "secret", "public_id", "private_id"))


def test_okta_refuses_oath_tokens():
    with pytest.raises(ExportRefused, match="Yubico OTP keys only, this is HOTP"):
        write_okta_yubikey_seeds([HOTP_CAROL], when=WHEN)


def test_otpauth_needs_the_test_acknowledgement_and_round_trips():
    with pytest.raises(ExportRefused) as err:
        write_otpauth_uris([TOTP_ALICE])
    assert "test setups" in err.value.hint
    again = parse_otpauth_uris(exports()["otpauth.txt"]).seeds
    for original, seed in zip(OATH_SEEDS, again, strict=True):
        same_credential(original, dataclasses.replace(seed, serial=original.serial))
