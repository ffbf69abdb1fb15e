"""The Management applet: who the key is (serial, firmware, form factor, capabilities) and its configuration.

READ CONFIG (INS 1D, P1 = page) answers a page of length-prefixed TLVs, the layout yubikit's
DeviceInfo.parse_tlvs reads. A page that is not the last ends with TAG_MORE_DATA (01), and yubikit reads
pages until one lacks it. The tags, their order and their widths are those of real keys, as
`ykman --diagnose` prints them ("Raw Info") in public yubikey-manager issues; tests/unit/
test_emulator_device_info.py holds those dumps and checks the pages against them byte for byte:

- YubiKey 4 (4.3.7, issue #647): only USB supported (one byte, FF), serial and USB enabled (one byte).
  No form factor, no version: ykman shows no "Form factor" line for a YubiKey 4.
- YubiKey 5 before 5.7 (5.2.7 in #619 and #500, 5.4.3 in #685): 01 03 02 04 05 06 07 08 [0D 0E] 0A 0F,
  capabilities two bytes wide with bit 04 (the CCID interface) set beside the applications.
- 5.7 (5.7.1 in #625): page 0 adds the fingerprint and STM versions (20, 21, zero) and says "more";
  page 1 holds free form (11), HID init delay (12), FIPS capable/approved (14, 15), PIN complexity (16)
  and NFC restricted (17). The part number (13) is left out: the virtual key has none.

WRITE CONFIG (INS 1C) takes one length byte and TLVs, as yubikit's DeviceConfig.get_bytes builds them:
enabled applications per transport, auto-eject and challenge-response timeouts, device flags, a new lock
code (TAG_CONFIG_LOCK; sixteen zero bytes clear it), the current lock code (TAG_UNLOCK) and TAG_REBOOT.
A locked configuration refuses any write without the right TAG_UNLOCK with 6982.

The configuration is stored at once (READ CONFIG reports it right away), but which applications answer
SELECT is fixed at power-up, as on a real key: the change takes effect at the next power-up of the card
(a reinsertion, a reader's power cycle or reset, which every new PC/SC session of ykman causes) or at
once when the write asked for a reboot: the key then drops off the reader and comes back.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware_profiles import FirmwareProfile

from .apdu import ApduError, CommandApdu, Sw, parse_tlvs, tlv
from .mgmt_state import LOCK_CODE_SIZE, MgmtState
from .state import KeyState

AID = bytes.fromhex("a000000527471117")

INS_WRITE_CONFIG = 0x1C
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
TAG_UNLOCK = 0x0B
TAG_REBOOT = 0x0C
TAG_NFC_SUPPORTED = 0x0D
TAG_NFC_ENABLED = 0x0E
TAG_IAP_DETECTION = 0x0F
TAG_MORE_DATA = 0x10
TAG_FREE_FORM = 0x11
TAG_HID_INIT_DELAY = 0x12
TAG_FIPS_CAPABLE = 0x14
TAG_FIPS_APPROVED = 0x15
TAG_PIN_COMPLEXITY = 0x16
TAG_NFC_RESTRICTED = 0x17
TAG_RESET_BLOCKED = 0x18
TAG_FPS_VERSION = 0x20
TAG_STM_VERSION = 0x21

# Capability bit 04 is the CCID interface (yubikit USB_INTERFACE.CCID): real keys with smart-card
# applications report it beside them, supported and enabled, over USB and NFC (the dumps above).
CCID_BIT = 0x04
CCID_APPLICATIONS = 0x08 | 0x10 | 0x20 | 0x100  # OpenPGP, PIV, OATH, YubiHSM Auth
# A YubiKey 4 reports FF as its USB supported byte (issue #647): bits 04, 40 and 80 beside the
# applications. yubikit shows the same applications either way.
YK4_EXTRA_BITS = 0xC4
# TAG_FIPS_CAPABLE numbers the applications its own way: FIDO2, PIV, OpenPGP, OATH, YubiHSM Auth.
FIPS_BITS = ((0x01, 0x200), (0x02, 0x10), (0x04, 0x08), (0x08, 0x20), (0x10, 0x100))

# A page is one length byte and at most this much TLV data, so it fits a short response (256 bytes).
PAGE_MAX = 0xFF - 1
_MORE_DATA_SIZE = 3  # tlv(TAG_MORE_DATA, b"\x01")

CLEARED_LOCK = bytes(LOCK_CODE_SIZE)

# Which capability bit switches which applet's AID (yubikit's CAPABILITY values). The Management applet
# itself is never switched off.
AID_CAPABILITY = {
    bytes.fromhex("a0000005272001"): 0x01,  # OTP
    bytes.fromhex("a0000006472f0001"): 0x02 | 0x200,  # FIDO (U2F or FIDO2 over CCID)
    bytes.fromhex("d27600012401"): 0x08,  # OpenPGP
    bytes.fromhex("a000000308"): 0x10,  # PIV
    bytes.fromhex("a0000005272101"): 0x20,  # OATH
    bytes.fromhex("a000000527210701"): 0x100,  # YubiHSM Auth
}


class ManagementApplet:
    """Device info (READ CONFIG) and device configuration (WRITE CONFIG) of one key."""

    aid = AID
    send_remaining_ins = 0xC0

    def __init__(
        self,
        state: KeyState,
        profile: FirmwareProfile,
        commit: Callable[[], None] = lambda: None,
        transport: str = "nfc",
    ) -> None:
        self._state = state
        self._profile = profile
        self._commit = commit
        self._transport = transport
        self.reboot_requested = False
        self._active = self.enabled(transport)

    # -- configuration as stored and as in force --------------------------------------------------

    @property
    def config(self) -> MgmtState:
        # A KeyState built by code that predates the Management state has no `mgmt` yet: give it one.
        mgmt = getattr(self._state, "mgmt", None)
        if mgmt is None:
            mgmt = MgmtState()
            self._state.mgmt = mgmt
        return mgmt

    def supported(self, transport: str) -> int:
        """The capability bits the key reports as supported over a transport (0: not available)."""
        p = self._profile
        bits = p.usb_capability_bits if transport == "usb" else (p.nfc_capability_bits if p.nfc else 0)
        if not bits:
            return 0
        if p.version < (5, 0, 0):
            return bits | YK4_EXTRA_BITS
        return bits | (CCID_BIT if bits & CCID_APPLICATIONS else 0)

    def enabled(self, transport: str) -> int:
        """The stored enabled set (what READ CONFIG reports): factory default is all supported."""
        stored = self.config.usb_enabled if transport == "usb" else self.config.nfc_enabled
        return self.supported(transport) if stored is None else stored

    def power_up(self) -> None:
        """A power-up (insertion, reader power cycle, reset, reboot): the stored config takes effect."""
        self._active = self.enabled(self._transport)
        self.reboot_requested = False

    def allows_select(self, aid: bytes) -> bool:
        """Whether the applet with this AID answers SELECT over this transport, since the last power-up."""
        bits = AID_CAPABILITY.get(bytes(aid))
        return bits is None or bool(self._active & bits)

    # -- APDUs ------------------------------------------------------------------------------------

    def select(self) -> bytes:
        # Firmware 5.x answers SELECT with its version as ASCII, e.g. b"5.4.3".
        return self._profile.version_text.encode("ascii")

    def process(self, cmd: CommandApdu) -> bytes:
        if cmd.ins == INS_READ_CONFIG:
            return self._read_config(cmd.p1)
        if cmd.ins == INS_WRITE_CONFIG and self._profile.version >= (5, 0, 0):
            # Before 5.0 the configuration is set with SET MODE over the OTP applet, not here.
            self._write_config(cmd.data)
            return b""
        # SET MODE (0x16) and DEVICE RESET (0x1F) are not emulated.
        raise ApduError(Sw.INVALID_INSTRUCTION, f"management INS {cmd.ins:02X} not supported")

    def _tlvs(self) -> tuple[list[bytes], list[bytes]]:
        """The device info TLVs in firmware order: those of page 0, and those 5.7 puts on page 1."""
        p, c = self._profile, self.config
        serial = [tlv(TAG_SERIAL, self._state.serial.to_bytes(4, "big"))] if p.serial_visible else []
        if p.version < (5, 0, 0):
            usb_enabled = self.enabled("usb") & 0xFF
            base = [tlv(TAG_USB_SUPPORTED, bytes([self.supported("usb")])), *serial,
                    tlv(TAG_USB_ENABLED, bytes([usb_enabled]))]
            return base, []
        base = [
            tlv(TAG_USB_SUPPORTED, self.supported("usb").to_bytes(2, "big")),
            tlv(TAG_USB_ENABLED, self.enabled("usb").to_bytes(2, "big")),
            *serial,
            tlv(TAG_FORM_FACTOR, bytes([p.form_factor_byte])),
            tlv(TAG_VERSION, bytes(p.version)),
            tlv(TAG_AUTO_EJECT_TIMEOUT, c.auto_eject_timeout.to_bytes(2, "big")),
            tlv(TAG_CHALRESP_TIMEOUT, bytes([c.chalresp_timeout])),
            tlv(TAG_DEVICE_FLAGS, bytes([c.device_flags])),
        ]
        if p.nfc:
            base.append(tlv(TAG_NFC_SUPPORTED, self.supported("nfc").to_bytes(2, "big")))
            base.append(tlv(TAG_NFC_ENABLED, self.enabled("nfc").to_bytes(2, "big")))
        base += [
            tlv(TAG_CONFIG_LOCK, b"\x01" if c.lock_code is not None else b"\x00"),
            tlv(TAG_IAP_DETECTION, b"\x00"),
        ]
        if p.version < (5, 7, 0):
            return base, []
        base += [tlv(TAG_FPS_VERSION, bytes(3)), tlv(TAG_STM_VERSION, bytes(3))]
        newer = [
            tlv(TAG_FREE_FORM, bytes(4)),
            tlv(TAG_HID_INIT_DELAY, b"\x00"),
            tlv(TAG_FIPS_CAPABLE, self._fips_capable().to_bytes(2, "big")),
            tlv(TAG_FIPS_APPROVED, b"\x00\x00"),
            tlv(TAG_PIN_COMPLEXITY, b"\x00"),
            tlv(TAG_NFC_RESTRICTED, b"\x00"),
        ]
        return base, newer

    def _fips_capable(self) -> int:
        """FIPS-capable applications in the field's own bit order (yubikit CAPABILITY._from_fips)."""
        if not self._profile.fips:
            return 0
        caps = self._profile.usb_capability_bits
        return sum(fips_bit for fips_bit, cap in FIPS_BITS if caps & cap)

    def pages(self) -> list[bytes]:
        """The TLV content of each READ CONFIG page, TAG_MORE_DATA included; each at most PAGE_MAX."""
        base, newer = self._tlvs()
        groups = [base, newer] if newer else [base]
        pages: list[bytes] = []
        current = b""
        for group in groups:
            if current:  # the firmware starts the newer fields on a page of their own
                pages.append(current)
                current = b""
            for item in group:
                if len(current) + len(item) > PAGE_MAX - _MORE_DATA_SIZE:
                    pages.append(current)
                    current = b""
                current += item
        pages.append(current)
        return [page + tlv(TAG_MORE_DATA, b"\x01") for page in pages[:-1]] + [pages[-1]]

    def _read_config(self, page: int) -> bytes:
        pages = self.pages()
        # Pages past the last are empty, which the host reads as "nothing more".
        body = pages[page] if page < len(pages) else b""
        return bytes([len(body)]) + body

    def _write_config(self, data: bytes) -> None:
        if not data or data[0] != len(data) - 1:
            raise ApduError(Sw.WRONG_LENGTH, "WRITE CONFIG length byte does not match the data")
        items = parse_tlvs(data[1:])
        fields = dict(items)
        if len(fields) != len(items):
            raise ApduError(Sw.INCORRECT_PARAMETERS, "a tag given twice")
        c = self.config
        if c.lock_code is not None and fields.get(TAG_UNLOCK) != c.lock_code:
            raise ApduError(Sw.SECURITY_CONDITION_NOT_SATISFIED, "configuration locked: no or wrong lock")

        # Validate everything before changing anything: a refused write leaves the config as it was.
        usb = self._enabled_value(fields, TAG_USB_ENABLED, "usb")
        nfc = self._enabled_value(fields, TAG_NFC_ENABLED, "nfc")
        if usb is not None and not usb & ~(CCID_BIT | YK4_EXTRA_BITS):
            raise ApduError(Sw.INCORRECT_PARAMETERS, "cannot disable every application over USB")
        auto_eject = self._int_value(fields, TAG_AUTO_EJECT_TIMEOUT, 2)
        chalresp = self._int_value(fields, TAG_CHALRESP_TIMEOUT, 1)
        flags = self._int_value(fields, TAG_DEVICE_FLAGS, 1)
        new_lock = fields.get(TAG_CONFIG_LOCK)
        if new_lock is not None and len(new_lock) != LOCK_CODE_SIZE:
            raise ApduError(Sw.INCORRECT_PARAMETERS, "lock code must be 16 bytes")
        if TAG_REBOOT in fields and fields[TAG_REBOOT]:
            raise ApduError(Sw.INCORRECT_PARAMETERS, "TAG_REBOOT takes no value")

        if usb is not None:
            c.usb_enabled = usb
        if nfc is not None:
            c.nfc_enabled = nfc
        if auto_eject is not None:
            c.auto_eject_timeout = auto_eject
        if chalresp is not None:
            c.chalresp_timeout = chalresp
        if flags is not None:
            c.device_flags = flags
        if new_lock is not None:
            c.lock_code = None if new_lock == CLEARED_LOCK else bytes(new_lock)
        # TAG_NFC_RESTRICTED (5.7) only switches NFC off until the next USB power-up: nothing to store.
        self._commit()
        if TAG_REBOOT in fields:
            self.reboot_requested = True

    def _enabled_value(self, fields: dict[int, bytes], tag: int, transport: str) -> int | None:
        if tag not in fields:
            return None
        value = self._int_value(fields, tag, 2)
        assert value is not None  # noqa: S101 (present, checked above)
        supported = self.supported(transport)
        if not supported or value & ~supported:
            raise ApduError(Sw.INCORRECT_PARAMETERS, f"applications {value:04X} not on {transport}")
        return value

    @staticmethod
    def _int_value(fields: dict[int, bytes], tag: int, width: int) -> int | None:
        if tag not in fields:
            return None
        value = fields[tag]
        if not 1 <= len(value) <= width:
            raise ApduError(Sw.INCORRECT_PARAMETERS, f"tag {tag:02X} must be at most {width} bytes")
        return int.from_bytes(value, "big")
