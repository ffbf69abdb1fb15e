"""Find the machine's pcscd or start one, and stop only the one we started.

pcscd always serves /run/pcscd/pcscd.comm, so there is one per machine: the kiosk demo and the test
fixtures must use a running one when there is one. "Running" means the socket accepts a connection,
not that the file exists (a crashed pcscd leaves the file behind).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from .errors import PcscUnavailableError

SOCKET = Path("/run/pcscd/pcscd.comm")


def is_running() -> bool:
    """True when a pcscd accepts connections on its socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(SOCKET))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise PcscUnavailableError(f"pcscd did not {what} within {timeout:.0f} s.",
                                       "Look at pcscd's log ('pcscd --foreground --debug').")
        time.sleep(0.05)


def start(timeout: float = 15.0) -> subprocess.Popen | None:
    """Start pcscd in the foreground unless one runs; return the process we started, or None."""
    if is_running():
        return None
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not Path(binary).exists():
        raise PcscUnavailableError(
            "pcscd is not installed.", "Install it: apt-get install pcscd vsmartcard-vpcd"
        )
    process = subprocess.Popen(  # noqa: S603 - fixed binary, no shell
        [binary, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    def up() -> bool:
        if process.poll() is not None:
            detail = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
            raise PcscUnavailableError(f"pcscd exited at start: {detail or process.returncode}",
                                       "Run the command as root, or start pcscd with systemctl.")
        return is_running()

    _wait(up, timeout, "start")
    return process


def stop(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """Stop a pcscd that `start` started; leave anyone else's alone."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
