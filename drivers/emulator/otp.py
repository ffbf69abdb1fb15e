"""The Yubico OTP applet over CCID (AID A0 00 00 05 27 20 01): the two "keyboard" slots.

Wire protocol (as yubikit's YubiOtpSession speaks it over a SmartCardConnection):

- SELECT answers the status: firmware version (3 bytes), programming sequence (1 byte), touch level
  (2 bytes, little endian: 0x01/0x02 slot 1/2 valid, 0x04/0x08 slot 1/2 touch triggered, 0x10 LED
  inverted). INS 0x03 answers the same status.
- INS 0x01 with P1 = slot command. Writes (config 1/2, update 1/2, swap) carry the 52-byte
  configuration struct followed by the current access code (6 bytes), and answer the new status.
  A refused write (wrong access code, bad CRC, update not allowed) answers 9000 with the status
  unchanged: the host sees the programming sequence did not move ("Not updated"), as with a real key.

The configuration struct (ykdef.h, YK_CONFIG):

    fixed[16] uid[6] key[16] acc_code[6] fixed_size(1) ext_flags(1) tkt_flags(1) cfg_flags(1) rfu[2] crc(2)

crc is the complement of the ISO 13239 CRC-16 of the first 50 bytes, little endian, so the CRC over
all 52 bytes leaves the residual 0xF0B8. An all-zero struct (no valid CRC) deletes the slot.

A Yubico OTP (button press) is the public id (fixed, modhex) followed by the modhex of
AES-128-ECB(key, ticket), the 16-byte ticket being

    uid[6] use_counter(2, LE) timestamp(3, LE, 8 Hz) session_counter(1) random(2, LE) crc(2, LE)

where crc is the complement of the CRC-16 of the first 14 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from firmware_profiles import FirmwareProfile

from .apdu import ApduError, CommandApdu, Sw
from .otp_state import CONFIG_SIZE, OtpSlot, OtpState
from .state import KeyState

INS_CONFIG = 0x01
INS_STATUS = 0x03

# Slot commands (P1 of INS_CONFIG), ykdef.h SLOT_*.
CMD_CONFIG_1, CMD_CONFIG_2 = 0x01, 0x03
CMD_UPDATE_1, CMD_UPDATE_2 = 0x04, 0x05
CMD_SWAP = 0x06
CMD_NDEF_1, CMD_NDEF_2 = 0x08, 0x09
CMD_DEVICE_SERIAL = 0x10
CMD_CHAL_OTP_1, CMD_CHAL_OTP_2 = 0x20, 0x28
CMD_HMAC_1, CMD_HMAC_2 = 0x30, 0x38

FIXED_SIZE, UID_SIZE, KEY_SIZE, ACC_CODE_SIZE = 16, 6, 16, 6
OFF_UID = FIXED_SIZE
OFF_KEY = OFF_UID + UID_SIZE
OFF_ACC = OFF_KEY + KEY_SIZE
OFF_FIXED_SIZE = OFF_ACC + ACC_CODE_SIZE
OFF_EXT, OFF_TKT, OFF_CFG = OFF_FIXED_SIZE + 1, OFF_FIXED_SIZE + 2, OFF_FIXED_SIZE + 3
NO_ACCESS_CODE = bytes(ACC_CODE_SIZE)
HMAC_CHALLENGE_SIZE = 64
CHAL_OTP_SIZE = 6

# Flags (ykdef.h). TKT 0x40 is OATH_HOTP alone, or challenge-response with a CFG CHAL_* flag.
TKT_CHAL_RESP = 0x40
TKT_UPDATE_MASK = 0x3F  # TAB_FIRST, APPEND_TAB1/2, APPEND_DELAY1/2, APPEND_CR
CFG_SHORT_TICKET = 0x02  # with nothing else: static password (scan codes)
CFG_OATH_HOTP8 = 0x02
CFG_STATIC_TICKET = 0x20
CFG_CHAL_YUBICO = 0x20
CFG_CHAL_HMAC = 0x22
CFG_HMAC_LT64 = 0x04
CFG_CHAL_BTN_TRIG = 0x08
CFG_OATH_FIXED_MODHEX1 = 0x10
CFG_OATH_FIXED_MODHEX2 = 0x40
CFG_OATH_FIXED_MODHEX = 0x50
CFG_UPDATE_MASK = 0x0C  # PACING_10MS, PACING_20MS
EXT_ALLOW_UPDATE = 0x20
EXT_LED_INV = 0x80
EXT_UPDATE_MASK = 0xFF

# Touch level bits of the status (yubikit CFGSTATE).
SLOT1_VALID, SLOT2_VALID, SLOT1_TOUCH, SLOT2_TOUCH, LED_INV = 0x01, 0x02, 0x04, 0x08, 0x10

CRC_OK_RESIDUAL = 0xF0B8
MODHEX = "cbdefghijklnrtuv"
USE_COUNTER_MAX = 0x7FFF  # the top bit is reserved by the spec
TIMESTAMP_HZ = 8


def crc16(data: bytes) -> int:
    """ISO 13239 CRC-16 (reflected polynomial 0x8408, initial 0xFFFF, no final XOR)."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def modhex(data: bytes) -> str:
    return "".join(MODHEX[b >> 4] + MODHEX[b & 0xF] for b in data)


