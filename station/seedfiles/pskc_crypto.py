"""The cryptography PSKC uses (RFC 6030 section 6), on top of the `cryptography` package.

Encryption: AES-CBC per XML Encryption (IV prepended to the ciphertext, padding whose last byte is the
pad length) and AES key wrap (RFC 3394, or RFC 5649 when the secret is not a multiple of 8 bytes, as
other PSKC tools write it). MAC: HMAC over the encrypted value (IV and ciphertext), RFC 6030 section
6.1.1. Password-based keys: PBKDF2 (PKCS #5 v2.0) with HMAC-SHA1 unless the file names another PRF.
3DES and Camellia are left out on purpose: no current token vendor ships them and 3DES is deprecated.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap,
    aes_key_wrap_with_padding,
)

XMLENC = "http://www.w3.org/2001/04/xmlenc#"
XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
XMLDSIG_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
PBKDF2_URI = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2"

AES128_CBC = XMLENC + "aes128-cbc"
AES192_CBC = XMLENC + "aes192-cbc"
AES256_CBC = XMLENC + "aes256-cbc"
KW_AES128 = XMLENC + "kw-aes128"
KW_AES192 = XMLENC + "kw-aes192"
KW_AES256 = XMLENC + "kw-aes256"
HMAC_SHA1 = XMLDSIG + "hmac-sha1"
HMAC_SHA256 = XMLDSIG_MORE + "hmac-sha256"

# algorithm URI -> (key length in bytes, is CBC)
CIPHERS = {
    AES128_CBC: (16, True),
    AES192_CBC: (24, True),
    AES256_CBC: (32, True),
    KW_AES128: (16, False),
    KW_AES192: (24, False),
    KW_AES256: (32, False),
}
MACS = {
    HMAC_SHA1: hashlib.sha1,
    XMLDSIG_MORE + "hmac-sha224": hashlib.sha224,
    HMAC_SHA256: hashlib.sha256,
    XMLDSIG_MORE + "hmac-sha384": hashlib.sha384,
    XMLDSIG_MORE + "hmac-sha512": hashlib.sha512,
}
_PRFS = {
    HMAC_SHA1: hashes.SHA1,
    XMLDSIG_MORE + "hmac-sha224": hashes.SHA224,
    HMAC_SHA256: hashes.SHA256,
    XMLDSIG_MORE + "hmac-sha384": hashes.SHA384,
    XMLDSIG_MORE + "hmac-sha512": hashes.SHA512,
}


class DecryptError(Exception):
    """The value does not decrypt under this key (bad padding or failed key-wrap check)."""


def short_name(uri: str) -> str:
    return uri.rsplit("#", 1)[-1]


def key_length(cipher_uri: str) -> int:
    return CIPHERS[cipher_uri][0]


def decrypt(cipher_uri: str, key: bytes, data: bytes) -> bytes:
    _, cbc = CIPHERS[cipher_uri]
    if not cbc:
        try:
            if len(data) % 8 == 0 and len(data) >= 24:
                try:
                    return aes_key_unwrap(key, data)
                except InvalidUnwrap:
                    pass
            return aes_key_unwrap_with_padding(key, data)
        except (InvalidUnwrap, ValueError) as exc:
            raise DecryptError("the AES key-wrap integrity check failed") from exc
    if len(data) < 32 or len(data) % 16:
        raise DecryptError("the encrypted value is not an IV followed by whole AES blocks")
    iv, body = data[:16], data[16:]
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = dec.update(body) + dec.finalize()
    pad = plain[-1]
    # XML Encryption padding: only the last byte is defined (the pad length); PKCS#7 is a special case.
    if not 1 <= pad <= 16:
        raise DecryptError("the padding is invalid")
    return plain[:-pad]


def encrypt(cipher_uri: str, key: bytes, plain: bytes, random_bytes: Callable[[int], bytes]) -> bytes:
    _, cbc = CIPHERS[cipher_uri]
    if not cbc:
        if len(plain) % 8 == 0 and len(plain) >= 16:
            return aes_key_wrap(key, plain)
        return aes_key_wrap_with_padding(key, plain)
    iv = random_bytes(16)
    pad = 16 - len(plain) % 16
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv + enc.update(plain + bytes([pad]) * pad) + enc.finalize()


def mac(mac_uri: str, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, MACS[mac_uri]).digest()


def mac_matches(mac_uri: str, key: bytes, data: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(mac(mac_uri, key, data), expected)


def pbkdf2(password: bytes, salt: bytes, iterations: int, length: int, prf_uri: str) -> bytes:
    return PBKDF2HMAC(algorithm=_PRFS[prf_uri](), length=length, salt=salt, iterations=iterations).derive(
        password
    )


def prf_known(prf_uri: str) -> bool:
    return prf_uri in _PRFS
