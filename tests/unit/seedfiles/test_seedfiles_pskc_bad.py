"""Hand-made bad PSKC files: each is refused with an error that says what is wrong, and no secret leaks."""

import re

import pytest
from seedfile_helpers import DATA, HOTP_CAROL, TOTP_ALICE, FixedRandom

from station.seedfiles import (
    ImportMode,
    PresharedKey,
    SeedFileError,
    SeedFileRejected,
    WrongKeyError,
    parse_pskc,
    write_pskc,
)
from station.seedfiles.policy import DEFAULT_MAX_BYTES

RFC = DATA / "rfc6030"
PSK = bytes.fromhex("12345678901234567890123456789012")
KEY = bytes(range(16))


def two_entry_file() -> bytes:
    return write_pskc([TOTP_ALICE, HOTP_CAROL], protection=PresharedKey(KEY), random_bytes=FixedRandom())


def tamper_nth(data: bytes, tag: bytes, n: int, change) -> bytes:
    """Apply `change` to the text of the n-th (1-based) <tag> element."""
    matches = list(re.finditer(rb"(<" + tag + rb">)([^<]*)(</" + tag + rb">)", data))
    m = matches[n - 1]
    return data[: m.start(2)] + change(m.group(2)) + data[m.end(2) :]


def flip_b64(text: bytes) -> bytes:
    text = text.strip()
    return (b"B" if text[:1] == b"A" else b"A") + text[1:]


def assert_no_secret_in(text: str) -> None:
    for seed in (TOTP_ALICE, HOTP_CAROL):
        assert seed.secret.hex() not in text.lower()
        assert seed.secret.decode("latin-1") not in text


def test_tampered_mac_names_the_entry_and_imports_nothing():
    bad = tamper_nth(two_entry_file(), b"pskc:ValueMAC", 2, flip_b64)
    with pytest.raises(SeedFileRejected) as err:
        parse_pskc(bad, preshared_key=KEY)
    (reject,) = err.value.rejects
    assert (reject.position, reject.serial) == (2, HOTP_CAROL.serial)
    assert "MAC of the secret does not match" in reject.problem
    assert err.value.good == 1 and "nothing was imported" in err.value.message
    assert_no_secret_in(err.value.message + err.value.hint)


def test_tampered_mac_good_ones_mode_returns_the_good_entry_and_the_reject():
    bad = tamper_nth(two_entry_file(), b"pskc:ValueMAC", 2, flip_b64)
    result = parse_pskc(bad, preshared_key=KEY, mode=ImportMode.GOOD_ONES)
    assert [s.serial for s in result.seeds] == [TOTP_ALICE.serial]
    assert [r.serial for r in result.rejects] == [HOTP_CAROL.serial]


def test_tampered_mac_on_rfc_figure6():
    bad = (RFC / "figure6.pskcxml").read_bytes().replace(b"Su+NvtQfmvfJ", b"Su+NvtQfmvfK")
    with pytest.raises(SeedFileRejected, match=r"entry 1 \(serial 987654321\): the MAC"):
        parse_pskc(bad, preshared_key=PSK)


def test_tampered_ciphertext_is_caught_by_the_mac():
    bad = tamper_nth(two_entry_file(), b"xenc:CipherValue", 2, flip_b64)  # 1st is the MAC key
    with pytest.raises(SeedFileRejected) as err:
        parse_pskc(bad, preshared_key=KEY)
    assert [r.position for r in err.value.rejects] == [1]
    assert "MAC" in err.value.rejects[0].problem


def test_wrong_password_on_rfc_figure7():
    with pytest.raises(WrongKeyError, match="password does not open") as err:
        parse_pskc((RFC / "figure7.pskcxml").read_bytes(), password="qwertz")
    assert "password" in err.value.hint


def test_wrong_preshared_key():
    with pytest.raises(WrongKeyError, match="pre-shared key does not open"):
        parse_pskc(two_entry_file(), preshared_key=bytes(16))


def test_preshared_key_of_the_wrong_length():
    with pytest.raises(SeedFileError, match="needs a 16-byte key; the key given is 32 bytes"):
        parse_pskc(two_entry_file(), preshared_key=bytes(32))


def test_missing_password():
    with pytest.raises(SeedFileError, match="protected by a password 'My Password 1', and no password"):
        parse_pskc((RFC / "figure7.pskcxml").read_bytes())


def test_missing_keycontainer():
    data = b'<?xml version="1.0"?><KeyPackage xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>'
    with pytest.raises(SeedFileError, match="no PSKC KeyContainer: its root element is") as err:
        parse_pskc(data)
    assert "KeyContainer" in err.value.hint


