"""The virtual key's OATH applet, driven through yubikit's own OathSession in-process."""

from __future__ import annotations

import pytest
from yubikit.core.smartcard import SW, ApduError
from yubikit.oath import (
    HASH_ALGORITHM,
    OATH_TYPE,
    CredentialData,
    OathSession,
    _format_code,
)

from drivers.emulator import VirtualConnection, VirtualYubiKey

SEED = b"12345678901234567890"
SEEDS = {
    HASH_ALGORITHM.SHA1: SEED,
    HASH_ALGORITHM.SHA256: (SEED * 2)[:32],
    HASH_ALGORITHM.SHA512: (SEED * 4)[:64],
}
# RFC 6238 appendix B, 8 digits.
RFC6238 = {
    59: ("94287082", "46119246", "90693936"),
    1111111109: ("07081804", "68084774", "25091201"),
    1111111111: ("14050471", "67062674", "99943326"),
    1234567890: ("89005924", "91819424", "93441116"),
    2000000000: ("69279037", "90698825", "38618901"),
    20000000000: ("65353130", "77737706", "47863826"),
}
# RFC 4226 appendix D, counters 0..9, 6 digits.
RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


def session(key: VirtualYubiKey) -> OathSession:
    return OathSession(VirtualConnection(key))


def totp(name: str, algo: HASH_ALGORITHM, digits: int = 8, secret: bytes | None = None):
    return CredentialData(name, OATH_TYPE.TOTP, algo, secret or SEEDS[algo], digits=digits)


@pytest.fixture
def key() -> VirtualYubiKey:
    return VirtualYubiKey.open(1000001, "5.4.3")


@pytest.mark.parametrize("algo_index,algo", list(enumerate(SEEDS)))
def test_rfc6238_vectors_through_calculate(key, algo_index, algo):
    s = session(key)
    cred = s.put_credential(totp(f"rfc6238-{algo.name}", algo))
    for t, expected in RFC6238.items():
        assert s.calculate_code(cred, t).value == expected[algo_index], t


