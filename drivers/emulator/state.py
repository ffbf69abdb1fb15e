"""What a virtual YubiKey remembers, and its file on disk.

The state is written after every state-changing command (atomic: temp file, fsync, rename, mode 0600),
so a key killed at any moment comes back with either the old or the new state, never a torn one.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .mgmt_state import MgmtState
from .otp_state import OtpState

FORMAT = 1


class StateError(RuntimeError):
    """The state file cannot be used for the key asked for (other serial, other model, corrupt)."""


@dataclass
class OathCredential:
    """One OATH credential as the key stores it (the key already padded or hashed by the host)."""

    name: bytes
    oath_type: int  # 0x10 HOTP, 0x20 TOTP (YKOATH type nibble)
    algorithm: int  # 1 SHA1, 2 SHA256, 3 SHA512
    digits: int
    key: bytes
    touch: bool = False
    counter: int = 0  # HOTP moving factor; unused for TOTP


@dataclass
class OathState:
    """The OATH applet's data: a salt that names the applet instance, and the credentials."""

    salt: bytes = field(default_factory=lambda: secrets.token_bytes(8))
    credentials: list[OathCredential] = field(default_factory=list)
    # Access key (issue 3): (algorithm, key) once SET CODE is implemented; None means unlocked.
    access_key: tuple[int, bytes] | None = None

    def find(self, name: bytes) -> OathCredential | None:
        return next((c for c in self.credentials if c.name == name), None)


@dataclass
class KeyState:
    """Everything a virtual key remembers across restarts."""

    serial: int
    model: str
    firmware: str
    oath: OathState = field(default_factory=OathState)
    otp: OtpState = field(default_factory=OtpState)
    mgmt: MgmtState = field(default_factory=MgmtState)

    def to_json(self) -> dict:
        oath = {
            "salt": self.oath.salt.hex(),
            "access_key": (
                None
                if self.oath.access_key is None
                else {"algorithm": self.oath.access_key[0], "key": self.oath.access_key[1].hex()}
            ),
            "credentials": [
                {**asdict(c), "name": c.name.hex(), "key": c.key.hex()} for c in self.oath.credentials
            ],
        }
        return {
            "format": FORMAT,
            "serial": self.serial,
            "model": self.model,
            "firmware": self.firmware,
            "oath": oath,
            "otp": self.otp.to_json(),
            "mgmt": self.mgmt.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> KeyState:
        if data.get("format") != FORMAT:
            raise StateError(f"unknown state format {data.get('format')!r}")
        oath = data["oath"]
        access = oath.get("access_key")
        return cls(
            serial=int(data["serial"]),
            model=str(data["model"]),
            firmware=str(data["firmware"]),
            oath=OathState(
                salt=bytes.fromhex(oath["salt"]),
                access_key=None
                if access is None
                else (int(access["algorithm"]), bytes.fromhex(access["key"])),
                credentials=[
                    OathCredential(**{**c, "name": bytes.fromhex(c["name"]), "key": bytes.fromhex(c["key"])})
                    for c in oath["credentials"]
                ],
            ),
            otp=OtpState.from_json(data.get("otp")),
            mgmt=MgmtState.from_json(data.get("mgmt")),
        )


class StateFile:
    """The JSON file one virtual key lives in."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load_or_create(self, serial: int, model: str, firmware: str) -> KeyState:
        """Load the key in the file, or create a fresh key (and file) if there is none.

        A file holding another serial, model or firmware is refused: a real key never changes
        those, so a mismatch means the wrong file was given.
        """
        if not self.path.exists():
            state = KeyState(serial=serial, model=model, firmware=firmware)
            self.save(state)
            return state
        try:
            state = KeyState.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(f"{self.path}: not a virtual YubiKey state file ({exc})") from exc
        asked = (serial, model, firmware)
        held = (state.serial, state.model, state.firmware)
        if asked != held:
            raise StateError(
                f"{self.path} holds key serial {state.serial} ({state.model} {state.firmware}), "
                f"not serial {serial} ({model} {firmware}); use another --state file"
            )
        return state

    def save(self, state: KeyState) -> None:
        """Atomically replace the file with this state."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(state.to_json(), indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)  # seeds are secrets even in a virtual key
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # fsync the directory so the rename itself survives a crash.
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
