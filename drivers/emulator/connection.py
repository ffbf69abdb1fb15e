"""An in-process yubikit SmartCardConnection to a VirtualYubiKey, for fast tests without pcscd."""

from __future__ import annotations

from yubikit.core import TRANSPORT
from yubikit.core.smartcard import SmartCardConnection

from .card import VirtualYubiKey


class VirtualConnection(SmartCardConnection):
    """What pyscard would give yubikit, minus the PC/SC stack. Opening one powers the card up.

    If the key is pulled (see VirtualYubiKey.pull_on), send_and_receive raises KeyPulled, a
    ConnectionError, as a real removal surfaces as a connection error.
    """

    def __init__(self, key: VirtualYubiKey) -> None:
        self.key = key
        key.power_on()

    @property
    def transport(self) -> TRANSPORT:
        return TRANSPORT.USB if self.key.transport == "usb" else TRANSPORT.NFC

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        resp = self.key.transmit(bytes(apdu))
        return resp[:-2], int.from_bytes(resp[-2:], "big")

    def close(self) -> None:
        pass