def test_full_response_is_the_whole_hmac(key):
    s = session(key)
    cred = s.put_credential(totp("full", HASH_ALGORITHM.SHA256))
    full = s.calculate(cred.id, (59 // 30).to_bytes(8, "big"))
    assert len(full) == 32
    # The untruncated HMAC, truncated on the host, gives the same code.
    offset = full[-1] & 0x0F
    code = _format_code(cred, 59, bytes([8]) + full[offset : offset + 4])
    assert code.value == RFC6238[59][1]


def test_rfc4226_hotp_counter_moves_on_each_calculate(key):
    s = session(key)
    cred = s.put_credential(CredentialData("hotp", OATH_TYPE.HOTP, HASH_ALGORITHM.SHA1, SEED))
    assert [s.calculate_code(cred).value for _ in range(10)] == RFC4226
    assert key.state.oath.find(b"hotp").counter == 10


def test_hotp_initial_moving_factor(key):
    s = session(key)
    cred = s.put_credential(CredentialData("hotp", OATH_TYPE.HOTP, HASH_ALGORITHM.SHA1, SEED, counter=7))
    assert s.calculate_code(cred).value == RFC4226[7]


def test_calculate_all_skips_hotp_and_touch(key):
    s = session(key)
    s.put_credential(totp("plain", HASH_ALGORITHM.SHA1, digits=8))
    s.put_credential(totp("touchy", HASH_ALGORITHM.SHA1), touch_required=True)
    s.put_credential(CredentialData("counter", OATH_TYPE.HOTP, HASH_ALGORITHM.SHA1, SEED))
    codes = {c.name: (c, code) for c, code in s.calculate_all(59).items()}
    assert codes["plain"][1].value == RFC6238[59][0]
    assert codes["touchy"][1] is None and codes["touchy"][0].touch_required
    assert codes["counter"][1] is None and codes["counter"][0].oath_type == OATH_TYPE.HOTP
    assert key.state.oath.find(b"counter").counter == 0  # not calculated, not moved


def test_put_existing_name_replaces(key):
    s = session(key)
    s.put_credential(totp("same", HASH_ALGORITHM.SHA1))
    cred = s.put_credential(totp("same", HASH_ALGORITHM.SHA256))
    assert [c.name for c in s.list_credentials()] == ["same"]
    assert s.calculate_code(cred, 59).value == RFC6238[59][1]


@pytest.mark.parametrize("firmware,capacity", [("5.4.3", 32), ("5.7.1", 64)])
def test_capacity_follows_firmware(firmware, capacity):
    s = session(VirtualYubiKey.open(1000002, firmware))
    for i in range(capacity):
        s.put_credential(totp(f"cred{i}", HASH_ALGORITHM.SHA1))
    with pytest.raises(ApduError) as err:
        s.put_credential(totp("one-too-many", HASH_ALGORITHM.SHA1))
    assert err.value.sw == SW.NO_SPACE
    # Overwriting an existing credential still works when full.
    s.put_credential(totp("cred0", HASH_ALGORITHM.SHA256))
    assert len(s.list_credentials()) == capacity


def test_name_length_limit(key):
    s = session(key)
    s.put_credential(totp("n" * 64, HASH_ALGORITHM.SHA1))
    with pytest.raises(ApduError) as err:
        s.put_credential(totp("n" * 65, HASH_ALGORITHM.SHA1))
    assert err.value.sw == SW.INCORRECT_PARAMETERS


def test_bad_digits_and_unknown_names(key):
    s = session(key)
    with pytest.raises(ApduError) as err:
        s.put_credential(totp("five", HASH_ALGORITHM.SHA1, digits=5))
    assert err.value.sw == SW.INCORRECT_PARAMETERS
    with pytest.raises(ApduError) as err:
        s.delete_credential(b"nobody")
    assert err.value.sw == SW.DATA_INVALID
    with pytest.raises(ApduError) as err:
        s.calculate(b"nobody", b"\0" * 8)
    assert err.value.sw == SW.DATA_INVALID


def test_list_and_calculate_all_chain_with_many_credentials():
    key = VirtualYubiKey.open(1000003, "5.7.1")
    s = session(key)
    names = [f"issuer-{i:02d}:account-with-a-long-name-{i:02d}@example.com" for i in range(64)]
    for n in names:
        issuer, name = n.split(":")
        s.put_credential(CredentialData(name, OATH_TYPE.TOTP, HASH_ALGORITHM.SHA1, SEED, issuer=issuer))
    listed = s.list_credentials()
    assert [f"{c.issuer}:{c.name}" for c in listed] == names
    # Far more than one short response: yubikit got it through SEND REMAINING (61xx).
    assert sum(len(n) + 3 for n in names) > 3 * 255
    assert len(s.calculate_all(59)) == 64


def test_response_chaining_on_the_wire(key):
    s = session(key)
    for i in range(12):
        s.put_credential(totp(f"{i:02d}-" + "x" * 40, HASH_ALGORITHM.SHA1))
    conn = VirtualConnection(key)
    conn.send_and_receive(bytes.fromhex("00a4040007a0000005272101"))
    data, sw = conn.send_and_receive(bytes.fromhex("00a1000000"))
    assert sw >> 8 == 0x61 and len(data) == 255
    parts = [data]
    while sw >> 8 == 0x61:
        data, sw = conn.send_and_receive(bytes.fromhex("00a5000000"))
        parts.append(data)
    assert sw == 0x9000 and [len(p) for p in parts] == [255, 255, 12 * (2 + 1 + 43) - 510]


def test_command_chaining_of_put(key):
    conn = VirtualConnection(key)
    conn.send_and_receive(bytes.fromhex("00a4040007a0000005272101"))
    name = b"chained"
    body = bytes([0x71, len(name)]) + name + bytes([0x73, 16, 0x21, 6]) + SEED[:14]
    first, last = body[:10], body[10:]
    _, sw = conn.send_and_receive(bytes([0x10, 0x01, 0, 0, len(first)]) + first)
    assert sw == 0x9000 and key.state.oath.credentials == []
    _, sw = conn.send_and_receive(bytes([0x00, 0x01, 0, 0, len(last)]) + last)
    assert sw == 0x9000 and key.state.oath.find(name) is not None


def test_delete_and_reset_new_salt(key):
    s = session(key)
    cred = s.put_credential(totp("gone", HASH_ALGORITHM.SHA1))
    s.put_credential(totp("kept", HASH_ALGORITHM.SHA1))
    s.delete_credential(cred.id)
    assert [c.name for c in s.list_credentials()] == ["kept"]
    old_id = s.device_id
    s.reset()
    assert s.list_credentials() == []
    assert s.device_id != old_id


def test_rename_on_firmware_that_has_it(key):
    s = session(key)
    cred = s.put_credential(totp("old", HASH_ALGORITHM.SHA1))
    s.rename_credential(cred.id, "new", "Issuer")
    assert [(c.issuer, c.name) for c in s.list_credentials()] == [("Issuer", "new")]