def test_unknown_algorithm():
    ocra = b"urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1:HOTP-SHA512-8:C-QN08"
    data = (RFC / "figure3.pskcxml").read_bytes().replace(b"urn:ietf:params:xml:ns:keyprov:pskc:hotp", ocra)
    with pytest.raises(SeedFileRejected) as err:
        parse_pskc(data)
    (reject,) = err.value.rejects
    assert reject.serial == "987654321" and "algorithm" in reject.problem and "OCRA" in reject.problem


def test_unsupported_encryption_algorithm():
    data = (RFC / "figure6.pskcxml").read_bytes().replace(b"#aes128-cbc", b"#tripledes-cbc")
    with pytest.raises(SeedFileError, match="MAC key is malformed: encrypted with .*tripledes-cbc"):
        parse_pskc(data, preshared_key=PSK)


def test_cbc_secret_without_a_mac_is_rejected():
    data = re.sub(rb"<ValueMAC>[^<]*</ValueMAC>", b"", (RFC / "figure6.pskcxml").read_bytes())
    with pytest.raises(SeedFileRejected, match="without a ValueMAC"):
        parse_pskc(data, preshared_key=PSK)


def test_external_entity_is_refused_before_anything_is_read(tmp_path):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("do not read me")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE KeyContainer [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'
        '<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"><KeyPackage><DeviceInfo>'
        "<SerialNo>&xxe;</SerialNo></DeviceInfo></KeyPackage></KeyContainer>"
    ).encode()
    with pytest.raises(SeedFileError, match="external entity .*xxe.*XXE") as err:
        parse_pskc(data)
    assert "do not read me" not in err.value.message
    assert "Do not import this file" in err.value.hint


def test_billion_laughs_is_refused():
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    data = (
        f'<?xml version="1.0"?><!DOCTYPE KeyContainer [<!ENTITY lol0 "lol">{lol}]>'
        '<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">&lol9;</KeyContainer>'
    ).encode()
    with pytest.raises(SeedFileError, match="billion laughs"):
        parse_pskc(data)


def test_huge_file_is_refused_before_parsing():
    data = b"<KeyContainer>" + b" " * DEFAULT_MAX_BYTES + b"</KeyContainer>"
    with pytest.raises(SeedFileError, match=r"over the limit of 33,554,432 bytes; it was not read") as err:
        parse_pskc(data)
    assert "split it" in err.value.hint


def test_a_smaller_limit_can_be_set():
    with pytest.raises(SeedFileError, match="over the limit of 100 bytes"):
        parse_pskc((RFC / "figure2.pskcxml").read_bytes(), max_bytes=100)


def test_not_xml():
    with pytest.raises(SeedFileError, match=r"not well-formed XML \(line 1, column"):
        parse_pskc(b"serial,secret\n1,abc\n")


def test_wrong_version():
    data = (RFC / "figure2.pskcxml").read_bytes().replace(b'Version="1.0"', b'Version="2.0"')
    with pytest.raises(SeedFileError, match="version '2.0'"):
        parse_pskc(data)


def test_duplicate_serial_rejects_both_entries():
    data = write_pskc([TOTP_ALICE, HOTP_CAROL, TOTP_ALICE])
    with pytest.raises(SeedFileRejected) as err:
        parse_pskc(data)
    serial = TOTP_ALICE.serial
    assert [(r.position, r.serial) for r in err.value.rejects] == [(1, serial), (3, serial)]
    assert "appears more than once (entry 1, entry 3)" in err.value.rejects[0].problem


def test_every_bad_entry_is_named():
    data = write_pskc([TOTP_ALICE, HOTP_CAROL]).replace(b"pskc:totp", b"pskc:mystery")
    data = data.replace(b'Length="6"', b'Length="3"', 2)
    with pytest.raises(SeedFileRejected) as err:
        parse_pskc(data)
    assert [r.position for r in err.value.rejects] == [1, 2]
    assert "algorithm" in err.value.rejects[0].problem and "3 digits" in err.value.rejects[1].problem


def test_plain_file_without_namespace_is_read():
    data = b'<KeyContainer Version="1.0"><KeyPackage>'
    data += b'<Key Id="7" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp"><Data><Secret>'
    data += b"<PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data></Key></KeyPackage>"
    data += b"</KeyContainer>"
    (seed,) = parse_pskc(data).seeds
    assert seed.serial == "7" and seed.secret == b"12345678901234567890"


def test_seed_repr_shows_no_secret():
    text = repr(TOTP_ALICE) + repr(HOTP_CAROL)
    assert_no_secret_in(text)
    assert "secret=" not in text
