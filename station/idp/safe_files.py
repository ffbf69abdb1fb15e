"""Where an export may go, and writing it so that nobody else can read it, all or nothing.

The operator names the place (normally a removable drive mounted for them alone). Refused: a place
inside the station's data directory (exports would end up in its backups and next to the vault), a
directory other users can write to (/tmp and the like: a file can be swapped or a link planted) or
read (a shared folder), and a file that already exists (an export is never overwritten). The file is
written to a temporary name with mode 0600 and O_EXCL, synced, then linked to its final name; if the
file system does not keep mode 0600 (a FAT drive mounted for everyone), the file is removed again and
the export refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InputError, StationError

_HINT = (
    "Write it to a removable drive mounted for you alone (e.g. /media/$USER/USBSTICK), or to a directory"
    " only you can open (chmod 700)."
)


def _inside(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
    except ValueError:
        return False
    return True


def target_file(to: Path, default_name: str, data_dir: Path) -> Path:
    """The file to write for `--to`: a new file, or `default_name` inside an existing directory."""
    to = Path(to).expanduser()
    target = to / default_name if to.is_dir() else to
    folder = target.parent.resolve(strict=False)
    if not folder.is_dir():
        raise InputError(
            f"There is no directory {folder} to write the export to.",
            "Insert and mount the drive, or create the directory, then try again.",
        )
    target = folder / target.name
    if _inside(target, Path(data_dir).resolve()):
        raise InputError(f"{target} is inside the station's data directory.", _HINT)
    mode = folder.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InputError(f"{folder} can be written to by other users, so the export could be swapped.", _HINT)
    if mode & stat.S_IROTH:
        raise InputError(f"{folder} can be read by every user of this machine.", _HINT)
    if target.exists() or target.is_symlink():
        raise InputError(
            f"{target} already exists; an export is never overwritten.",
            "Choose another file name, or a directory (the station names the file).",
        )
    return target


def write_private(target: Path, data: bytes) -> None:
    """Write atomically with mode 0600; refuse (and remove it) where the file system shows it to others."""
    tmp = target.with_name(f".{target.name}.part-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
        except OSError:
            pass  # a file system without Unix modes: checked below
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if os.stat(tmp).st_mode & 0o077:
            raise StationError(
                f"The drive at {target.parent} shows files to other users (mode "
                f"{oct(os.stat(tmp).st_mode & 0o777)}), so the export was not kept.",
                _HINT,
            )
        try:
            os.link(tmp, target)  # fails if the name exists: never overwrite
        except FileExistsError:
            raise InputError(
                f"{target} appeared while writing; an export is never overwritten.",
                "Choose another file name.",
            ) from None
        except OSError:
            if target.exists():
                raise InputError(f"{target} already exists.", "Choose another file name.") from None
            os.rename(tmp, target)  # file systems without hard links (FAT, exFAT)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
