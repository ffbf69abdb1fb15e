"""The virtual YubiKey as a card: ATR, applet selection by AID, command and response chaining.

Everything a reader sees goes through `VirtualYubiKey.transmit`, whether the reader is vpcd (a real
PC/SC stack) or the in-process connection used by unit tests, so both exercise the same code.
"""

from __future__ import annotations

import logging
import secrets
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
from .otp import OtpApplet
from .state import KeyState, OathCredential, StateFile
from .touch import TouchSensor

log = logging.getLogger(__name__)

TRANSPORTS = ("nfc", "usb")

# ATR of a YubiKey 5 on USB (CCID). ykman reads atr[1] & 0xF0 == 0xF0 as USB.
USB_ATR = bytes.fromhex("3BFD1300008131FE158073C021C057597562694B657940")
# The YubiKey's historical bytes ("...YubiKey"); over NFC the reader builds a PC/SC part 3 ATR
# around them: 3B 8n 80 01 <historical bytes> TCK.
HISTORICAL_BYTES = bytes.fromhex("8073C021C057597562694B6579")

# Responses to short APDUs longer than this are chained with 61xx, as the real applets do. An extended
# APDU (what yubikit sends over USB, where the key's CCID interface takes them) gets up to its Ne bytes
# in one response.
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


class VirtualYubiKey:
    """A YubiKey answering APDUs, holding its state in a KeyState (and a file, if given)."""

    def __init__(
        self,
        state: KeyState,
        profile: FirmwareProfile,
        transport: str = "nfc",
        store: StateFile | None = None,
        pull_on_ins: Iterable[int] = (),
        touch: TouchSensor | None = None,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, not {transport!r}")
        self.state = state
        self.profile = profile
        self.transport = transport
        self._store = store
        self.pull_on_ins: set[int] = set(pull_on_ins)
        self.removed = False
        # The touch sensor (policy auto/never/wait, see touch.py); press it with touch().
        self.touch_sensor = touch if touch is not None else TouchSensor()
        self.otp: OtpApplet | None = None  # only on models with the OTP application
        applets: list[Applet] = [
            # The Management applet also decides which applets answer SELECT (enabled applications).
            ManagementApplet(state, profile, self._commit, transport),
            OathApplet(state, profile, self._commit, self.touch_sensor),
        ]
        if not profile.has_oath:  # a Security Key has no OATH applet: SELECT answers 6A82, as the real key
            applets = [a for a in applets if not isinstance(a, OathApplet)]
        if "OTP" in profile.usb_capabilities:
            # The touch sensor decides challenge-responses that require a touch (CHAL_BTN_TRIG).
            self.otp = OtpApplet(state, profile, self._commit, self.touch_sensor.request)
            applets.append(self.otp)
        self._applets = {a.aid: a for a in applets}
        self.management: ManagementApplet = self._applets[ManagementApplet.aid]  # type: ignore[assignment]
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
        touch: TouchSensor | None = None,
    ) -> VirtualYubiKey:
        """A key from its profile; with state_path, loaded from (or created in) that file."""
        profile = firmware_profiles.find(model, firmware)
        store = StateFile(state_path) if state_path is not None else None
        if store is not None:
            state = store.load_or_create(serial, model, profile.version_text)
        else:
            state = KeyState(serial=serial, model=model, firmware=profile.version_text)
        return cls(state, profile, transport, store, pull_on_ins, touch)

    @property
    def serial(self) -> int:
        return self.state.serial

    @property
    def atr(self) -> bytes:
        return USB_ATR if self.transport == "usb" else contactless_atr()

    def power_on(self) -> None:
        """Power up or reset: nothing selected, nothing pending (as after a real insertion)."""
        self._selected = None
        self.management.power_up()  # enabled-application changes take effect at power-up
        self._pending = b""
        self._chain = None

    power_off = power_on
    reset = power_on

    def reinsert(self) -> None:
        """Put a pulled key back (in-process use): fresh power-up, same state."""
        self.removed = False
        self.power_on()
        if self.otp is not None:
            self.otp.power_up()  # a reinsertion powers the OTP core up: new Yubico OTP session

    def fill_oath(self) -> int:
        """Fill the OATH applet up to the profile's capacity with filler TOTP credentials (a fault on
        demand: a full key). Returns how many were added; a key without OATH gets none."""
        if not self.profile.has_oath:
            return 0
        oath = self.state.oath
        added = n = 0
        while len(oath.credentials) < self.profile.oath_capacity:
            name = f"filler-{n:02d}".encode()
            n += 1
            if oath.find(name) is None:
                oath.credentials.append(OathCredential(name, 0x20, 0x01, 6, secrets.token_bytes(20)))
                added += 1
        self._commit()
        return added

    def touch(self) -> None:
        """Touch the key's sensor: grants a touch a command is waiting for (policy "wait")."""
        self.touch_sensor.press()

    def press_button(self, slot: int) -> str:
        """Press the button for OTP slot 1 or 2 (in-process): what the key would type (see otp.py)."""
        if self.otp is None:
            raise ValueError("this key has no OTP application")
        return self.otp.press_button(slot)

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
        if self.management.reboot_requested:
            # WRITE CONFIG with reboot: the key answers, then drops off the reader until it is back
            # (vpcd.serve reconnects it; in-process, reinsert()).
            self.removed = True
        return self._chunk(data, cmd.ne if cmd.extended else MAX_CHUNK)

    def _chunk(self, data: bytes, limit: int) -> bytes:
        first, self._pending = data[:limit], data[limit:]
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
        if applet is not None and not self.management.allows_select(aid):
            applet = None  # disabled over this transport: 6A82, as if absent
        if applet is None:
            raise ApduError(Sw.FILE_NOT_FOUND, f"no applet {aid.hex()}")
        data = applet.select()
        self._selected = applet
        return data

    def _commit(self) -> None:
        if self._store is not None:
            self._store.save(self.state)
