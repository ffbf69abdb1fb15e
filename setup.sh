#!/usr/bin/env bash
# Set up Token Station on Debian 12: system packages, then a venv at .venv with the project and its
# test tools. Idempotent: packages already present are not fetched again. Run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")"

# golang-go and golang-golang-x-mod-dev: the independent verifier (Go sumdb/note and sumdb/tlog) that
# tests/unit/test_ledger_go.py builds to check the ledger's checkpoints and proofs. 7zip: the real 7-Zip
# (7zz) the IdP-export tests open the encrypted archives with, as an IdP admin would. libssl-dev and
# libsqlite3-dev: the ledger verifier's compiled core (ledger/_verifycore.c) links OpenSSL's libcrypto
# for SHA-256 and SQLite to read the entries.
packages=(pcscd vsmartcard-vpcd libpcsclite-dev swig python3-venv python3-dev build-essential pkg-config
          libssl-dev libsqlite3-dev golang-go golang-golang-x-mod-dev 7zip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run this script as root (or with sudo)." >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# Install only when needed (first run, pyproject.toml or the C source changed): the install is
# editable, so Python source changes need none, and a kiosk with no network starts without waiting on
# pip. The verifier's C core is compiled by the install, so a change to it needs one.
stamp=.venv/.token-station-installed
want=$(cat pyproject.toml ledger/_verifycore.c | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
   || ! .venv/bin/python -c 'import station, ykman, textual, ledger._verifycore' 2>/dev/null; then
  log=$(mktemp)
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip \
         && .venv/bin/python -m pip install --disable-pip-version-check -e '.[test]'; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: installing the Python packages failed (pip's output above); check the network and retry." >&2
    exit 1
  fi
  rm -f "$log"
  echo "$want" > "$stamp"
fi
echo "setup: ready ($(.venv/bin/python --version), $(.venv/bin/ykman --version))"
