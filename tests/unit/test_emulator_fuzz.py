"""Fuzzing the virtual YubiKey's APDU parsing and applets with hypothesis.

Whatever bytes arrive, `VirtualYubiKey.transmit` answers with data + a 2-byte status word and never
raises (a simulated pull is the only exception, and no test here arranges one). A command the key
refuses leaves its state exactly as it was, and the state file always loads back to the live state.
Derandomized, with a bounded number of examples, so CI runs the same cases every time in seconds.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yubico_otp_decode import crc16_iso13239

import firmware_profiles
from drivers.emulator.apdu import parse_apdu
from drivers.emulator.card import VirtualYubiKey
from drivers.emulator.state import KeyState, OathCredential, StateFile

PROFILES = firmware_profiles.load_all()

AIDS = {
    "management": bytes.fromhex("a000000527471117"),
    "oath": bytes.fromhex("a0000005272101"),
    "otp": bytes.fromhex("a0000005272001"),
    "unknown": bytes.fromhex("a0000005279999"),
}
# Instructions the applets know (OATH, OTP, Management, ISO), so the fuzzer reaches their handlers.
KNOWN_INS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x1C, 0x1D, 0x1F, 0x16, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5,
             0xA6, 0xA7, 0xB1, 0xC0, 0xC1, 0xDA, 0xDB]
FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

byte = st.integers(0, 255)


@st.composite
def tlv_soup(draw: st.DrawFn) -> bytes:
    """Data that looks like YubiKey TLVs, often cut short or with lying lengths."""
    out = b""
    for _ in range(draw(st.integers(0, 5))):
        tag = draw(st.sampled_from([0x71, 0x73, 0x74, 0x75, 0x76, 0x78, 0x7A, 0x7B, 0x7C]) | byte)
        value = draw(st.binary(max_size=80))
        length = draw(st.sampled_from(["right", "short", "long", "81", "82", "bad"]))
        if length == "right":
            head = bytes([len(value)]) if len(value) < 0x80 else bytes([0x81, len(value)])
        elif length == "short":
            head = bytes([max(0, len(value) - 1) & 0x7F])
        elif length == "long":
            head = bytes([min(0x7F, len(value) + 5)])
        elif length == "81":
            head = b"\x81"
        elif length == "82":
            head = b"\x82\xff"
        else:
            head = bytes([draw(st.integers(0x83, 0xFF))])
        out += bytes([tag]) + head + value
    cut = draw(st.integers(0, len(out)))
    return out[:cut] if draw(st.booleans()) else out


@st.composite
def apdus(draw: st.DrawFn) -> bytes:
    """One command APDU, well formed or not: every ISO case, short and extended, lying Lc/Le."""
    kind = draw(st.sampled_from(["raw", "structured", "structured", "structured"]))
    if kind == "raw":
        return draw(st.binary(max_size=300))
    cla = draw(st.sampled_from([0x00, 0x10, 0x80, 0x90, 0x0C, 0xFF]) | byte)
    ins = draw(st.sampled_from(KNOWN_INS) | byte)
    p1, p2 = draw(byte), draw(byte)
    if draw(st.booleans()):
        p1, p2 = draw(st.sampled_from([(0, 0), (0xDE, 0xAD), (0x01, 0x00), (0x04, 0x00), (0x00, 0x01)]))
    data = draw(tlv_soup() | st.binary(max_size=300) | st.sampled_from(list(AIDS.values())))
    form = draw(st.sampled_from(["case1", "case2", "case3", "case4", "ext3", "ext4", "ext2",
                                 "lc_lies", "ext_lc_lies", "ext_lc_zero"]))
    header = bytes([cla, ins, p1, p2])
    short = data[:255]
    if form == "case1":
        return header
    if form == "case2":
        return header + bytes([draw(byte)])
    if form == "case3" and short:
        return header + bytes([len(short)]) + short
    if form == "case4" and short:
        return header + bytes([len(short)]) + short + bytes([draw(byte)])
    if form == "ext2":
        return header + b"\x00" + draw(st.binary(min_size=2, max_size=2))
    if form == "ext3" and data:
        return header + b"\x00" + len(data).to_bytes(2, "big") + data
    if form == "ext4" and data:
        le = draw(st.binary(min_size=2, max_size=2))
        return header + b"\x00" + len(data).to_bytes(2, "big") + data + le
    if form == "ext_lc_lies":
        return header + b"\x00" + draw(st.integers(1, 0xFFFF)).to_bytes(2, "big") + data
    if form == "ext_lc_zero":
        return header + b"\x00\x00\x00" + data
    return header + bytes([draw(st.integers(1, 255))]) + data  # lc_lies (or an empty case 3/4)


def select(aid: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x04, 0x00, len(aid)]) + aid


def short_apdu(ins: int, data: bytes, p1: int = 0, p2: int = 0) -> bytes:
    return bytes([0x00, ins, p1, p2, len(data)]) + data if data else bytes([0x00, ins, p1, p2])


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


def _otp_config(draw: st.DrawFn) -> bytes:
    """A 52-byte slot configuration with a valid CRC (so the applet looks inside), flags drawn."""
    body = bytearray(draw(st.binary(min_size=50, max_size=50)))
    body[44] = draw(st.sampled_from([0, 6, 16, 17]))  # fixed size
    body[45:48] = bytes([draw(byte), draw(st.sampled_from([0x00, 0x20, 0x40]) | byte),
                         draw(st.sampled_from([0x00, 0x02, 0x20, 0x22, 0x26, 0x2A]) | byte)])
    body[38:44] = draw(st.sampled_from([bytes(6), bytes(range(1, 7))]))  # access code
    crc = 0xFFFF & ~crc16_iso13239(bytes(body))
    return bytes(body) + crc.to_bytes(2, "little")


@st.composite
def plausible_commands(draw: st.DrawFn) -> list[bytes]:
    """Well-framed commands the applets accept or refuse deep inside: OATH PUT/DELETE/RENAME/SET CODE/
    VALIDATE/CALCULATE/RESET, Management WRITE CONFIG, OTP slot writes and challenges; then, one
    time in three, one byte changed or the data cut short."""
    name = draw(st.binary(min_size=0, max_size=70) | st.sampled_from([b"Example:alice", b"x"]))
    kind = draw(st.sampled_from(["put", "delete", "rename", "set_code", "validate", "calculate", "reset",
                                 "write_config", "otp_write", "otp_chal"]))
    if kind == "put":
        key_field = bytes([draw(st.sampled_from([0x11, 0x12, 0x13, 0x21, 0x22, 0x23]) | byte),
                           draw(st.sampled_from([6, 8]) | st.integers(0, 10))])
        key_field += draw(st.binary(min_size=14, max_size=20) | st.binary(max_size=120))
        data = _tlv(0x71, name) + _tlv(0x73, key_field)
        if draw(st.booleans()):
            data += bytes([0x78, draw(st.sampled_from([0x02, 0x00]) | byte)])
        if draw(st.booleans()):
            data += _tlv(0x7A, draw(st.binary(max_size=6)))
        cmd = short_apdu(0x01, data[:255])
    elif kind in ("delete", "calculate"):
        data = _tlv(0x71, name) + (_tlv(0x74, draw(st.binary(max_size=10))) if kind == "calculate" else b"")
        cmd = short_apdu(0x02 if kind == "delete" else 0xA2, data, p2=draw(st.sampled_from([0, 1])))
    elif kind == "rename":
        cmd = short_apdu(0x05, _tlv(0x71, name) + _tlv(0x71, draw(st.binary(max_size=70))))
    elif kind in ("set_code", "validate"):
        data = _tlv(0x73, draw(st.binary(max_size=40))) if kind == "set_code" else b""
        data += _tlv(0x74, draw(st.binary(max_size=10))) + _tlv(0x75, draw(st.binary(max_size=64)))
        cmd = short_apdu(0x03 if kind == "set_code" else 0xA3, data)
    elif kind == "reset":
        cmd = short_apdu(0x04, b"", *draw(st.sampled_from([(0xDE, 0xAD), (0, 0)])))
    elif kind == "write_config":
        tlvs = b"".join(_tlv(tag, draw(st.binary(max_size=3) if tag != 0x0A else st.binary(max_size=17)))
                        for tag in draw(st.lists(st.sampled_from([0x03, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0C,
                                                                  0x0E, 0x17]), max_size=5)))
        cmd = short_apdu(0x1C, bytes([len(tlvs)]) + tlvs)
    elif kind == "otp_write":
        p1 = draw(st.sampled_from([0x01, 0x03, 0x04, 0x05, 0x06]))
        cmd = short_apdu(0x01, _otp_config(draw) + draw(st.binary(max_size=6)), p1=p1)
    else:
        p1 = draw(st.sampled_from([0x20, 0x28, 0x30, 0x38]))
        cmd = short_apdu(0x01, draw(st.binary(max_size=64)), p1=p1)
    if draw(st.integers(0, 2)) == 0:
        mutated = bytearray(cmd)
        if draw(st.booleans()) and len(mutated) > 5:
            mutated[draw(st.integers(5, len(mutated) - 1))] = draw(byte)
        else:
            mutated = mutated[: draw(st.integers(4, len(mutated)))]
        cmd = bytes(mutated)
    applet = {"write_config": "management", "otp_write": "otp", "otp_chal": "otp"}.get(kind, "oath")
    # Usually to the applet it is meant for (else it meets another applet's instruction table).
    return [select(AIDS[applet]), cmd] if draw(st.integers(0, 3)) else [cmd]


@st.composite
def sessions(draw: st.DrawFn) -> list[bytes]:
    """A session: usually SELECT an applet first, then commands, with chained parts thrown in."""
    cmds: list[bytes] = []
    if draw(st.integers(0, 4)):
        cmds.append(select(AIDS[draw(st.sampled_from(sorted(AIDS)))]))
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 2)) == 0:  # well-framed, deep into the applets
            cmds.extend(draw(plausible_commands()))
        elif draw(st.integers(0, 5)) == 0:  # chaining abuse: a chained part, then anything
            ins = draw(st.sampled_from(KNOWN_INS))
            part = draw(st.binary(max_size=250))
            cmds.append(bytes([0x10, ins, 0, 0, len(part)]) + part if part else bytes([0x10, ins, 0, 0]))
        elif draw(st.integers(0, 6)) == 0:
            cmds.append(select(AIDS[draw(st.sampled_from(sorted(AIDS)))]))
        else:
            cmds.append(draw(apdus()))
    return cmds


def fresh_key(directory: Path, model: str = "yubikey-5-nfc", firmware: str = "5.4.3",
              transport: str = "nfc") -> VirtualYubiKey:
    key = VirtualYubiKey.open(serial=7000001, model=model, firmware=firmware,
                              state_path=directory / "key.json", transport=transport)
    # Something to lose: a credential a buggy refusal could corrupt.
    key.state.oath.credentials.append(
        OathCredential(name=b"Example:alice", oath_type=0x20, algorithm=1, digits=6, key=b"k" * 20)
    )
    StateFile(directory / "key.json").save(key.state)
    return key


def snapshot(key: VirtualYubiKey) -> str:
    return json.dumps(key.state.to_json(), sort_keys=True)


def check_invariants(key: VirtualYubiKey) -> None:
    """What an accepted command may never leave behind: a state the real key could not be in."""
    p, state = key.profile, key.state
    names = [c.name for c in state.oath.credentials]
    if p.has_oath:  # (a Security Key keeps the planted credential it has no applet to touch)
        assert len(names) <= p.oath_capacity and len(set(names)) == len(names)
        for cred in state.oath.credentials:
            assert 1 <= len(cred.name) <= p.oath_name_max and 6 <= cred.digits <= 8
            assert cred.oath_type in (0x10, 0x20) and cred.algorithm in (1, 2, 3)
            assert cred.algorithm != 3 or p.oath_sha512
            assert len(cred.key) <= (128 if cred.algorithm == 3 else 64)
    for slot in state.otp.slots:
        assert slot is None or (len(slot.config) == 52 and crc16_iso13239(slot.config) == 0xF0B8)
    assert 0 <= state.otp.prog_seq <= 0xFF
    mgmt = key.management
    for transport, enabled in (("usb", state.mgmt.usb_enabled), ("nfc", state.mgmt.nfc_enabled)):
        assert enabled is None or not enabled & ~mgmt.supported(transport)
    assert state.mgmt.lock_code is None or len(state.mgmt.lock_code) == 16
    # And the key is not wedged: after a power-up the Management applet answers.
    if not key.removed:
        key.power_on()
        assert key.transmit(select(AIDS["management"]))[-2:] == b"\x90\x00"


def check_session(key: VirtualYubiKey, path: Path, cmds: list[bytes]) -> None:
    for apdu in cmds:
        before = snapshot(key)
        resp = key.transmit(apdu)
        assert isinstance(resp, bytes) and len(resp) >= 2, (apdu.hex(), resp)
        sw = int.from_bytes(resp[-2:], "big")
        if sw != 0x9000 and sw >> 8 != 0x61:
            assert snapshot(key) == before, f"refused {apdu.hex()} with {sw:04X} but changed the state"
        if key.removed:  # WRITE CONFIG asked for a reboot: the key is back at once, as vpcd.serve does
            key.reinsert()
    check_invariants(key)
    # The file holds what the key holds, and loads.
    loaded = KeyState.from_json(json.loads(path.read_text(encoding="utf-8")))
    assert json.dumps(loaded.to_json(), sort_keys=True) == snapshot(key)


@FUZZ
@given(raw=st.binary(max_size=600))
def test_parse_apdu_never_raises_anything_but_apdu_error(raw):
    from drivers.emulator.apdu import ApduError

    try:
        cmd = parse_apdu(raw)
    except ApduError as exc:
        assert exc.sw == 0x6700
    else:
        assert len(cmd.data) <= len(raw)


@FUZZ
@given(cmds=sessions())
def test_yubikey5_survives_any_session(cmds):
    with tempfile.TemporaryDirectory() as tmp:
        key = fresh_key(Path(tmp))
        check_session(key, Path(tmp) / "key.json", cmds)


@settings(FUZZ, max_examples=150)
@given(cmds=sessions(), profile=st.sampled_from(PROFILES), transport=st.sampled_from(["nfc", "usb"]))
def test_every_profile_survives_any_session_on_either_face(cmds, profile, transport):
    with tempfile.TemporaryDirectory() as tmp:
        key = fresh_key(Path(tmp), model=profile.model_id, firmware=profile.version_text, transport=transport)
        check_session(key, Path(tmp) / "key.json", cmds)


def test_security_key_has_no_oath_applet():
    with tempfile.TemporaryDirectory() as tmp:
        key = fresh_key(Path(tmp), model="security-key-nfc-ee")
        assert key.transmit(select(AIDS["oath"]))[-2:] == b"\x6a\x82"
        assert key.transmit(select(AIDS["otp"]))[-2:] == b"\x6a\x82"


@settings(FUZZ, max_examples=200)
@given(groups=st.lists(plausible_commands(), min_size=1, max_size=8), profile=st.sampled_from(PROFILES))
def test_commands_the_applets_take_keep_the_state_sound(groups, profile):
    """Well-framed commands, most of them accepted: whatever they change, the state stays one a real key
    could be in, and the file follows."""
    with tempfile.TemporaryDirectory() as tmp:
        face = "nfc" if profile.nfc else "usb"  # where a real key of the model is reached
        key = fresh_key(Path(tmp), model=profile.model_id, firmware=profile.version_text, transport=face)
        check_session(key, Path(tmp) / "key.json", [c for group in groups for c in group])
