"""The virtual YubiKey as a card: ATR, applet selection by AID, command and response chaining.

Everything a reader sees goes through `VirtualYubiKey.transmit`, whether the reader is vpcd (a real
PC/SC stack) or the in-process connection used by unit tests, so both exercise the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import firmware_profiles
from firmware_profiles import FirmwareProfile

from .apdu import (
    ApduError,
    CommandApdu,
    Sw,
    parse_apdu,
    response,
)
from .management import ManagementApplet
from .oath import OathApplet
from .state import KeyState, StateFile

log = logging.getLogger(__name__)

TRANSPORTS = ("nfc", "usb")

# ATR of a YubiKey 5 on USB (CCID). ykman reads atr[1] & 0xF0 == 0xF0 as USB.
USB_ATR = bytes.fromhex("3BFD1300008131FE158073C021C057597562694B657940")
# The YubiKey's historical bytes ("...YubiKey"); over NFC the reader builds a PC/SC part 3 ATR
# around them: 3B 8n 80 01 <historical bytes> TCK.
HISTORICAL_BYTES = bytes.fromhex("8073C021C057597562694B6579")

# Responses longer than this are chained with 61xx, as the real applets do for short APDUs.
MAX_CHUNK = 0xFF


def contactless_atr(historical: bytes = HISTORICAL_BYTES) -> bytes:
    """The PC/SC part 3 ATR a contactless reader reports for an ISO 14443-4 card."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:  # TCK: XOR of T0 up to the last historical byte
        tck ^= b
    return bytes([0x3B]) + body + bytes([tck])


class KeyPulled(ConnectionError):
    """The key was pulled (simulated) while a command was in flight; the command was not applied."""

    def __init__(self, ins: int) -> None:
        super().__init__(f"virtual key pulled on INS {ins:02X}")
        self.ins = ins


class Applet(Protocol):
    aid: bytes
    send_remaining_ins: int

    def select(self) -> bytes: ...

    def process(self, cmd: CommandApdu) -> bytes: ...


class OtpApplet:
    """Only SELECT of the Yubico OTP applet: it answers with the OTP status, as a YubiKey 5 does.

    Slot programming is not emulated; the status says neither slot is configured.
    """

    aid = bytes.fromhex("a0000005272001")
    send_remaining_ins = 0xC0

    def __init__(self, profile: FirmwareProfile) -> None:
        self._profile = profile

    def select(self) -> bytes:
        # version (3 bytes), programming sequence, touch level (2 bytes, little endian)
        return bytes(self._profile.version) + b"\x00" + b"\x00\x00"

    def process(self, cmd: CommandApdu) -> bytes:
        raise ApduError(Sw.INVALID_INSTRUCTION, f"OTP INS {cmd.ins:02X} not supported")


