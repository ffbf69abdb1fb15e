"""The encrypted archive around export formats that carry secrets but have no encryption of their own.

Why a password-protected 7z: the IdP admin who imports an Entra, Okta, Duo or privacyIDEA CSV works on
a Windows or macOS desktop with a password from the custodian, and 7-Zip (Windows), p7zip/7zz (Linux)
or Keka (macOS) open it with nothing else set up. 7z's encryption is AES-256 with a SHA-256-based key
derivation (2^19 rounds), and with header encryption the file names are hidden too. A ZIP with AES
needs the same tools (Windows Explorer and macOS Archive Utility only open ZipCrypto, which is
broken), age needs a tool most admins do not have, and CMS needs the admin's certificate and OpenSSL.
The archive is built in memory, so the plaintext never touches a disk; the tests open it with the real
7-Zip (`7zz`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import py7zr
from py7zr.io import BytesIOFactory

from ..errors import InputError

MIN_PASSWORD = 12
MAX_MEMBER = 64 * 1024 * 1024


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"The export password must be at least {MIN_PASSWORD} characters.",
            "Choose a longer password (a passphrase of four or more words) and give it to the IdP admin by"
            " another channel than the file (a phone call, not the same e-mail or drive).",
        )
    return password


def seven_zip(files: Sequence[tuple[str, bytes]], password: str) -> bytes:
    """A 7z archive of (name, content) pairs, AES-256 encrypted, names included."""
    check_password(password)
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w", password=password, header_encryption=True) as archive:
        for name, content in files:
            archive.writestr(content, name)
    return out.getvalue()


def open_seven_zip(data: bytes, password: str) -> dict[str, bytes]:
    """The files of an archive written by `seven_zip` (for imports of our own exports)."""
    try:
        factory = BytesIOFactory(MAX_MEMBER)
        with py7zr.SevenZipFile(io.BytesIO(data), "r", password=password) as archive:
            names = archive.getnames()
            archive.extractall(factory=factory)
        return {name: _read(factory.get(name)) for name in names}
    except (
        py7zr.exceptions.Bad7zFile,
        py7zr.exceptions.PasswordRequired,
        ValueError,
        OSError,
        KeyError,
        EOFError,
        TypeError,
        LookupError,
    ) as exc:
        raise InputError(
            f"The 7z archive does not open with this password ({type(exc).__name__}).",
            "Check the password the export was made with.",
        ) from None


def _read(product: object) -> bytes:
    product.seek(0)
    return product.read()
