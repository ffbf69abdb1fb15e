"""RFC 6030's examples import with the right secrets, figure by figure, MACs included.

python-pskc (Arthur de Jong) reads the same files as an independent check of the secrets.
"""

import io

import pskc
import pytest
from seedfile_helpers import DATA

from station.seedfiles import ImportMode, OtpKind, SeedFileError, SeedFileRejected, parse_pskc

RFC = DATA / "rfc6030"
PSK = bytes.fromhex("12345678901234567890123456789012")
SECRET = b"12345678901234567890"  # the RFC's HOTP secret, "3132...30" in hex


def figure(n: int) -> bytes:
    return (RFC / f"figure{n}.pskcxml").read_bytes()


def python_pskc_secrets(n: int, **unlock: object) -> list[bytes]:
    container = pskc.PSKC(io.BytesIO(figure(n)))
    if "key" in unlock:
        container.encryption.key = unlock["key"]
    if "password" in unlock:
        container.encryption.derive_key(unlock["password"])
    return [k.secret for k in container.keys if k.algorithm and not k.algorithm.endswith("pin")]


def test_figure2_basic_container():
    result = parse_pskc(figure(2))
    (seed,) = result.seeds
    assert result.notes == (
        "serial 12345678: the secret is 4 bytes, under RFC 4226's 128-bit minimum; the station's code "
        "checker (pyotp) refuses secrets under 112 bits",
    )
    assert (seed.serial, seed.kind, seed.secret) == ("12345678", OtpKind.HOTP, b"1234")
    assert seed.issuer == "Issuer-A"
    assert [seed.secret] == python_pskc_secrets(2)


def test_figure3_supplementary_data():
    (seed,) = parse_pskc(figure(3)).seeds
    assert seed.serial == "987654321" and seed.manufacturer == "Manufacturer"
    assert seed.secret == SECRET and seed.digits == 8 and seed.counter == 0
    assert seed.owner == "UID=jsmith,DC=example-bank,DC=net"
    assert [seed.secret] == python_pskc_secrets(3)


def test_figure4_key_derivation_values_carry_no_secret():
    with pytest.raises(SeedFileRejected) as err:
        parse_pskc(figure(4))
    (reject,) = err.value.rejects
    assert (reject.position, reject.serial) == (1, "987654321")
    assert "no secret" in reject.problem and "MasterKeyLabel" in reject.problem


def test_figure5_pin_key_is_the_hotp_keys_pin():
    result = parse_pskc(figure(5))
    (seed,) = result.seeds
    assert seed.secret == SECRET and seed.pin == b"1234" and not result.rejects


def test_figure6_preshared_aes128_cbc_with_hmac_sha1():
    (seed,) = parse_pskc(figure(6), preshared_key=PSK).seeds
    assert (seed.serial, seed.secret, seed.digits) == ("987654321", SECRET, 8)
    assert [seed.secret] == python_pskc_secrets(6, key=PSK)


def test_figure6_needs_the_key():
    with pytest.raises(SeedFileError, match="pre-shared key 'Pre-shared-key'") as err:
        parse_pskc(figure(6))
    assert "pre-shared key" in err.value.hint


def test_figure7_pbkdf2_password():
    (seed,) = parse_pskc(figure(7), password="qwerty").seeds
    assert (seed.serial, seed.secret, seed.manufacturer) == ("987654321", SECRET, "TokenVendorAcme")
    assert [seed.secret] == python_pskc_secrets(7, password="qwerty")


def test_figure8_asymmetric_encryption_is_refused_with_the_reason():
    with pytest.raises(SeedFileError, match="encrypted to a certificate") as err:
        parse_pskc(figure(8))
    assert "pre-shared AES key or a password" in err.value.hint


def test_figure9_signed_container_imports_and_says_the_signature_was_not_checked():
    result = parse_pskc(figure(9))
    (seed,) = result.seeds
    assert (seed.serial, seed.secret, seed.digits) == ("0755225266", SECRET, 6)
    assert any("did not verify the signature" in n for n in result.notes)


def test_figure10_bulk_one_device_with_successive_keys_is_not_a_duplicate():
    result = parse_pskc(figure(10))
    assert [s.serial for s in result.seeds] == ["654321", "123456", "9999999", "9999999"]
    assert all(s.secret == SECRET for s in result.seeds)
    march, april = result.seeds[2:]
    assert march.valid_until < april.valid_from


def test_good_ones_mode_keeps_the_good_and_lists_figure4s_entry():
    result = parse_pskc(figure(4), mode=ImportMode.GOOD_ONES)
    assert result.seeds == () and len(result.rejects) == 1


def test_yubico_pskc_profile_example():
    (seed,) = parse_pskc((DATA / "yubico-pskc-draft-example1.pskcxml").read_bytes()).seeds
    assert (seed.serial, seed.slot, seed.kind) == ("283599", 1, OtpKind.YUBICO_OTP)
    assert (seed.public_id, seed.private_id.hex()) == ("ekhgjhbctrgn", "ca62baca62ba")
    assert seed.secret == bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
