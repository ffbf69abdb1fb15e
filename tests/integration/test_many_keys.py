"""Several virtual keys at once, on separate readers: inserted, removed and re-inserted while the
station's discovery and insert/remove watcher follow along over the real pcscd.

The pcscd the harness starts reads drivers/emulator/readers.prepare_config_dir's configuration, which
adds extra NFC-face readers ("Virtual PCD 2", ...); a pcscd we did not start may have only the stock
two slots, and then this test skips.
"""

from __future__ import annotations

import pcsc_harness
import pytest

from drivers.discovery import list_keys
from drivers.emulator import readers
from drivers.watch import ReaderWatcher

SERIALS = [7100001 + n for n in range(6)]


def serials_present() -> set[int]:
    return {k.serial for k in list_keys()}


def wait_until_watcher_saw(watcher: ReaderWatcher, want: set[str]) -> None:
    seen: set[str] = set()

    def saw_all() -> bool:
        seen.update(watcher.wait(timeout_ms=200))
        return want <= seen

    pcsc_harness.wait_for(saw_all, 15, f"the watcher to report {sorted(want)}")


def test_six_keys_inserted_removed_and_reinserted(virtual_key, ykman):
    ports = readers.nfc_ports()[: len(SERIALS)]
    names = [readers.reader_name(p) for p in ports]
    if not set(names) <= set(pcsc_harness.list_readers()):
        pytest.skip("the running pcscd has fewer vpcd readers than the harness configures")
    watcher = ReaderWatcher()
    try:
        watcher.snapshot()
        keys = [virtual_key(serial, port=port) for serial, port in zip(SERIALS, ports, strict=True)]
        assert serials_present() >= set(SERIALS)
        # Each reader answers with its own key, also for the real ykman.
        for key in keys:
            assert f"Serial number: {key.serial}" in ykman(key.reader, "info").stdout

        watcher.snapshot()
        gone = [keys[1], keys[4]]
        for key in gone:
            key.stop()
        wait_until_watcher_saw(watcher, {k.reader for k in gone})
        assert serials_present() & set(SERIALS) == set(SERIALS) - {k.serial for k in gone}

        back = virtual_key(keys[4].serial, port=keys[4].port, state=keys[4].state_path)
        wait_until_watcher_saw(watcher, {back.reader})
        assert serials_present() & set(SERIALS) == set(SERIALS) - {keys[1].serial}
    finally:
        watcher.close()
