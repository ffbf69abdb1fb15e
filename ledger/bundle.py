"""The auditor's bundle: a ledger exported as C2SP tlog-tiles files, with its keys and a README.

Layout (DIR is what ``station ledger export DIR`` writes)::

    checkpoint               the latest signed checkpoint (c2sp.org/tlog-checkpoint), as signed
    tile/entries/<N>[.p/<W>] entry bundles: each entry as a big-endian uint16 length, then its bytes
    tile/<L>/<N>[.p/<W>]     Merkle tiles: level 0 holds leaf hashes, level L the hashes of the
                             subtrees of 256**L entries; full tiles are 256 hashes, the last partial
    checkpoints/<size>       other signed checkpoints the station kept (key rotations, the upgrade,
                             witnessed ones, with the witnesses' cosignatures)
    log-keys                 the log's verifier keys, oldest first: "<first size> <name+id+base64>"
    witness-keys             verifier keys of the witnesses whose cosignatures are included
    ledger.json              origin, size and the lists above, for tools
    README.md                how to check all this, with our tool or with others

Paths and formats are exactly c2sp.org/tlog-tiles (``<N>`` in 3-digit groups, ``x001/x234/067``),
so a tlog-tiles client (e.g. Go's golang.org/x/mod/sumdb/tlog TileHashReader) reads the tree as is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ledger import merkle
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.log import Ledger

FORMAT = "token-station-ledger-bundle/1"
W = merkle.TILE_WIDTH


def index_path(n: int) -> str:
    """``<N>`` of a tile path: zero-padded 3-digit groups, all but the last prefixed with x."""
    text = f"{n % 1000:03d}"
    n //= 1000
    while n > 0:
        text = f"x{n % 1000:03d}/{text}"
        n //= 1000
    return text


def tile_path(level: int | str, n: int, width: int = W) -> str:
    """``tile/<L>/<N>[.p/<W>]``; ``level`` "entries" for entry bundles."""
    suffix = "" if width == W else f".p/{width}"
    return f"tile/{level}/{index_path(n)}{suffix}"


def encode_bundle(entries: list[bytes]) -> bytes:
    return b"".join(len(raw).to_bytes(2, "big") + raw for raw in entries)


def decode_bundle(data: bytes) -> list[bytes] | None:
    """The entries of an entry bundle, or None if it is not a clean sequence of them."""
    out, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            return None
        length = int.from_bytes(data[i : i + 2], "big")
        if i + 2 + length > len(data):
            return None
        out.append(data[i + 2 : i + 2 + length])
        i += 2 + length
    return out


def _write(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


def export(ledger: Ledger, directory: Path | str) -> dict[str, object]:
    """Write the ledger's bundle to ``directory`` (new or empty) as of its latest checkpoint."""
    root = Path(directory)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise LedgerError(f"{root} is not an empty directory", "export into a new directory")
    conn = ledger.db.conn
    own_tx = not conn.in_transaction
    if own_tx:
        conn.execute("BEGIN")  # one consistent snapshot, even while the station keeps appending
    try:
        state = ledger._state()
        size = state.size
        root.mkdir(parents=True, exist_ok=True)
        upper: list[bytes] = []  # level-1 hashes (subtrees of 256 entries)
        batch: list[bytes] = []
        tile = 0
        for (raw,) in conn.execute("SELECT entry FROM ledger_entries WHERE seq < ? ORDER BY seq", (size,)):
            batch.append(raw)
            if len(batch) == W:
                upper.append(_write_tile0(root, tile, batch))
                batch, tile = [], tile + 1
        if batch:
            _write_tile0(root, tile, batch)
        level = 1
        while upper:
            _write_level(root, level, upper)
            upper = [merkle.perfect_root(upper[i : i + W]) for i in range(0, len(upper) - W + 1, W)]
            level += 1
        _write(root, "checkpoint", state.checkpoint)
        kept = [(s, n) for s, n in ledger.kept_checkpoints() if s <= size]
        for kept_size, note in kept:
            _write(root, f"checkpoints/{kept_size}", note)
        log_keys = ledger.log_keys()
        witnesses = ledger.witness_keys()
        _write(root, "log-keys", "".join(f"{first} {vkey}\n" for first, vkey in log_keys))
        _write(root, "witness-keys", "".join(f"{vkey}\n" for vkey in witnesses))
        meta = {
            "format": FORMAT,
            "origin": state.origin,
            "size": size,
            "entry_format": 2,
            "log_keys": [{"first_size": first, "vkey": vkey} for first, vkey in log_keys],
            "witness_keys": witnesses,
            "kept_checkpoints": [s for s, _ in kept],
        }
        _write(root, "ledger.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
        _write(root, "README.md", _readme(state.origin, size, state.log_key))
    finally:
        if own_tx:
            conn.execute("COMMIT")
    return meta


def _write_tile0(root: Path, n: int, batch: list[bytes]) -> bytes:
    leaves = [merkle.leaf_hash(raw) for raw in batch]
    _write(root, tile_path("entries", n, len(batch)), encode_bundle(batch))
    _write(root, tile_path(0, n, len(batch)), b"".join(leaves))
    return merkle.perfect_root(leaves) if len(leaves) == W else b""


def _write_level(root: Path, level: int, hashes: list[bytes]) -> None:
    for n in range(0, len(hashes), W):
        part = hashes[n : n + W]
        _write(root, tile_path(level, n // W, len(part)), b"".join(part))


class BundleReader:
    """Reads a bundle for verification. Every read is checked by the verifier, none trusted."""

    def __init__(self, directory: Path | str) -> None:
        self.root = Path(directory)
        if not (self.root / "checkpoint").is_file():
            raise LedgerError(
                f"{self.root} is not a ledger bundle (no checkpoint file)",
                "give the directory that `station ledger export` wrote",
            )

    def text(self, rel: str) -> str | None:
        path = self.root / rel
        try:
            return path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def meta(self) -> dict[str, object]:
        try:
            data = json.loads(self.text("ledger.json") or "")
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    def kept(self) -> list[tuple[int, str]]:
        out = []
        folder = self.root / "checkpoints"
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name.isdigit():
                    out.append((int(path.name), self.text(f"checkpoints/{path.name}") or ""))
        return sorted(out)

    def log_keys(self) -> list[tuple[int, str]]:
        out = []
        for line in (self.text("log-keys") or "").splitlines():
            first, _, vkey = line.partition(" ")
            if first.isdigit() and vkey:
                out.append((int(first), vkey))
        return out

    def witness_keys(self) -> list[str]:
        return [line for line in (self.text("witness-keys") or "").splitlines() if line]

    def present(self) -> int:
        """Where the entry bundles on disk end (the index after their last entry)."""
        folder = self.root / "tile" / "entries"
        best = 0
        for dirpath, _dirs, files in os.walk(folder):
            rel = Path(dirpath).relative_to(folder).parts
            for name in files:
                best = max(best, _end_of([*rel, name]))
        return best

    def entries(self, lo: int, hi: int, size: int) -> Iterator[tuple[int, bytes | None, bytes]]:
        """(seq, bytes, hex leaf hash from tile/0) for lo <= seq < hi.

        Bytes are None where an entry bundle is missing or damaged; the hash is b"" where the
        level-0 tile does not have it.
        """
        for n in range(lo // W, (hi + W - 1) // W):
            width = min(W, size - n * W)
            batch = self._bundle(n, width)
            hashes = self.raw(tile_path(0, n, width)) or b""
            for i in range(max(lo, n * W), min(hi, n * W + W)):
                k = i - n * W
                raw = batch[k] if batch is not None and k < len(batch) else None
                yield i, raw, hashes[32 * k : 32 * k + 32].hex().encode()

    def _bundle(self, n: int, width: int) -> list[bytes] | None:
        data = self.raw(tile_path("entries", n, width))
        if data is None and width != W:
            data = self.raw(tile_path("entries", n, W))
        return decode_bundle(data) if data is not None else None

    def raw(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except OSError:
            return None


def _end_of(parts: list[str]) -> int:
    """The end index of the entries held by a file under tile/entries, from its path parts."""
    width = W
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        if not parts[-1].isdigit():
            return 0
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][: -len(".p")]]
    n = 0
    for part in parts:
        digits = part[1:] if part.startswith("x") else part
        if not digits.isdigit():
            return 0
        n = n * 1000 + int(digits)
    return n * W + width


def _readme(origin: str, size: int, vkey: str) -> str:
    return f"""# Ledger bundle of {origin}

This directory is a copy of a Token Station ledger, exported for an auditor. It needs no secret and
no access to the station. It holds {size} entries under the checkpoint in `checkpoint`.

## What is in it

- `checkpoint`: the log's latest signed tree head, a C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint)
  in C2SP signed-note form, signed with Ed25519 by the log key named by the origin line.
- `tile/entries/...`: the entries, in C2SP tlog-tiles entry bundles (each entry a big-endian
  2-byte length, then its bytes). Each entry is one RFC 8785 canonical JSON document (see below).
- `tile/0/...`, `tile/1/...`, ...: the RFC 6962 Merkle tree as C2SP tlog-tiles (c2sp.org/tlog-tiles).
- `checkpoints/<size>`: older checkpoints the station kept: the one at each key rotation (signed by
  the old and the new key), and those a witness cosigned (with the witness's cosignature/v1 line).
- `log-keys`: the log's verifier keys, oldest first, each with the first tree size it may sign.
  The current one is `{vkey}`.
  Do not take these keys from this directory on trust: compare them with the key the station's
  custodian gave you (`station ledger key`), or with a checkpoint you kept from an earlier audit.
- `witness-keys`: keys of the witnesses whose cosignatures are included.

## Checking it with Token Station

    station ledger verify --bundle THIS_DIR --key 'VERIFIER_KEY' [--trusted OLD_CHECKPOINT_FILE]

It rebuilds the tree from the entries, checks every checkpoint signature against the keys valid at
its size (a key is valid from its rotation in to its rotation out), checks each entry's canonical
form and its link to the one before, and, with `--trusted`, that this history extends the one you
saw before. It names what it finds: modified, deleted, truncated, reordered, inserted, forked.

## Checking it with other tools

- The checkpoint is a signed note: Go's `golang.org/x/mod/sumdb/note` opens it with the verifier key.
- The tree is RFC 6962: any tlog-tiles client (Go's `golang.org/x/mod/sumdb/tlog`, with tiles of
  height 8 read from `tile/<L>/<N>`) recomputes the root from the tiles and proves inclusion and
  consistency; the record hash of an entry is SHA-256(0x00 || entry bytes).
- Each entry is canonical JSON (RFC 8785): members v, seq (its index), at (UTC time), type, actor,
  body, prev (hex leaf hash of the previous entry) and sigs (endorsements: an operator's verifier key
  and an Ed25519 signature over the note text "ORIGIN\\ntoken-station/event/v1\\nBASE64(SHA-256 of the
  canonical JSON of actor, at, body, type)\\n").
"""
