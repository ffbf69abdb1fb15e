"""RFC 6030 PSKC export: plain, or encrypted with a pre-shared AES key or a PBKDF2 password, with MACs.

Layout follows RFC 6030 (element order of the schema in section 11; figure 7 for the password
form, with the `pskc:` prefix and unqualified PBKDF2 parameter children). Every encrypted value gets
a ValueMAC over IV and ciphertext with a fresh MAC key that travels encrypted in MACMethod/MACKey
(section 6.1.1). Yubico OTP keys follow draft-josefsson-keyprov-pskc-yubikey: Manufacturer
"oath.UB", Key Id "serial:slot", UserId "CN=<public id>, UID=<private id>". A PIN (RFC 6030 figure 5)
goes out as its own PIN key named by the OTP key's PINPolicy.

`write_privacyidea_pskc` is the profile privacyIDEA's importer reads (privacyidea/lib/importotp.py,
parsePSKCdata): AES-128-CBC only, HMAC-SHA1 MACs, PBKDF2 with HMAC-SHA1, hash suite in the Suite text,
Key Id "serial:slot" for YubiKeys, and no PIN keys.

Randomness (IVs, MAC key, salt) comes from `random_bytes` so golden-file tests can fix it.
"""

from __future__ import annotations

import base64
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import InputError
from . import pskc_crypto as pc
from .model import OtpKind, TokenSeed
from .pskc_import import DS_NS, HOTP_URN, NS, PIN_URN, PSKC_NS, TOTP_URN, XENC11_NS, XENC_NS, YUBIKEY_AES

# PBKDF2-HMAC-SHA256 iterations for password-protected exports (OWASP's 2023 figure).
DEFAULT_ITERATIONS = 600_000
_URNS = {OtpKind.HOTP: HOTP_URN, OtpKind.TOTP: TOTP_URN, OtpKind.YUBICO_OTP: YUBIKEY_AES}

for _prefix in ("pskc", "ds", "xenc", "xenc11", "pkcs5"):
    ET.register_namespace(_prefix, NS["p" if _prefix == "pskc" else _prefix])


@dataclass(frozen=True)
class PresharedKey:
    key: bytes = field(repr=False)
    name: str = "Pre-shared-key"
    cipher: str = pc.AES128_CBC
    mac: str = pc.HMAC_SHA1


@dataclass(frozen=True)
class Password:
    password: str = field(repr=False)
    name: str = "Token Station export"
    iterations: int = DEFAULT_ITERATIONS
    prf: str = pc.HMAC_SHA256
    cipher: str = pc.AES128_CBC
    mac: str = pc.HMAC_SHA1


Protection = PresharedKey | Password | None


