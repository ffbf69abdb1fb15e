"""Serve a VirtualYubiKey to pcscd through vsmartcard's vpcd socket.

The card is the TCP client: pcscd's vpcd driver listens (Debian: 127.0.0.1:35963 for reader
"Virtual PCD 00 00", :35964 for "Virtual PCD 00 01"), and the card counts as inserted while the
connection is up. Every message either way is a 2-byte big-endian length and a payload; a 1-byte
payload from vpcd is a control (0 power off, 1 power on, 2 reset, 4 get ATR; only 4 is answered),
anything longer is a command APDU, answered with the response APDU.

After a simulated pull (the connection dropped while vpcd waits for a response) pcscd reports the
reader empty at once, from the failed command, but its reader thread registers the removal only at
its next presence poll (some hundred milliseconds later; the reader's event count then moves on).
A key inserted before that poll is taken for the old card still sitting there and is never powered
up. A physical key pulled and put back that fast would fare no better; tests wait for the event
count to move (tests/pcsc_harness.py, KeyHandle.wait_removed) before re-inserting.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import firmware_profiles

from .card import TRANSPORTS, KeyPulled, VirtualYubiKey
from .readers import USB_PORT
from .state import StateError
from .touch import DEFAULT_TIMEOUT, POLICIES, TouchSensor

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
CTRL_POWER_OFF, CTRL_POWER_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
# How often blocking waits look up to see whether a stop was asked for.
POLL_INTERVAL = 0.2
# How long a rebooting key stays off the reader. Longer than pcscd's presence poll (0.4 s), so pcscd
# sees the removal before the key is back (else it takes the key for the old card, never powered up).
REBOOT_SECONDS = 1.0


class _Closed(Exception):
    """vpcd closed the connection (pcscd stopped)."""


def _quick_ack(sock: socket.socket) -> None:
    """Acknowledge what arrives at once (Linux TCP_QUICKACK; the kernel clears it again, so set it
    before every read).

    vpcd writes each message as two send() calls, the length and then the payload, with Nagle's
    algorithm on: the payload waits until the length is acknowledged, and a delayed ACK would hold
    every APDU back some 40 ms.
    """
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _recv_exact(sock: socket.socket, n: int, stop: threading.Event) -> bytes | None:
    """n bytes from the socket, or None once a stop is asked for."""
    buf = bytearray()
    while len(buf) < n:
        if stop.is_set():
            return None
        try:
            _quick_ack(sock)
            chunk = sock.recv(n - len(buf))
        except TimeoutError:
            continue
        if not chunk:
            raise _Closed()
        buf += chunk
    return bytes(buf)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


def _connect(host: str, port: int, stop: threading.Event) -> socket.socket | None:
    """Connect to vpcd, retrying until it listens (pcscd may start after us) or a stop."""
    while not stop.is_set():
        try:
            sock = socket.create_connection((host, port), timeout=POLL_INTERVAL)
        except OSError:
            stop.wait(POLL_INTERVAL)
            continue
        sock.settimeout(POLL_INTERVAL)
        # Each response goes out in one write; Nagle's algorithm would only delay it.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    return None


def serve_key(key: VirtualYubiKey, host: str, port: int, stop: threading.Event) -> str:
    """Serve one key until stop, vpcd closing, or a simulated pull; return which of the three."""
    sock = _connect(host, port, stop)
    if sock is None:
        return "stopped"
    log.info(
        "virtual YubiKey serial %d (%s %s, %s) inserted at %s:%d",
        key.serial,
        key.profile.model_name,
        key.profile.version_text,
        key.transport,
        host,
        port,
    )
    try:
        return _serve_connection(key, sock, stop)
    finally:
        sock.close()


def _serve_connection(key: VirtualYubiKey, sock: socket.socket, stop: threading.Event) -> str:
    try:
        while True:
            header = _recv_exact(sock, 2, stop)
            if header is None:
                return "stopped"
            payload = _recv_exact(sock, int.from_bytes(header, "big"), stop)
            if payload is None:
                return "stopped"
            if len(payload) == 1:
                ctrl = payload[0]
                log.debug("vpcd control %d", ctrl)
                if ctrl == CTRL_ATR:
                    _send(sock, key.atr)
                elif ctrl in (CTRL_POWER_OFF, CTRL_POWER_ON, CTRL_RESET):
                    key.power_on()
                else:
                    log.warning("unknown vpcd control byte %d", ctrl)
                continue
            try:
                resp = key.transmit(payload)
            except KeyPulled as exc:
                # Drop the connection without answering: pcscd sees the card vanish mid-command.
                log.info("%s; the command was not applied", exc)
                return "pulled"
            log.debug("> %s\n< %s", payload.hex(), resp.hex())
            _send(sock, resp)
            if key.management.reboot_requested:
                return "reboot"  # WRITE CONFIG asked for a reboot: the key leaves the reader
    except (_Closed, ConnectionError):
        return "closed"


# Applications that give a YubiKey its smart-card (CCID) interface over USB.
CCID_APPLICATIONS = frozenset({"OATH", "PIV", "OPENPGP", "HSMAUTH"})


def check_face(profile: firmware_profiles.FirmwareProfile, transport: str) -> None:
    """Refuse a face the real model does not have: a PC/SC reader would never show such a key."""
    if transport == "nfc" and not profile.nfc:
        raise ValueError(
            f"A {profile.model_name} has no NFC: no NFC reader ever sees one. Serve it with --transport usb"
            f" on the USB-face reader (--port {USB_PORT})."
        )
    if transport == "usb" and not profile.usb_capabilities & CCID_APPLICATIONS:
        raise ValueError(
            f"A {profile.model_name} has no smart-card (CCID) interface over USB: there it is a FIDO (HID)"
            " device, which no PC/SC reader shows. Serve it with --transport nfc."
        )


def serve(
    serial: int,
    firmware: str = "5.4.3",
    state_path: Path | None = None,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    model: str = "yubikey-5-nfc",
    transport: str = "nfc",
    pull_on_ins: int | None = None,
    touch: str = "auto",
    touch_timeout: float = DEFAULT_TIMEOUT,
    oath_full: bool = False,
) -> None:
    """Insert a virtual key into vpcd's reader at host:port and serve it.

    touch is the touch sensor's policy (touch.py); with "wait", SIGUSR1 touches the key. oath_full fills
    the OATH applet to its capacity before the key is inserted (kept in the state file).

    Returns when vpcd closes the connection, on SIGTERM/SIGINT (when run in the main thread), or
    after a simulated pull (pull_on_ins): the key then stays removed, and the process should end;
    a later serve() with the same state_path "reinserts" it.
    """
    check_face(firmware_profiles.find(model, firmware), transport)
    key = VirtualYubiKey.open(
        serial,
        firmware,
        model,
        state_path,
        transport,
        () if pull_on_ins is None else (pull_on_ins,),
        TouchSensor(touch, touch_timeout),
    )
    if oath_full:
        key.fill_oath()
    stop = threading.Event()
    restore: list[tuple[int, Callable | int | None]] = []
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            restore.append((signum, signal.signal(signum, lambda *_: stop.set())))
        # `kill -USR1 PID` is the holder's finger on the sensor (counts while a command waits).
        restore.append((signal.SIGUSR1, signal.signal(signal.SIGUSR1, lambda *_: key.touch())))
    try:
        reason = serve_key(key, host, port, stop)
        while reason == "reboot" and not stop.wait(REBOOT_SECONDS):
            # Back after the reboot, with the new configuration in force.
            log.info("virtual YubiKey serial %d rebooting", serial)
            key.reinsert()
            reason = serve_key(key, host, port, stop)
    finally:
        for signum, handler in restore:
            signal.signal(signum, handler)
    log.info("virtual YubiKey serial %d removed (%s)", serial, reason)


def _hex_int(text: str) -> int:
    value = int(text, 16)
    if not 0 <= value <= 0xFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not one byte")
    return value


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m drivers.emulator` and `station emulator serve`."""
    parser.add_argument("--serial", type=int, required=True, help="serial number of the key")
    parser.add_argument("--firmware", default="5.4.3", help="firmware version (default 5.4.3)")
    parser.add_argument("--model", default="yubikey-5-nfc", help="model id from firmware_profiles")
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state file; the key survives restarts in it (default: forget on exit)",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="vpcd host (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="vpcd port: 35963 is reader 'Virtual PCD 00 00', 35964 is '... 00 01'",
    )
    parser.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="nfc",
        help="nfc (contactless ATR; for 'Virtual PCD' readers) or usb (USB ATR; only for "
        "readers named like 'Yubico YubiKey')",
    )
    parser.add_argument(
        "--pull-on-ins",
        type=_hex_int,
        default=None,
        metavar="HEX",
        help="simulate pulling the key when a command with this INS arrives (e.g. 01 for OATH "
        "PUT): the command is not applied, the connection drops, the process exits",
    )
    parser.add_argument(
        "--touch",
        choices=POLICIES,
        default="auto",
        help="touch sensor: auto (every touch granted at once; default), never (touch requests "
        "time out, as with nobody at the key), wait (SIGUSR1 to this process touches the key)",
    )
    parser.add_argument(
        "--touch-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long a touch request waits before it fails (default {DEFAULT_TIMEOUT:g}, as "
        "a real YubiKey)",
    )
    parser.add_argument(
        "--oath-full",
        action="store_true",
        help="fill the OATH applet with filler credentials up to the model's capacity before inserting "
        "the key (a full key, as a fault on demand)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every APDU")


def run_from_args(args: argparse.Namespace) -> int:
    """Run `serve` from parsed arguments; 0 once the key is removed, 1 if it cannot start."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s emulator: %(message)s",
        stream=sys.stderr,
    )
    try:
        serve(
            serial=args.serial,
            firmware=args.firmware,
            state_path=args.state,
            port=args.port,
            host=args.host,
            model=args.model,
            transport=args.transport,
            pull_on_ins=args.pull_on_ins,
            touch=args.touch,
            touch_timeout=args.touch_timeout,
            oath_full=args.oath_full,
        )
    except (StateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
