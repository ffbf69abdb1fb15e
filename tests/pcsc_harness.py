"""Helpers for tests that need the real PC/SC stack: pcscd, virtual keys in vpcd readers, ykman.

conftest.py turns these into fixtures; other conftest files may import them directly. Every wait
here polls a condition (reader listed, card present, process gone) with a deadline, never a fixed
sleep.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from smartcard import scard

from drivers import pcscd
from drivers.emulator import readers

VPCD_BASE_PORT = 35963
# The key's USB face (drivers/emulator/reader.conf.d/yubikey-usb): serve with --transport usb here.
USB_PORT = readers.USB_PORT
USB_READER = readers.reader_name(USB_PORT)
POLL = 0.05
REPO_ROOT = Path(__file__).resolve().parents[1]


class HarnessError(RuntimeError):
    pass


def wait_for(condition: Callable[[], object], timeout: float, what: str, poll: float = POLL) -> object:
    """Poll condition until it is truthy; raise HarnessError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def reader_for_port(port: int) -> str:
    """Port 35963 feeds 'Virtual PCD 00 00', 35964 'Virtual PCD 00 01' (Debian's vpcd config), and
    35965 'Yubico YubiKey OTP+FIDO+CCID 00 00' (the project's USB-face reader)."""
    return readers.reader_name(port)


# -- pcscd --------------------------------------------------------------------------------------


def pcscd_running() -> bool:
    """True if a pcscd accepts connections on its socket (a stale socket file does not count)."""
    return pcscd.is_running()


def _with_context(fn: Callable[[int], object]) -> object:
    # A fresh context per call: a context from before a pcscd restart is stale.
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        return fn(ctx)
    finally:
        scard.SCardReleaseContext(ctx)


def list_readers() -> list[str]:
    def _list(ctx: int) -> list[str]:
        hresult, readers = scard.SCardListReaders(ctx, [])
        return list(readers) if hresult == scard.SCARD_S_SUCCESS else []

    return _with_context(_list) or []


