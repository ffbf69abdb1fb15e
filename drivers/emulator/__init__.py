"""The virtual YubiKey: YubiKey applets at APDU level, served to pcscd through vpcd.

- `card.VirtualYubiKey`: the card (ATR, applet routing, chaining, simulated pulls);
- `connection.VirtualConnection`: an in-process yubikit SmartCardConnection to it;
- `vpcd.serve`: the key on a vpcd socket, i.e. in a real PC/SC reader;
- `state`: what a key remembers, persisted atomically to a JSON file.
"""

from .card import KeyPulled, VirtualYubiKey
from .connection import VirtualConnection
from .state import StateError
from .vpcd import add_serve_arguments, run_from_args, serve

__all__ = [
    "KeyPulled",
    "StateError",
    "VirtualConnection",
    "VirtualYubiKey",
    "add_serve_arguments",
    "run_from_args",
    "serve",
]
