#!/bin/sh
# Run the test suite (or any command given) with a pcscd of its own, in private mount and network
# namespaces: a pcscd already running on the machine is neither used nor disturbed, the vpcd ports are
# free, and the harness starts a pcscd with the project's reader configuration (the USB face and the
# extra readers, which a system pcscd lacks: the tests that need them would skip). Needs root.
#
#   tests/run-isolated.sh                       # .venv/bin/python -m pytest
#   tests/run-isolated.sh .venv/bin/python -m pytest tests/integration -x
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- .venv/bin/python -m pytest
exec unshare --mount --net --propagation private \
  sh -c 'ip link set lo up && mount -t tmpfs tmpfs /run/pcscd && exec "$@"' sh "$@"
