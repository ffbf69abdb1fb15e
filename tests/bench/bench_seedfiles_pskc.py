"""Benchmark: importing a vendor-sized PSKC file, ours against python-pskc on the same bytes.

Run: .venv/bin/python tests/bench/bench_seedfiles_pskc.py [N]
Builds one AES-128-CBC + HMAC-SHA1 file of N TOTP keys, then times reading every secret (every MAC
checked) with station.seedfiles.parse_pskc and with python-pskc (a test dependency). Prints both and
the ratio measured in this one run, plus the file size, so machine speed cancels out.
"""

from __future__ import annotations

import io
import sys
import time

import pskc

from station.seedfiles import OtpKind, PresharedKey, TokenSeed, parse_pskc, write_pskc

KEY = bytes(range(16))


def main(n: int = 10_000) -> None:
    seeds = [
        TokenSeed(str(2600000000000 + i), OtpKind.TOTP, i.to_bytes(20, "big"), period=60) for i in range(n)
    ]
    data = write_pskc(seeds, protection=PresharedKey(KEY))
    start = time.perf_counter()
    ours = parse_pskc(data, preshared_key=KEY)
    mine = time.perf_counter() - start
    start = time.perf_counter()
    container = pskc.PSKC(io.BytesIO(data))
    container.encryption.key = KEY
    theirs_secrets = [k.secret for k in container.keys]
    theirs = time.perf_counter() - start
    assert [s.secret for s in ours.seeds] == theirs_secrets
    print(
        f"{n} encrypted keys ({len(data) / 1e6:.1f} MB): station {mine:.2f} s, python-pskc {theirs:.2f} s, "
        f"ratio {mine / theirs:.2f}x"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