class SlotConfig:
    """Read-only view of a 52-byte configuration struct."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    fixed_size = property(lambda self: min(self.raw[OFF_FIXED_SIZE], FIXED_SIZE))
    fixed = property(lambda self: self.raw[: self.fixed_size])
    uid = property(lambda self: self.raw[OFF_UID:OFF_KEY])
    key = property(lambda self: self.raw[OFF_KEY:OFF_ACC])
    acc_code = property(lambda self: self.raw[OFF_ACC:OFF_FIXED_SIZE])
    ext = property(lambda self: self.raw[OFF_EXT])
    tkt = property(lambda self: self.raw[OFF_TKT])
    cfg = property(lambda self: self.raw[OFF_CFG])

    @property
    def hmac_key(self) -> bytes:
        # HMAC-SHA1 and HOTP keys are 20 bytes: the 16 of key, then the first 4 of uid.
        return self.key + self.uid[:4]

    @property
    def mode(self) -> str:
        """yubico, hotp, chal-hmac, chal-yubico, static-ticket or static (scan-code password)."""
        if self.tkt & TKT_CHAL_RESP:
            if self.cfg & CFG_CHAL_HMAC == CFG_CHAL_HMAC:
                return "chal-hmac"
            if self.cfg & CFG_CHAL_YUBICO:
                return "chal-yubico"
            return "hotp"
        if self.cfg & CFG_STATIC_TICKET:
            return "static-ticket"
        if self.cfg & CFG_SHORT_TICKET:
            return "static"
        return "yubico"

    @property
    def touch_triggered(self) -> bool:
        return not self.mode.startswith("chal-")

    def with_flags(self, ext: int, tkt: int, cfg: int, acc_code: bytes) -> bytes:
        """This struct with other flags and access code, its CRC recomputed."""
        body = bytearray(self.raw[: CONFIG_SIZE - 2])
        body[OFF_ACC:OFF_FIXED_SIZE] = acc_code
        body[OFF_EXT], body[OFF_TKT], body[OFF_CFG] = ext, tkt, cfg
        return bytes(body) + struct.pack("<H", 0xFFFF & ~crc16(bytes(body)))


class _Session:
    """Volatile per-slot Yubico OTP session (lost at power-down): whether the usage counter was
    bumped in this power-up, and the session counter."""

    def __init__(self) -> None:
        self.started = False
        self.counter = 0


class OtpApplet:
    """The OTP application on a KeyState; `commit` is called after every change to persist it.

    `touch` is asked before a challenge-response on a slot that requires touch (CHAL_BTN_TRIG);
    it returns False when nobody touched. Default: touched at once.
    """

    aid = bytes.fromhex("a0000005272001")
    send_remaining_ins = 0xC0

    def __init__(
        self,
        state: KeyState,
        profile: FirmwareProfile,
        commit: Callable[[], None],
        touch: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key_state = state
        self._profile = profile
        self._commit = commit
        self._touch = touch or (lambda: True)
        self._clock = clock
        self.power_up()

    @property
    def state(self) -> OtpState:
        return self._key_state.otp

    def power_up(self) -> None:
        """A fresh power-up: session counters reset, the 8 Hz timer starts at a random value."""
        self._sessions = [_Session(), _Session()]
        self._timer_base = secrets.randbelow(1 << 24)
        self._powered_at = self._clock()

    # -- status ----------------------------------------------------------------------------------

    def touch_level(self) -> int:
        level = 0
        for i, slot in enumerate(self.state.slots):
            if slot is None:
                continue
            cfg = SlotConfig(slot.config)
            level |= (SLOT1_VALID, SLOT2_VALID)[i]
            if cfg.touch_triggered:
                level |= (SLOT1_TOUCH, SLOT2_TOUCH)[i]
            if cfg.ext & EXT_LED_INV:
                level |= LED_INV
        return level

    def status(self) -> bytes:
        version = bytes(self._profile.version)
        return version + bytes([self.state.prog_seq]) + struct.pack("<H", self.touch_level())

    def select(self) -> bytes:
        return self.status()

    # -- commands --------------------------------------------------------------------------------

    def process(self, cmd: CommandApdu) -> bytes:
        if cmd.ins == INS_STATUS:
            return self.status()
        if cmd.ins != INS_CONFIG:
            raise ApduError(Sw.INVALID_INSTRUCTION, f"OTP INS {cmd.ins:02X} not supported")
        p1 = cmd.p1
        if p1 in (CMD_CONFIG_1, CMD_CONFIG_2):
            return self._write(0 if p1 == CMD_CONFIG_1 else 1, cmd.data, update=False)
        if p1 in (CMD_UPDATE_1, CMD_UPDATE_2):
            return self._write(0 if p1 == CMD_UPDATE_1 else 1, cmd.data, update=True)
        if p1 == CMD_SWAP:
            return self._swap()
        if p1 == CMD_DEVICE_SERIAL:
            return self._key_state.serial.to_bytes(4, "big")
        if p1 in (CMD_HMAC_1, CMD_HMAC_2):
            return self._hmac(0 if p1 == CMD_HMAC_1 else 1, cmd.data)
        if p1 in (CMD_CHAL_OTP_1, CMD_CHAL_OTP_2):
            return self._chal_otp(0 if p1 == CMD_CHAL_OTP_1 else 1, cmd.data)
        raise ApduError(Sw.INCORRECT_P1P2, f"OTP slot command {p1:02X} not emulated")

    def _access_ok(self, index: int, data: bytes) -> bool:
        slot = self.state.slots[index]
        if slot is None:
            return True
        stored = SlotConfig(slot.config).acc_code
        given = data[CONFIG_SIZE : CONFIG_SIZE + ACC_CODE_SIZE].ljust(ACC_CODE_SIZE, b"\0")
        return stored == NO_ACCESS_CODE or hmac.compare_digest(stored, given)

    def _written(self) -> bytes:
        # The sequence moves on with each accepted write, and restarts at 0 once no slot is valid.
        if all(s is None for s in self.state.slots):
            self.state.prog_seq = 0
        else:
            self.state.prog_seq = (self.state.prog_seq + 1) & 0xFF
        self._commit()
        return self.status()

    def _write(self, index: int, data: bytes, update: bool) -> bytes:
        if len(data) < CONFIG_SIZE:
            raise ApduError(Sw.WRONG_LENGTH, f"configuration must be {CONFIG_SIZE} bytes")
        raw = bytes(data[:CONFIG_SIZE])
        if not self._access_ok(index, data):
            return self.status()  # refused: wrong or missing access code
        if raw == bytes(CONFIG_SIZE):
            if update:
                return self.status()
            self.state.slots[index] = None
            self._sessions[index] = _Session()
            return self._written()
        if crc16(raw) != CRC_OK_RESIDUAL:
            return self.status()
        new = SlotConfig(raw)
        if update:
            slot = self.state.slots[index]
            if slot is None or not SlotConfig(slot.config).ext & EXT_ALLOW_UPDATE:
                return self.status()
            old = SlotConfig(slot.config)
            # An update changes only the flags that may be updated, and the access code.
            slot.config = old.with_flags(
                (old.ext & ~EXT_UPDATE_MASK) | (new.ext & EXT_UPDATE_MASK),
                (old.tkt & ~TKT_UPDATE_MASK) | (new.tkt & TKT_UPDATE_MASK),
                (old.cfg & ~CFG_UPDATE_MASK) | (new.cfg & CFG_UPDATE_MASK),
                new.acc_code,
            )
            return self._written()
        hotp_start = 0
        if new.mode == "hotp":
            # The initial moving factor is stored in the last two bytes of uid, divided by 16.
            hotp_start = struct.unpack(">H", new.uid[4:6])[0] << 4
        self.state.slots[index] = OtpSlot(raw, use_counter=0, hotp_counter=hotp_start)
        self._sessions[index] = _Session()
        return self._written()

    def _swap(self) -> bytes:
        s = self.state.slots
        s[0], s[1] = s[1], s[0]
        self._sessions.reverse()
        return self._written()

    def _configured(self, index: int, mode: str) -> tuple[OtpSlot, SlotConfig]:
        slot = self.state.slots[index]
        if slot is None or SlotConfig(slot.config).mode != mode:
            raise ApduError(Sw.CONDITIONS_NOT_SATISFIED, f"slot {index + 1} is not configured for {mode}")
        return slot, SlotConfig(slot.config)

    def _hmac(self, index: int, challenge: bytes) -> bytes:
        _, cfg = self._configured(index, "chal-hmac")
        if len(challenge) > HMAC_CHALLENGE_SIZE:
            raise ApduError(Sw.WRONG_LENGTH, "HMAC challenge longer than 64 bytes")
        if cfg.cfg & CFG_HMAC_LT64 and len(challenge) == HMAC_CHALLENGE_SIZE:
            # The host pads a short challenge to 64 bytes with a byte unlike its last one; the
            # key drops the trailing run of bytes equal to the last byte.
            challenge = challenge.rstrip(challenge[-1:])
        if cfg.cfg & CFG_CHAL_BTN_TRIG and not self._touch():
            raise ApduError(Sw.SECURITY_CONDITION_NOT_SATISFIED, "no touch")
        return hmac.new(cfg.hmac_key, challenge, hashlib.sha1).digest()

    def _chal_otp(self, index: int, challenge: bytes) -> bytes:
        slot, cfg = self._configured(index, "chal-yubico")
        if len(challenge) < CHAL_OTP_SIZE:
            raise ApduError(Sw.WRONG_LENGTH, "Yubico challenge must be 6 bytes")
        if cfg.cfg & CFG_CHAL_BTN_TRIG and not self._touch():
            raise ApduError(Sw.SECURITY_CONDITION_NOT_SATISFIED, "no touch")
        # Yubico OTP challenge-response: a ticket with the challenge in place of the private id.
        return self._ticket(index, slot, cfg, bytes(challenge[:CHAL_OTP_SIZE]))

    # -- the button ------------------------------------------------------------------------------

    def _timestamp(self) -> int:
        return (self._timer_base + int((self._clock() - self._powered_at) * TIMESTAMP_HZ)) & 0xFFFFFF

    def _ticket(self, index: int, slot: OtpSlot, cfg: SlotConfig, uid: bytes) -> bytes:
        session = self._sessions[index]
        if not session.started:
            # The usage counter moves at the first use after power-up (not at power-up itself, so
            # plugging a key in without using it does not spend counter values).
            session.started = True
            session.counter = 0
            slot.use_counter = min(slot.use_counter + 1, USE_COUNTER_MAX)
            self._commit()
        ts = self._timestamp()
        body = (
            uid
            + struct.pack("<H", slot.use_counter)
            + struct.pack("<I", ts)[:3]
            + bytes([session.counter])
            + struct.pack("<H", secrets.randbelow(1 << 16))
        )
        ticket = body + struct.pack("<H", 0xFFFF & ~crc16(body))
        session.counter = (session.counter + 1) & 0xFF
        if session.counter == 0:
            # The session counter wrapped: the usage counter takes the carry.
            slot.use_counter = min(slot.use_counter + 1, USE_COUNTER_MAX)
            self._commit()
        encryptor = Cipher(algorithms.AES(cfg.key), modes.ECB()).encryptor()  # noqa: S305 (spec)
        return encryptor.update(ticket) + encryptor.finalize()

    def press_button(self, slot_number: int) -> str:
        """What the key types when its button is pressed for slot 1 (short) or 2 (long).

        Yubico OTP: public id + encrypted ticket (modhex); OATH-HOTP: token id + code; static
        password: the text (US keyboard layout). Keyboard extras (tabs, Enter, delays) are left out.
        """
        index = slot_number - 1
        if index not in (0, 1):
            raise ValueError("slot must be 1 or 2")
        slot = self.state.slots[index]
        if slot is None:
            raise ValueError(f"slot {slot_number} is empty: pressing it types nothing")
        cfg = SlotConfig(slot.config)
        mode = cfg.mode
        if mode == "yubico":
            return modhex(cfg.fixed) + modhex(self._ticket(index, slot, cfg, cfg.uid))
        if mode == "hotp":
            return self._hotp(slot, cfg)
        if mode == "static":
            return _scancodes_to_text(cfg.raw[:OFF_ACC])
        raise ValueError(f"slot {slot_number} ({mode}) does not type on a press")

    def _hotp(self, slot: OtpSlot, cfg: SlotConfig) -> str:
        digits = 8 if cfg.cfg & CFG_OATH_HOTP8 else 6
        mac = hmac.new(cfg.hmac_key, struct.pack(">Q", slot.hotp_counter), hashlib.sha1).digest()
        offset = mac[-1] & 0x0F
        code = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
        slot.hotp_counter += 1
        self._commit()
        fixed = cfg.fixed
        modhex_flags = cfg.cfg & CFG_OATH_FIXED_MODHEX
        widths = {CFG_OATH_FIXED_MODHEX: len(fixed), CFG_OATH_FIXED_MODHEX2: 2, CFG_OATH_FIXED_MODHEX1: 1}
        n_modhex = widths.get(modhex_flags, 0)
        # The token id: its modhex part (OMP, TT), then the rest (MUI) as hex digits.
        return modhex(fixed[:n_modhex]) + fixed[n_modhex:].hex() + f"{code:0{digits}d}"


# USB HID usage ids of a US keyboard (bit 0x80 = shift), as ykman's scancodes.us encodes text.
_US_PLAIN = "abcdefghijklmnopqrstuvwxyz1234567890"
# 0x32 is "Non-US # and ~" in the HID usage tables; a US host types a backslash for it (Linux hid-input
# maps it to KEY_BACKSLASH like 0x31), and ykman's US layout encodes "\\" and "|" with it.
_US_PUNCT = {0x28: "\n", 0x2B: "\t", 0x2C: " ", 0x2D: "-", 0x2E: "=", 0x2F: "[", 0x30: "]", 0x31: "\\",
             0x32: "\\", 0x33: ";", 0x34: "'", 0x35: "`", 0x36: ",", 0x37: ".", 0x38: "/"}  # fmt: skip
_US_SHIFTED = {"1": "!", "2": "@", "3": "#", "4": "$", "5": "%", "6": "^", "7": "&", "8": "*", "9": "(",
               "0": ")", "-": "_", "=": "+", "[": "{", "]": "}", "\\": "|", ";": ":", "'": '"', "`": "~",
               ",": "<", ".": ">", "/": "?"}  # fmt: skip


def _scancodes_to_text(codes: bytes) -> str:
    out = []
    for code in codes.rstrip(b"\0"):
        usage, shift = code & 0x7F, bool(code & 0x80)
        if 0x04 <= usage < 0x04 + len(_US_PLAIN):
            ch = _US_PLAIN[usage - 0x04]
        elif usage in _US_PUNCT:
            ch = _US_PUNCT[usage]
        else:
            ch = f"<{code:02x}>"
        if shift:
            ch = ch.upper() if ch.isalpha() else _US_SHIFTED.get(ch, ch)
        out.append(ch)
    return "".join(out)