def _el(parent: ET.Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        child.text = text
    return child


def _p(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    return _el(parent, PSKC_NS, tag, text, **attrs)


class _Sealer:
    def __init__(self, protection: Protection, random_bytes: Callable[[int], bytes]) -> None:
        self.protection = protection
        self.random_bytes = random_bytes
        self.key = b""
        self.mac_key = b""

    def header(self, root: ET.Element) -> None:
        prot = self.protection
        if prot is None:
            return
        if prot.cipher not in pc.CIPHERS:
            raise InputError(f"Unknown PSKC cipher {prot.cipher!r}.", "Use aes128/256-cbc or kw-aes128/256.")
        length = pc.key_length(prot.cipher)
        enc = _p(root, "EncryptionKey")
        if isinstance(prot, PresharedKey):
            if len(prot.key) != length:
                raise InputError(
                    f"{pc.short_name(prot.cipher)} needs a {length}-byte pre-shared key, "
                    f"not {len(prot.key)} bytes.",
                    "Generate a key of the right length for the cipher you chose.",
                )
            self.key = prot.key
            _el(enc, DS_NS, "KeyName", prot.name)
        else:
            if not prot.password:
                raise InputError("The export password is empty.", "Choose a password for the PSKC file.")
            salt = self.random_bytes(16)
            self.key = pc.pbkdf2(prot.password.encode("utf-8"), salt, prot.iterations, length, prot.prf)
            derived = _el(enc, XENC11_NS, "DerivedKey")
            method = _el(derived, XENC11_NS, "KeyDerivationMethod", Algorithm=pc.PBKDF2_URI)
            params = _el(method, NS["pkcs5"], "PBKDF2-params")
            ET.SubElement(ET.SubElement(params, "Salt"), "Specified").text = base64.b64encode(salt).decode()
            ET.SubElement(params, "IterationCount").text = str(prot.iterations)
            ET.SubElement(params, "KeyLength").text = str(length)
            ET.SubElement(params, "PRF", Algorithm=prot.prf)
            _el(derived, XENC11_NS, "MasterKeyName", prot.name)
        self.mac_key = self.random_bytes(pc.MACS[prot.mac]().digest_size)
        method = _p(root, "MACMethod", Algorithm=prot.mac)
        self._cipher(_p(method, "MACKey"), self.mac_key)

    def _cipher(self, parent: ET.Element, plain: bytes) -> bytes:
        assert self.protection is not None
        value = pc.encrypt(self.protection.cipher, self.key, plain, self.random_bytes)
        _el(parent, XENC_NS, "EncryptionMethod", Algorithm=self.protection.cipher)
        _el(_el(parent, XENC_NS, "CipherData"), XENC_NS, "CipherValue", base64.b64encode(value).decode())
        return value

    def secret(self, data: ET.Element, plain: bytes) -> None:
        secret = _p(data, "Secret")
        if self.protection is None:
            _p(secret, "PlainValue", base64.b64encode(plain).decode())
            return
        value = self._cipher(_p(secret, "EncryptedValue"), plain)
        _p(secret, "ValueMAC", base64.b64encode(pc.mac(self.protection.mac, self.mac_key, value)).decode())


def _key_id(seed: TokenSeed) -> str:
    if seed.kind is OtpKind.YUBICO_OTP or seed.slot is not None:
        return f"{seed.serial}:{seed.slot or 1}"
    return seed.key_id or seed.serial


def _package(root: ET.Element, seed: TokenSeed, sealer: _Sealer, with_pin: bool) -> None:
    package = _p(root, "KeyPackage")
    device = _p(package, "DeviceInfo")
    manufacturer = seed.manufacturer or ("oath.UB" if seed.kind is OtpKind.YUBICO_OTP else "")
    if manufacturer:
        _p(device, "Manufacturer", manufacturer)
    _p(device, "SerialNo", seed.serial)
    if seed.model:
        _p(device, "Model", seed.model)
    key_id = _key_id(seed)
    key = _p(package, "Key", Id=key_id, Algorithm=_URNS[seed.kind])
    if seed.issuer:
        _p(key, "Issuer", seed.issuer)
    params = _p(key, "AlgorithmParameters")
    if seed.kind is OtpKind.YUBICO_OTP:
        _p(params, "ResponseFormat", Length=str(len(seed.public_id) + 32), Encoding="ALPHANUMERIC")
    else:
        _p(params, "Suite", seed.algorithm.value)
        _p(params, "ResponseFormat", Length=str(seed.digits), Encoding="DECIMAL")
    data = _p(key, "Data")
    sealer.secret(data, seed.secret)
    if seed.kind is OtpKind.HOTP:
        _p(_p(data, "Counter"), "PlainValue", str(seed.counter))
    elif seed.kind is OtpKind.TOTP:
        if seed.t0:
            _p(_p(data, "Time"), "PlainValue", str(seed.t0))
        _p(_p(data, "TimeInterval"), "PlainValue", str(seed.period))
    if seed.kind is OtpKind.YUBICO_OTP:
        _p(key, "UserId", f"CN={seed.public_id}, UID={seed.private_id.hex()}")
    elif seed.owner:
        _p(key, "UserId", seed.owner)
    if seed.valid_from or seed.valid_until or (seed.pin and with_pin):
        policy = _p(key, "Policy")
        if seed.valid_from:
            _p(policy, "StartDate", seed.valid_from.isoformat().replace("+00:00", "Z"))
        if seed.valid_until:
            _p(policy, "ExpiryDate", seed.valid_until.isoformat().replace("+00:00", "Z"))
        if seed.pin and with_pin:
            _p(policy, "PINPolicy", PINKeyId=f"{key_id}-pin", PINEncoding="DECIMAL")
    if seed.pin and with_pin:
        pin_package = _p(root, "KeyPackage")
        _p(_p(pin_package, "DeviceInfo"), "SerialNo", seed.serial)
        pin_key = _p(pin_package, "Key", Id=f"{key_id}-pin", Algorithm=PIN_URN)
        params = _p(pin_key, "AlgorithmParameters")
        _p(params, "ResponseFormat", Length=str(len(seed.pin)), Encoding="DECIMAL")
        sealer.secret(_p(pin_key, "Data"), seed.pin)


def write_pskc(
    seeds: Sequence[TokenSeed],
    *,
    protection: Protection = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
    with_pin: bool = True,
) -> bytes:
    """One KeyContainer holding every seed; plain only when `protection` is None."""
    if not seeds:
        raise InputError("There is nothing to export.", "Choose at least one token.")
    root = ET.Element(f"{{{PSKC_NS}}}KeyContainer", Version="1.0")
    sealer = _Sealer(protection, random_bytes)
    sealer.header(root)
    for seed in seeds:
        _package(root, seed, sealer, with_pin)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_privacyidea_pskc(
    seeds: Sequence[TokenSeed],
    protection: PresharedKey | Password,
    *,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """PSKC as privacyIDEA imports it: AES-128-CBC, HMAC-SHA1 MACs, PBKDF2 with HMAC-SHA1."""
    if isinstance(protection, PresharedKey):
        protection = PresharedKey(protection.key, protection.name, pc.AES128_CBC, pc.HMAC_SHA1)
    else:
        protection = Password(protection.password, protection.name, protection.iterations, pc.HMAC_SHA1)
    # A PIN key would become a token of its own in privacyIDEA (its reader takes every KeyPackage's
    # Key as a token), and privacyIDEA keeps its own token PINs: the PIN stays out of this profile.
    return write_pskc(seeds, protection=protection, random_bytes=random_bytes, with_pin=False)
