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

from drivers.emulator.apdu import parse_apdu
from drivers.emulator.card import VirtualYubiKey
from drivers.emulator.state import KeyState, OathCredential, StateFile

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


@st.composite
def sessions(draw: st.DrawFn) -> list[bytes]:
    """A session: usually SELECT an applet first, then commands, with chained parts thrown in."""
    cmds: list[bytes] = []
    if draw(st.integers(0, 4)):
        cmds.append(select(AIDS[draw(st.sampled_from(sorted(AIDS)))]))
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 5)) == 0:  # chaining abuse: a chained part, then anything
            ins = draw(st.sampled_from(KNOWN_INS))
            part = draw(st.binary(max_size=250))
            cmds.append(bytes([0x10, ins, 0, 0, len(part)]) + part if part else bytes([0x10, ins, 0, 0]))
        elif draw(st.integers(0, 6)) == 0:
            cmds.append(select(AIDS[draw(st.sampled_from(sorted(AIDS)))]))
        else:
            cmds.append(draw(apdus()))
    return cmds


def fresh_key(directory: Path, model: str = "yubikey-5-nfc", firmware: str = "5.4.3") -> VirtualYubiKey:
    key = VirtualYubiKey.open(serial=7000001, model=model, firmware=firmware,
                              state_path=directory / "key.json")
    # Something to lose: a credential a buggy refusal could corrupt.
    key.state.oath.credentials.append(
        OathCredential(name=b"Example:alice", oath_type=0x20, algorithm=1, digits=6, key=b"k" * 20)
    )
    StateFile(directory / "key.json").save(key.state)
    return key


def snapshot(key: VirtualYubiKey) -> str:
    return json.dumps(key.state.to_json(), sort_keys=True)


def check_session(key: VirtualYubiKey, path: Path, cmds: list[bytes]) -> None:
    for apdu in cmds:
        before = snapshot(key)
        resp = key.transmit(apdu)
        assert isinstance(resp, bytes) and len(resp) >= 2, (apdu.hex(), resp)
        sw = int.from_bytes(resp[-2:], "big")
        if sw != 0x9000 and sw >> 8 != 0x61:
            assert snapshot(key) == before, f"refused {apdu.hex()} with {sw:04X} but changed the state"
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


@settings(FUZZ, max_examples=60)
@given(cmds=sessions(), model=st.sampled_from(["security-key-nfc-ee", "yubikey-4", "yubikey-5c-nano"]))
def test_other_models_survive_any_session(cmds, model):
    firmware = {"yubikey-4": "4.2.6", "yubikey-5c-nano": "5.7.1"}.get(model, "5.4.3")
    with tempfile.TemporaryDirectory() as tmp:
        key = fresh_key(Path(tmp), model=model, firmware=firmware)
        check_session(key, Path(tmp) / "key.json", cmds)


def test_security_key_has_no_oath_applet():
    with tempfile.TemporaryDirectory() as tmp:
        key = fresh_key(Path(tmp), model="security-key-nfc-ee")
        assert key.transmit(select(AIDS["oath"]))[-2:] == b"\x6a\x82"
        assert key.transmit(select(AIDS["otp"]))[-2:] == b"\x6a\x82"
