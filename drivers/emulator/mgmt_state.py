"""What the Management applet remembers: the device configuration a host can write with WRITE CONFIG.

Enabled applications are capability bit masks (yubikit's CAPABILITY values) per transport; None means
"never written", i.e. the factory default of everything the profile supports. The lock code is the
16-byte configuration lock code, or None when the configuration is not locked.
"""

from __future__ import annotations

from dataclasses import dataclass

# Factory defaults of a YubiKey 5: no auto-eject, 15 s challenge-response touch timeout, no flags.
DEFAULT_AUTO_EJECT = 0
DEFAULT_CHALRESP_TIMEOUT = 15
DEFAULT_DEVICE_FLAGS = 0
LOCK_CODE_SIZE = 16


@dataclass
class MgmtState:
    """The stored device configuration."""

    usb_enabled: int | None = None
    nfc_enabled: int | None = None
    auto_eject_timeout: int = DEFAULT_AUTO_EJECT
    chalresp_timeout: int = DEFAULT_CHALRESP_TIMEOUT
    device_flags: int = DEFAULT_DEVICE_FLAGS
    lock_code: bytes | None = None

    def to_json(self) -> dict:
        return {
            "usb_enabled": self.usb_enabled,
            "nfc_enabled": self.nfc_enabled,
            "auto_eject_timeout": self.auto_eject_timeout,
            "chalresp_timeout": self.chalresp_timeout,
            "device_flags": self.device_flags,
            "lock_code": None if self.lock_code is None else self.lock_code.hex(),
        }

    @classmethod
    def from_json(cls, data: dict | None) -> MgmtState:
        """The state from its JSON form; None (a state file from before WRITE CONFIG) is a factory key."""
        if data is None:
            return cls()
        lock = data.get("lock_code")
        usb, nfc = data.get("usb_enabled"), data.get("nfc_enabled")
        state = cls(
            usb_enabled=None if usb is None else int(usb),
            nfc_enabled=None if nfc is None else int(nfc),
            auto_eject_timeout=int(data.get("auto_eject_timeout", DEFAULT_AUTO_EJECT)),
            chalresp_timeout=int(data.get("chalresp_timeout", DEFAULT_CHALRESP_TIMEOUT)),
            device_flags=int(data.get("device_flags", DEFAULT_DEVICE_FLAGS)),
            lock_code=None if lock is None else bytes.fromhex(lock),
        )
        if state.lock_code is not None and len(state.lock_code) != LOCK_CODE_SIZE:
            raise ValueError(f"lock code must be {LOCK_CODE_SIZE} bytes, not {len(state.lock_code)}")
        return state
