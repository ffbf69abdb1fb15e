"""Benchmark: finding a key among every reader pcscd lists, against talking to that key's reader alone.

Run (as root, pcscd's owner): .venv/bin/python tests/bench/bench_key_scan.py [N]
Uses the running pcscd or starts one with the project's readers (two of them named "Yubico YubiKey ...",
the USB face), serves one virtual key, then times `drivers.discovery.scan()` (what `station devices`
and every `station issue` do) against `probe()` of the key's own reader. ykman's connect waits 3 s for
an absent card on a Yubico-named reader; the scan asks pcscd first and skips empty readers, so the ratio
stays near 1 however many empty readers there are (before the fix: 6 s a scan, some 1900x).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pcsc_harness  # noqa: E402

from drivers import discovery  # noqa: E402


def timed(fn: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / n


def main(n: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        daemon = pcsc_harness.ensure_pcscd(Path(tmp))
        key = pcsc_harness.start_key(8_800_001, Path(tmp) / "key.json", Path(tmp) / "emulator.log")
        try:
            readers = discovery.reader_names()
            one = timed(lambda: discovery.probe(key.reader), n)
            everything = timed(discovery.scan, n)
        finally:
            key.stop()
            daemon.stop()
    print(f"{len(readers)} readers, 1 key: probe of its reader {one * 1e3:.1f} ms, scan of all "
          f"{everything * 1e3:.1f} ms, ratio {everything / one:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
