"""The virtual key's Yubico OTP applet through the real PC/SC stack, judged by the real ykman CLI.

The key sits behind a "Virtual PCD" reader, so ykman takes it for an NFC key and speaks to the OTP
application over CCID (SmartCardConnection). That is also why `ykman otp calculate` works here: over
USB ykman insists on the HID OTP interface for it, which no PC/SC reader can offer.

A button press cannot travel through pcscd; the tests that need one stop the emulator and press
in-process on the same state file (VirtualYubiKey.press_button), which is the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from yubikit.core.otp import modhex_decode, modhex_encode

from drivers.emulator import VirtualYubiKey

HMAC_KEY = bytes.fromhex("0b" * 20)  # RFC 2202 test case 1
ACCESS = "010203040506"


def ok(result) -> str:
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def slot_config(state_path, slot: int) -> bytes | None:
    raw = json.loads(state_path.read_text())["otp"]["slots"][slot - 1]
    return None if raw is None else bytes.fromhex(raw["config"])


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def test_otp_info_and_chalresp(virtual_key, ykman):
    key = virtual_key(serial=4040401)
    assert ok(ykman(key.reader, "otp", "info")).splitlines()[:2] == ["Slot 1: empty", "Slot 2: empty"]

    ok(ykman(key.reader, "otp", "chalresp", "2", HMAC_KEY.hex(), "-f"))
    assert ok(ykman(key.reader, "otp", "info")).splitlines()[:2] == ["Slot 1: empty", "Slot 2: programmed"]
    challenge = b"Hi There"
    out = ok(ykman(key.reader, "otp", "calculate", "2", challenge.hex())).strip()
    assert out == "b617318655057264e28bc0b6fb378c8ef146be00"

    # A generated key: read it back from the state file (key 16 bytes, then 4 bytes of uid).
    ok(ykman(key.reader, "otp", "chalresp", "1", "--generate", "-f"))
    config = slot_config(key.state_path, 1)
    secret = config[22:38] + config[16:20]
    challenge = bytes.fromhex("00112233445566778899")
    out = ok(ykman(key.reader, "otp", "calculate", "1", challenge.hex())).strip()
    assert out == hmac.new(secret, challenge, hashlib.sha1).hexdigest()


def test_swap_delete_and_access_code(virtual_key, ykman):
    key = virtual_key(serial=4040402)
    ok(ykman(key.reader, "otp", "chalresp", "1", HMAC_KEY.hex(), "-f"))
    assert "Slots swapped." in ok(ykman(key.reader, "otp", "swap", "-f"))
    assert ok(ykman(key.reader, "otp", "info")).splitlines()[:2] == ["Slot 1: empty", "Slot 2: programmed"]
    out = ok(ykman(key.reader, "otp", "calculate", "2", b"Hi There".hex())).strip()
    assert out == "b617318655057264e28bc0b6fb378c8ef146be00"

    # Protect slot 2 with an access code (settings = an update of the slot).
    ok(ykman(key.reader, "otp", "settings", "2", "--new-access-code", ACCESS, "-f"))
    refused = ykman(key.reader, "otp", "delete", "2", "-f")
    assert refused.returncode != 0
    assert "Failed to write to the YubiKey" in refused.stderr
    wrong = ykman(key.reader, "otp", "--access-code", "ffffffffffff", "delete", "2", "-f")
    assert wrong.returncode != 0
    assert slot_config(key.state_path, 2) is not None
    ok(ykman(key.reader, "otp", "--access-code", ACCESS, "delete", "2", "-f"))
    assert ok(ykman(key.reader, "otp", "info")).splitlines()[:2] == ["Slot 1: empty", "Slot 2: empty"]


def test_yubiotp_programmed_by_ykman_types_a_genuine_otp(virtual_key, ykman, tmp_path):
    serial = 4040403
    key = virtual_key(serial=serial)
    csv = tmp_path / "yubiotp.csv"
    out = ok(
        ykman(
            key.reader,
            "otp",
            "yubiotp",
            "1",
            "--serial-public-id",
            "--generate-private-id",
            "--generate-key",
            "--config-output",
            str(csv),
            "-f",
        )
    )
    public_id = modhex_encode(b"\xff\x00" + struct.pack(">I", serial))
    assert f"Using YubiKey serial as public ID: {public_id}" in out
    fields = csv.read_text().strip().split(",")
    assert fields[:2] == [str(serial), public_id]
    private_id, aes_key = bytes.fromhex(fields[2]), bytes.fromhex(fields[3])
    assert ok(ykman(key.reader, "otp", "info")).splitlines()[0] == "Slot 1: programmed"
    key.stop()

    # Press the button of the same key (same state file), in-process, and decode what it types.
    pressed = VirtualYubiKey.open(serial, state_path=key.state_path).press_button(1)
    assert pressed.startswith(public_id) and len(pressed) == len(public_id) + 32
    decryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()
    ticket = decryptor.update(modhex_decode(pressed[-32:])) + decryptor.finalize()
    assert crc16(ticket) == 0xF0B8
    assert ticket[:6] == private_id
    assert struct.unpack("<H", ticket[6:8])[0] == 1 and ticket[11] == 0


def test_hotp_and_static(virtual_key, ykman):
    serial = 4040404
    key = virtual_key(serial=serial)
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 4226 appendix D, base32
    ok(ykman(key.reader, "otp", "hotp", "1", secret, "--identifier", "ubhe", "-f"))
    ok(ykman(key.reader, "otp", "static", "2", "--generate", "--length", "20", "-k", "us", "-f"))
    both = ["Slot 1: programmed", "Slot 2: programmed"]
    assert ok(ykman(key.reader, "otp", "info")).splitlines()[:2] == both
    key.stop()

    pressed = VirtualYubiKey.open(serial, state_path=key.state_path)
    # Token id: OMP+TT "ubhe" (modhex), MUI = serial as 8 digits; then RFC 4226 codes 0 and 1.
    assert [pressed.press_button(1) for _ in range(2)] == ["ubhe04040404755224", "ubhe04040404287082"]
    password = pressed.press_button(2)
    assert len(password) == 20 and password.isprintable()
