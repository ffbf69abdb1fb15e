"""The virtual key's touch sensor: how a command that needs a touch gets (or does not get) one.

A real YubiKey blinks and waits up to about 15 seconds for the sensor to be touched; with no touch
the command fails (OATH answers SECURITY CONDITION NOT SATISFIED, 6982, which ykman reports as
"Touch account timed out!"). The virtual key offers three policies:

- ``auto``: every touch request is granted at once, as if the holder tapped immediately (demos,
  and the default, so that scripts driving the key never hang);
- ``never``: nobody touches; each request waits ``timeout`` seconds, then fails as the real key
  does (shorten the timeout in tests);
- ``wait``: each request waits up to ``timeout`` seconds for ``press()``: in-process through
  ``VirtualYubiKey.touch()``, for a served key by sending the emulator process SIGUSR1.

A press only counts while a request is waiting, as with a real sensor: touching the key before
it blinks does nothing.
"""

from __future__ import annotations

import threading

POLICIES = ("auto", "never", "wait")
# Yubico: "the YubiKey will wait for a touch for 15 seconds" (OATH, OTP, PIV touch policies).
DEFAULT_TIMEOUT = 15.0


class TouchSensor:
    """One key's sensor. Thread-safe: press() may come from another thread or a signal handler."""

    def __init__(self, policy: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> None:
        if policy not in POLICIES:
            raise ValueError(f"touch policy must be one of {POLICIES}, not {policy!r}")
        if timeout < 0:
            raise ValueError("touch timeout must not be negative")
        self.policy = policy
        self.timeout = timeout
        self.requests = 0  # touch requests seen, granted or not (tests and logs read this)
        self._pressed = threading.Event()
        self._waiting = threading.Event()

    @property
    def waiting(self) -> threading.Event:
        """Set while a command waits for a touch (a test waits on it before pressing)."""
        return self._waiting

    def press(self) -> None:
        """Touch the sensor. Counts only if a command is waiting for it right now."""
        if self._waiting.is_set():
            self._pressed.set()

    def request(self) -> bool:
        """Block as the real key does while it blinks; True if touched in time."""
        self.requests += 1
        if self.policy == "auto":
            return True
        self._pressed.clear()
        self._waiting.set()
        try:
            if self.policy == "never":
                # Nobody will press; wait out the timeout all the same, as a host would see it.
                threading.Event().wait(self.timeout)
                return False
            return self._pressed.wait(self.timeout)
        finally:
            self._waiting.clear()
            self._pressed.clear()
