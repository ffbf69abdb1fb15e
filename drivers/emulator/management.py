"""The Management applet: who the key is (serial, firmware, form factor, capabilities).

READ CONFIG answers a page of length-prefixed TLVs, the layout yubikit's DeviceInfo.parse_tlvs reads.
From firmware 5.6 the key has more to say than it puts on page 0, so page 0 ends with TAG_MORE_DATA
and the newer fields follow on page 1, as 5.6+ firmware does.
"""

from __future__ import annotations

from firmware_profiles import FirmwareProfile

from .apdu import ApduError, CommandApdu, Sw, tlv
from .state import KeyState

AID = bytes.fromhex("a000000527471117")

INS_READ_CONFIG = 0x1D

TAG_USB_SUPPORTED = 0x01
TAG_SERIAL = 0x02
TAG_USB_ENABLED = 0x03
TAG_FORM_FACTOR = 0x04
TAG_VERSION = 0x05
TAG_AUTO_EJECT_TIMEOUT = 0x06
TAG_CHALRESP_TIMEOUT = 0x07
TAG_DEVICE_FLAGS = 0x08
TAG_CONFIG_LOCK = 0x0A
TAG_NFC_SUPPORTED = 0x0D
TAG_NFC_ENABLED = 0x0E
TAG_MORE_DATA = 0x10
TAG_FIPS_CAPABLE = 0x14
TAG_FIPS_APPROVED = 0x15
TAG_PIN_COMPLEXITY = 0x16
TAG_NFC_RESTRICTED = 0x17
TAG_RESET_BLOCKED = 0x18

# Factory defaults of a YubiKey 5: no auto-eject, 15 s challenge-response touch timeout, no flags.
DEFAULT_AUTO_EJECT = 0
DEFAULT_CHALRESP_TIMEOUT = 15
DEFAULT_DEVICE_FLAGS = 0


class ManagementApplet:
    """Answers SELECT with the firmware version string and READ CONFIG with the device info."""

    aid = AID
    send_remaining_ins = 0xC0

    def __init__(self, state: KeyState, profile: FirmwareProfile) -> None:
        self._state = state
        self._profile = profile

    def select(self) -> bytes:
        # Firmware 5.x answers SELECT with its version as ASCII, e.g. b"5.4.3".
        return self._profile.version_text.encode("ascii")

    def process(self, cmd: CommandApdu) -> bytes:
        if cmd.ins == INS_READ_CONFIG:
            return self._read_config(cmd.p1)
        # WRITE CONFIG (0x1C), SET MODE (0x16) and DEVICE RESET (0x1F) are not emulated yet.
        raise ApduError(Sw.INVALID_INSTRUCTION, f"management INS {cmd.ins:02X} not supported")

    def pages(self) -> list[bytes]:
        """The TLV content of each READ CONFIG page, TAG_MORE_DATA included."""
        p = self._profile
        base = (
            tlv(TAG_USB_SUPPORTED, p.usb_capability_bits.to_bytes(2, "big"))
            + tlv(TAG_SERIAL, self._state.serial.to_bytes(4, "big"))
            + tlv(TAG_USB_ENABLED, p.usb_capability_bits.to_bytes(2, "big"))
            + tlv(TAG_FORM_FACTOR, bytes([p.form_factor_code]))
            + tlv(TAG_VERSION, bytes(p.version))
            + tlv(TAG_AUTO_EJECT_TIMEOUT, DEFAULT_AUTO_EJECT.to_bytes(2, "big"))
            + tlv(TAG_CHALRESP_TIMEOUT, bytes([DEFAULT_CHALRESP_TIMEOUT]))
            + tlv(TAG_DEVICE_FLAGS, bytes([DEFAULT_DEVICE_FLAGS]))
            + tlv(TAG_CONFIG_LOCK, b"\x00")
        )
        if p.nfc:
            base += tlv(TAG_NFC_SUPPORTED, p.nfc_capability_bits.to_bytes(2, "big"))
            base += tlv(TAG_NFC_ENABLED, p.nfc_capability_bits.to_bytes(2, "big"))
        if p.version < (5, 6, 0):
            return [base]
        newer = (
            tlv(TAG_FIPS_CAPABLE, b"\x00\x00")
            + tlv(TAG_FIPS_APPROVED, b"\x00\x00")
            + tlv(TAG_PIN_COMPLEXITY, b"\x00")
            + tlv(TAG_NFC_RESTRICTED, b"\x00")
            + tlv(TAG_RESET_BLOCKED, b"\x00\x00")
        )
        return [base + tlv(TAG_MORE_DATA, b"\x01"), newer]

    def _read_config(self, page: int) -> bytes:
        pages = self.pages()
        # Pages past the last are empty, which the host reads as "nothing more".
        body = pages[page] if page < len(pages) else b""
        return bytes([len(body)]) + body
