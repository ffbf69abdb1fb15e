"""Shared fixtures: pcscd, virtual YubiKeys in vpcd readers, and the real ykman CLI.

    def test_x(virtual_key, ykman):
        key = virtual_key(serial=1234567)                # waits until pcscd shows it
        out = ykman(key.reader, "info")                  # CompletedProcess
        key.stop()                                       # optional; teardown stops all

The helpers live in tests/pcsc_harness.py so other conftest files can reuse them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import pcsc_harness  # noqa: E402
from pcsc_harness import KeyHandle, Pcscd  # noqa: E402


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    """A pcscd with the vpcd readers: the one already running, or one started (and stopped) here."""
    daemon = pcsc_harness.ensure_pcscd(tmp_path_factory.mktemp("pcscd"))
    yield daemon
    daemon.stop()


@pytest.fixture
def virtual_key(pcscd: Pcscd, tmp_path: Path) -> Iterator:
    """Factory: start(serial, firmware="5.4.3", port=35963, state=None, extra_args=()) -> KeyHandle.

    state defaults to a fresh file under tmp_path; pass the same path again to "reinsert" a key.
    Every key started is stopped at teardown.
    """
    started: list[KeyHandle] = []

    def start(
        serial: int,
        firmware: str = "5.4.3",
        port: int = pcsc_harness.VPCD_BASE_PORT,
        state: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> KeyHandle:
        state_path = Path(state) if state is not None else tmp_path / f"key-{serial}.json"
        n = len(started)
        handle = pcsc_harness.start_key(
            serial,
            state_path,
            tmp_path / f"emulator-{serial}-{n}.log",
            firmware=firmware,
            port=port,
            extra_args=list(extra_args),
        )
        started.append(handle)
        return handle

    yield start
    for handle in reversed(started):
        handle.stop()


@pytest.fixture(scope="session")
def ykman_server() -> Iterator[pcsc_harness.YkmanForkServer]:
    """The real ykman CLI, forked per command from a process that imported it once (15x quicker)."""
    server = pcsc_harness.YkmanForkServer()
    yield server
    server.close()


@pytest.fixture
def ykman(ykman_server: pcsc_harness.YkmanForkServer):
    """run(reader, *args, timeout=60, input=None) -> subprocess.CompletedProcess, as `ykman` on a shell.

    Runs the environment of the moment (HOME set by monkeypatch included). pcsc_harness.run_ykman runs
    the installed console script instead, for tests of the entry point itself.
    """
    return ykman_server.run
