"""What the Yubico OTP applet remembers: two slot configurations, their counters, the programming sequence.

A slot keeps the 52-byte configuration struct exactly as the host wrote it (see otp.py for its layout), so
nothing the host set is lost in translation; the applet reads fields out of it when it needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONFIG_SIZE = 52


@dataclass
class OtpSlot:
    """One programmed slot.

    `use_counter` is the Yubico OTP non-volatile usage counter (last value used in an OTP);
    `hotp_counter` is the OATH-HOTP moving factor of the next code.
    """

    config: bytes
    use_counter: int = 0
    hotp_counter: int = 0

    def to_json(self) -> dict:
        return {
            "config": self.config.hex(),
            "use_counter": self.use_counter,
            "hotp_counter": self.hotp_counter,
        }

    @classmethod
    def from_json(cls, data: dict) -> OtpSlot:
        config = bytes.fromhex(data["config"])
        if len(config) != CONFIG_SIZE:
            raise ValueError(f"OTP slot config must be {CONFIG_SIZE} bytes, not {len(config)}")
        return cls(config, int(data.get("use_counter", 0)), int(data.get("hotp_counter", 0)))


@dataclass
class OtpState:
    """Slots 1 and 2 (index 0 and 1; None when empty) and the programming sequence number."""

    slots: list[OtpSlot | None] = field(default_factory=lambda: [None, None])
    prog_seq: int = 0

    def to_json(self) -> dict:
        return {
            "prog_seq": self.prog_seq,
            "slots": [None if s is None else s.to_json() for s in self.slots],
        }

    @classmethod
    def from_json(cls, data: dict | None) -> OtpState:
        """The state from its JSON form; None (a state file from before the OTP applet) is a fresh key."""
        if data is None:
            return cls()
        slots = [None if s is None else OtpSlot.from_json(s) for s in data.get("slots", [None, None])]
        if len(slots) != 2:
            raise ValueError("OTP state must hold exactly two slots")
        return cls(slots=slots, prog_seq=int(data.get("prog_seq", 0)))
