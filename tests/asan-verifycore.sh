#!/usr/bin/env bash
# Run the verifier core's fuzz and equivalence tests with the core built under AddressSanitizer (and
# UBSan): any out-of-bounds read or write, use after free or undefined behaviour aborts the run.
# Needs gcc's libasan/libubsan (build-essential). The regular build is put back afterwards.
# Usage: tests/asan-verifycore.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
inc=$($py -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
so=ledger/_verifycore$($py -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
saved=$(mktemp)
cp "$so" "$saved"
trap 'cp "$saved" "$so"; rm -f "$saved"' EXIT
gcc -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -Wall -Wextra -Werror -fPIC -shared -I"$inc" ledger/_verifycore.c -o "$so" -lcrypto -lsqlite3
# Python itself is not instrumented: preload the runtime, and leave leak checks to Python's own tests.
# PYTHONMALLOC=malloc gives each object its own malloc block, so ASan sees reads past an entry's bytes
# (with pymalloc they land inside an arena and go unseen; a bytes object's trailing NUL always does).
PYTHONMALLOC=malloc LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
LEDGER_VERIFY_CORE=c \
    $py -m pytest -q -p no:cacheprovider tests/unit/test_ledger_verifycore.py \
    tests/unit/test_ledger_verify_batch.py tests/unit/test_ledger_verify.py "$@"