def reader_state(reader: str) -> int | None:
    """The reader's SCARD_STATE_* flags as pcscd reports them, or None if it cannot say."""

    def _state(ctx: int) -> int | None:
        hresult, states = scard.SCardGetStatusChange(ctx, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        return states[0][1] if hresult == scard.SCARD_S_SUCCESS else None

    return _with_context(_state)


def card_present(reader: str) -> bool:
    state = reader_state(reader)
    return state is not None and bool(state & scard.SCARD_STATE_PRESENT)


def event_count(reader: str) -> int | None:
    """pcscd's count of card events in this reader (upper 16 bits of the event state)."""
    state = reader_state(reader)
    return None if state is None else state >> 16


def reader_empty(reader: str) -> bool:
    """True only when pcscd positively reports the reader empty (an error is not "empty")."""
    state = reader_state(reader)
    return state is not None and bool(state & scard.SCARD_STATE_EMPTY)


@dataclass
class Pcscd:
    """The pcscd the tests use; `process` is set only if the harness started it."""

    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def stop(self) -> None:
        """Stop pcscd if (and only if) the harness started it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def usb_face_available() -> bool:
    """True if pcscd serves the project's USB-face reader (a pcscd we did not start may not)."""
    return USB_READER in list_readers()


def ensure_pcscd(log_dir: Path, timeout: float = 20.0) -> Pcscd:
    """Use a running pcscd, or start `pcscd --foreground`; wait until the vpcd readers are listed.

    A pcscd started here reads the project's reader config (drivers/emulator/reader.conf.d: the stock
    "Virtual PCD" readers plus the USB-face reader), so one pcscd serves both faces of the key.
    """
    daemon = Pcscd()
    if not pcscd_running():
        log_path = log_dir / "pcscd.log"
        # pcscd lives in /usr/sbin, which a non-login PATH may lack.
        exe = shutil.which("pcscd") or "/usr/sbin/pcscd"
        config = readers.prepare_config_dir(log_dir / "readers")
        with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [exe, "--foreground", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        daemon = Pcscd(proc, log_path)
        try:
            wait_for(lambda: proc.poll() is not None or pcscd_running(), timeout, "pcscd to listen")
            if proc.poll() is not None:
                raise HarnessError(f"pcscd exited with {proc.returncode}: {log_path.read_text()}")
        except BaseException:
            daemon.stop()
            raise
    try:
        wait_for(
            lambda: reader_for_port(VPCD_BASE_PORT) in list_readers(),
            timeout,
            "pcscd to list the vpcd readers (is vsmartcard-vpcd installed?)",
        )
    except BaseException:
        daemon.stop()
        raise
    return daemon


# -- virtual keys -------------------------------------------------------------------------------


def read_device_info(reader: str) -> object | None:
    """The yubikit DeviceInfo the key in this reader reports through its Management applet, or None."""
    from ykman.pcsc import list_devices
    from yubikit.core.smartcard import SmartCardConnection
    from yubikit.management import ManagementSession

    try:
        devices = [d for d in list_devices(reader) if d.reader.name == reader]
        if not devices:
            return None
        with devices[0].open_connection(SmartCardConnection) as conn:
            return ManagementSession(conn).read_device_info()
    except Exception:  # no card yet, card going away, reader busy: all mean "not yet"
        return None


def read_serial(reader: str) -> int | None:
    """The serial the key in this reader reports through its Management applet, or None."""
    info = read_device_info(reader)
    return None if info is None else info.serial  # type: ignore[attr-defined]


@dataclass
class KeyHandle:
    """A virtual key served by `python -m drivers.emulator` in its own process."""

    serial: int
    reader: str
    port: int
    state_path: Path
    log_path: Path
    process: subprocess.Popen
    args: list[str] = field(default_factory=list)
    inserted_count: int | None = None  # pcscd's event count when the key was seen inserted

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for the emulator to end by itself (e.g. after a simulated pull)."""
        return self.process.wait(timeout=timeout)

    def wait_removed(self, timeout: float = 10.0) -> None:
        """Wait until pcscd's reader thread itself has seen the key go.

        After a pull mid-command, pcscd reports the reader EMPTY at once (from the failed command),
        but its reader thread only registers the removal at its next poll, when the event count
        moves on. A key inserted before that poll is taken for the old one still sitting there and
        is never powered up, so "removed" means: empty, and the event count has moved past the
        count at insertion.
        """

        def gone() -> bool:
            count = event_count(self.reader)
            return (
                reader_empty(self.reader)
                and count is not None
                and (self.inserted_count is None or count != self.inserted_count)
            )

        wait_for(gone, timeout, f"card gone from {self.reader}")

    def stop(self, timeout: float = 10.0) -> None:
        """Remove the key: SIGTERM the emulator, wait for it and for the card to leave the reader."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.wait_removed(timeout)


def start_key(
    serial: int,
    state_path: Path,
    log_path: Path,
    firmware: str = "5.4.3",
    port: int = VPCD_BASE_PORT,
    extra_args: Sequence[str] = (),
    timeout: float = 30.0,
    serial_visible: bool = True,
) -> KeyHandle:
    """Start an emulator process and wait until pcscd shows it in the reader, with its serial.

    Checking the serial (not just "a card is present") makes sure the card in the reader is this
    emulator and not a key another test run left in the same reader. A model that reports no serial
    (serial_visible=False: a plain Security Key) counts as ready once its Management applet answers
    without one.
    """
    reader = reader_for_port(port)
    wait_for(lambda: reader_empty(reader), timeout, f"{reader} to be free of other keys")
    args = [
        sys.executable,
        "-m",
        "drivers.emulator",
        "--serial",
        str(serial),
        "--firmware",
        firmware,
        "--state",
        str(state_path),
        "--port",
        str(port),
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    handle = KeyHandle(serial, reader, port, Path(state_path), Path(log_path), proc, args)

    def ready() -> bool:
        if proc.poll() is not None:
            raise HarnessError(f"emulator exited with {proc.returncode}:\n{handle.log()}")
        if not card_present(reader):
            return False
        info = read_device_info(reader)
        return info is not None and info.serial == (serial if serial_visible else None)  # type: ignore[attr-defined]

    try:
        wait_for(ready, timeout, f"virtual key {serial} in {reader}", poll=0.1)
        handle.inserted_count = event_count(reader)
    except BaseException:
        handle.stop()
        raise
    return handle


# -- ykman --------------------------------------------------------------------------------------


def ykman_path() -> Path:
    """The ykman installed beside this interpreter (the project's venv)."""
    return Path(sys.executable).parent / "ykman"


def run_ykman(
    reader: str | None, *args: str, timeout: float = 60.0, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run the real ykman CLI against one reader (None: no --reader, as a user with a USB key would);
    output captured as text, never raising on rc."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [str(ykman_path()), *(["--reader", reader] if reader is not None else []), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env=env,
    )


class YkmanForkServer:
    """The real ykman CLI, one forked process per command, without paying ykman's import each time.

    See tests/ykman_forkserver.py: each command runs `ykman._cli.__main__.main()` (what the `ykman`
    console script calls) in a fresh child process with its own argv, environment and stdio. `run`
    takes the same arguments as `run_ykman` and returns the same CompletedProcess.
    """

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("ykman_forkserver.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO_ROOT,
        )

    def run(
        self,
        reader: str | None,
        *args: str,
        timeout: float = 60.0,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """`ykman [--reader READER] ARGS` in the current environment (plus `env`)."""
        argv = [*(["--reader", reader] if reader is not None else []), *args]
        request = {"argv": argv, "env": {**os.environ, **(env or {})}, "input": input, "timeout": timeout}
        assert self._proc.stdin is not None and self._proc.stdout is not None  # noqa: S101
        self._proc.stdin.write(json.dumps(request).encode() + b"\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise HarnessError(f"the ykman fork server died (exit {self._proc.poll()})")
        reply = json.loads(line)
        if reply["timed_out"]:
            raise subprocess.TimeoutExpired(["ykman", *argv], timeout, reply["stdout"], reply["stderr"])
        return subprocess.CompletedProcess(["ykman", *argv], reply["rc"], reply["stdout"], reply["stderr"])

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None  # noqa: S101
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