class VirtualYubiKey:
    """A YubiKey answering APDUs, holding its state in a KeyState (and a file, if given)."""

    def __init__(
        self,
        state: KeyState,
        profile: FirmwareProfile,
        transport: str = "nfc",
        store: StateFile | None = None,
        pull_on_ins: Iterable[int] = (),
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, not {transport!r}")
        self.state = state
        self.profile = profile
        self.transport = transport
        self._store = store
        self.pull_on_ins: set[int] = set(pull_on_ins)
        self.removed = False
        applets: list[Applet] = [
            ManagementApplet(state, profile),
            OathApplet(state, profile, self._commit),
        ]
        if "OTP" in profile.usb_capabilities:
            applets.append(OtpApplet(profile))
        self._applets = {a.aid: a for a in applets}
        self._selected: Applet | None = None
        self._pending = b""  # response data left for SEND REMAINING
        self._chain: tuple[tuple[int, int, int], bytes] | None = None  # command being chained

    @classmethod
    def open(
        cls,
        serial: int,
        firmware: str = "5.4.3",
        model: str = "yubikey-5-nfc",
        state_path: Path | None = None,
        transport: str = "nfc",
        pull_on_ins: Iterable[int] = (),
    ) -> VirtualYubiKey:
        """A key from its profile; with state_path, loaded from (or created in) that file."""
        profile = firmware_profiles.find(model, firmware)
        store = StateFile(state_path) if state_path is not None else None
        if store is not None:
            state = store.load_or_create(serial, model, profile.version_text)
        else:
            state = KeyState(serial=serial, model=model, firmware=profile.version_text)
        return cls(state, profile, transport, store, pull_on_ins)

    @property
    def serial(self) -> int:
        return self.state.serial

    @property
    def atr(self) -> bytes:
        return USB_ATR if self.transport == "usb" else contactless_atr()

    def power_on(self) -> None:
        """Power up or reset: nothing selected, nothing pending (as after a real insertion)."""
        self._selected = None
        self._pending = b""
        self._chain = None

    power_off = power_on
    reset = power_on

    def reinsert(self) -> None:
        """Put a pulled key back (in-process use): fresh power-up, same state."""
        self.removed = False
        self.power_on()

    def pull_on(self, ins: int | None) -> None:
        """Arrange for the key to be pulled when a command with this INS arrives (None: never)."""
        self.pull_on_ins = set() if ins is None else {ins}

    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU in, one response APDU (data + SW) out."""
        if self.removed:
            raise KeyPulled(-1)
        try:
            cmd = parse_apdu(apdu)
        except ApduError as exc:
            return response(b"", exc.sw)
        # SELECT never triggers a pull, so 0xA4 means OATH CALCULATE ALL.
        if cmd.ins in self.pull_on_ins and not cmd.is_select:
            self.removed = True
            self.power_on()
            log.info("pulling the key on INS %02X (command not applied)", cmd.ins)
            raise KeyPulled(cmd.ins)
        try:
            data = self._dispatch(cmd)
        except ApduError as exc:
            log.debug("APDU %s -> %04X (%s)", apdu.hex(), exc.sw, exc)
            return response(b"", exc.sw)
        return self._chunk(data)

    def _chunk(self, data: bytes) -> bytes:
        first, self._pending = data[:MAX_CHUNK], data[MAX_CHUNK:]
        if self._pending:
            return response(first, 0x6100 | min(len(self._pending), 0xFF))
        return response(first, Sw.OK)

    def _dispatch(self, cmd: CommandApdu) -> bytes:
        if cmd.cla & 0x80:
            raise ApduError(Sw.CLASS_NOT_SUPPORTED, "proprietary class / secure messaging")
        if self._selected is not None and cmd.ins == self._selected.send_remaining_ins:
            pending, self._pending = self._pending, b""
            return pending
        self._pending = b""
        if cmd.is_select:
            self._chain = None
            return self._select(cmd.data)
        cmd = self._unchain(cmd)
        if cmd is None:
            return b""
        if self._selected is None:
            raise ApduError(Sw.INVALID_INSTRUCTION, "no applet selected")
        return self._selected.process(cmd)

    def _unchain(self, cmd: CommandApdu) -> CommandApdu | None:
        """Gather a command chain; None while more parts are expected."""
        head = (cmd.ins, cmd.p1, cmd.p2)
        if self._chain is not None and self._chain[0] != head:
            self._chain = None
            raise ApduError(Sw.LAST_COMMAND_OF_CHAIN_EXPECTED, "chain broken by another command")
        so_far = self._chain[1] if self._chain is not None else b""
        if cmd.chained:
            self._chain = (head, so_far + cmd.data)
            return None
        self._chain = None
        return CommandApdu(cmd.cla, cmd.ins, cmd.p1, cmd.p2, so_far + cmd.data, cmd.ne, cmd.extended)

    def _select(self, aid: bytes) -> bytes:
        applet = self._applets.get(bytes(aid))
        if applet is None:
            raise ApduError(Sw.FILE_NOT_FOUND, f"no applet {aid.hex()}")
        data = applet.select()
        self._selected = applet
        return data

    def _commit(self) -> None:
        if self._store is not None:
            self._store.save(self.state)
