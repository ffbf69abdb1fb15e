"""The OATH applet, per Yubico's YKOATH protocol.

The host sends keys already padded to 14 bytes and, when longer than the hash's block size,
pre-hashed; the key stores and HMACs exactly what it was given, as the real applet does.
Status words follow the YKOATH specification: 6A80 "wrong syntax", 6984 "no such object",
6A84 "no space", 6982 "authentication required".

Access key (password). SET CODE stores an HMAC key (the host derives it from the password with
PBKDF2 over the applet's salt); from then on every SELECT answers with a fresh challenge (0x74)
and the key's algorithm (0x7B), and every command but VALIDATE and RESET answers 6982 until
VALIDATE proves the host knows the key, answering the host's own challenge in turn (mutual).
The lock comes back with every SELECT, so a key is unlocked for one selection only.
A wrong VALIDATE response is "wrong syntax", 6A80: Yubico's applet answers so (ykneo-oath
YkneoOath.handleValidate), and ykman reads 6A80 on VALIDATE as "remembered key incorrect".
VALIDATE with no key set is 6984 ("auth not enabled"); SET CODE with a response that does not
match its own challenge is 6984 ("response doesn't match").
There is no retry counter: YKOATH has none, a wrong password can be tried again at once and never
blocks the applet. "Locked" OATH therefore always means "password-protected"; the way out
without the password is RESET, which erases every credential.

Touch. A credential with the touch property is calculated only after a touch (see touch.py);
without one in time the key answers 6982, which ykman reports as "Touch account timed out!".
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable

from firmware_profiles import FirmwareProfile

from .apdu import ApduError, CommandApdu, Sw, parse_tlvs, tlv
from .state import KeyState, OathCredential
from .touch import TouchSensor

log = logging.getLogger(__name__)

AID = bytes.fromhex("a0000005272101")

INS_PUT = 0x01
INS_DELETE = 0x02
INS_SET_CODE = 0x03
INS_RESET = 0x04
INS_RENAME = 0x05
INS_LIST = 0xA1
INS_CALCULATE = 0xA2
INS_VALIDATE = 0xA3
INS_CALCULATE_ALL = 0xA4
INS_SEND_REMAINING = 0xA5

TAG_NAME = 0x71
TAG_NAME_LIST = 0x72
TAG_KEY = 0x73
TAG_CHALLENGE = 0x74
TAG_RESPONSE = 0x75
TAG_TRUNCATED = 0x76
TAG_HOTP = 0x77
TAG_PROPERTY = 0x78
TAG_VERSION = 0x79
TAG_IMF = 0x7A
TAG_ALGORITHM = 0x7B
TAG_TOUCH = 0x7C

TYPE_HOTP = 0x10
TYPE_TOTP = 0x20
PROP_REQUIRE_TOUCH = 0x02
HASHES = {0x01: "sha1", 0x02: "sha256", 0x03: "sha512"}
CHALLENGE_LENGTH = 8  # SELECT's challenge; the host's VALIDATE challenge must be at least as long
# Commands a locked applet still takes (YKOATH: everything else "requires auth").
OPEN_WHEN_LOCKED = {INS_VALIDATE, INS_RESET}


def _wrong_syntax(why: str) -> ApduError:
    return ApduError(Sw.INCORRECT_PARAMETERS, why)


def _put_fields(data: bytes) -> dict[int, bytes]:
    """Split PUT data into fields.

    The property field is the odd one out in YKOATH: tag 0x78 followed directly by one byte, with no
    length, so it is cut out before the rest is read as TLVs.
    """
    fields: dict[int, bytes] = {}
    i = 0
    rest = bytearray()
    while i < len(data):
        if data[i] == TAG_PROPERTY:
            if i + 1 >= len(data):
                raise _wrong_syntax("property tag without a value")
            fields[TAG_PROPERTY] = data[i + 1 : i + 2]
            i += 2
            continue
        # Copy one ordinary TLV through (short lengths suffice: every PUT field is < 128 + 4 bytes).
        if i + 2 > len(data):
            raise _wrong_syntax("truncated TLV")
        n = data[i + 1]
        width = 2
        if n in (0x81, 0x82):
            extra = n - 0x80
            if i + 2 + extra > len(data):
                raise _wrong_syntax("truncated TLV")
            n = int.from_bytes(data[i + 2 : i + 2 + extra], "big")
            width += extra
        rest += data[i : i + width + n]
        i += width + n
    for tag, value in parse_tlvs(bytes(rest)):
        fields[tag] = value
    return fields


def _hotp_code(cred: OathCredential, challenge: bytes) -> bytes:
    """The full HMAC of the challenge under the credential's key."""
    return hmac.new(cred.key, challenge, HASHES[cred.algorithm]).digest()


def _truncate(full: bytes) -> bytes:
    # RFC 4226 dynamic truncation; the host masks the top bit and reduces modulo 10^digits.
    offset = full[-1] & 0x0F
    return full[offset : offset + 4]


class OathApplet:
    """YKOATH over a KeyState; `commit` is called after every change so the state file follows."""

    aid = AID
    send_remaining_ins = INS_SEND_REMAINING

    def __init__(
        self,
        state: KeyState,
        profile: FirmwareProfile,
        commit: Callable[[], None],
        touch: TouchSensor | None = None,
    ) -> None:
        self._state = state
        self._profile = profile
        self._commit = commit
        self._touch = touch if touch is not None else TouchSensor()
        # Per selection, never persisted: the challenge SELECT sent, and whether VALIDATE passed.
        self._challenge: bytes | None = None
        self._unlocked = False

    @property
    def _oath(self):  # noqa: ANN202 - internal shorthand
        return self._state.oath

    def select(self) -> bytes:
        resp = tlv(TAG_VERSION, bytes(self._profile.version)) + tlv(TAG_NAME, self._oath.salt)
        # Every SELECT locks again: a password-protected applet is unlocked for one selection.
        self._unlocked = False
        self._challenge = None
        if self._oath.access_key is not None:
            self._challenge = secrets.token_bytes(CHALLENGE_LENGTH)
            resp += tlv(TAG_CHALLENGE, self._challenge)
            resp += tlv(TAG_ALGORITHM, bytes([self._oath.access_key[0]]))
        return resp

    @property
    def locked(self) -> bool:
        """True while an access key is set and this selection has not passed VALIDATE."""
        return self._oath.access_key is not None and not self._unlocked

    def process(self, cmd: CommandApdu) -> bytes:
        handler = {
            INS_PUT: self._put,
            INS_DELETE: self._delete,
            INS_SET_CODE: self._set_code,
            INS_RESET: self._reset,
            INS_LIST: self._list,
            INS_CALCULATE: self._calculate,
            INS_VALIDATE: self._validate,
            INS_CALCULATE_ALL: self._calculate_all,
        }.get(cmd.ins)
        if cmd.ins == INS_RENAME and self._profile.oath_rename:
            handler = self._rename
        # The lock is checked before the instruction is even looked at, as in Yubico's applet.
        if self.locked and cmd.ins not in OPEN_WHEN_LOCKED:
            raise ApduError(Sw.SECURITY_CONDITION_NOT_SATISFIED, "OATH access key required")
        if handler is None:
            # RENAME before firmware 5.3.1 included: the applet does not know the instruction.
            raise ApduError(Sw.INVALID_INSTRUCTION, f"OATH INS {cmd.ins:02X} not supported")
        return handler(cmd)

    # -- commands ---------------------------------------------------------------------------

    def _name(self, value: bytes | None) -> bytes:
        if not value:
            raise _wrong_syntax("missing name")
        if len(value) > self._profile.oath_name_max:
            raise _wrong_syntax(f"name longer than {self._profile.oath_name_max} bytes")
        return value

    def _put(self, cmd: CommandApdu) -> bytes:
        fields = _put_fields(cmd.data)
        name = self._name(fields.get(TAG_NAME))
        key_field = fields.get(TAG_KEY)
        if key_field is None or len(key_field) < 3:
            raise _wrong_syntax("missing or short key field")
        type_algo, digits, key = key_field[0], key_field[1], key_field[2:]
        oath_type, algorithm = type_algo & 0xF0, type_algo & 0x0F
        if oath_type not in (TYPE_HOTP, TYPE_TOTP) or algorithm not in HASHES:
            raise _wrong_syntax(f"unknown type/algorithm {type_algo:02X}")
        if algorithm == 0x03 and not self._profile.oath_sha512:
            raise _wrong_syntax("SHA-512 not supported by this firmware")
        if not 6 <= digits <= 8:
            raise _wrong_syntax(f"{digits} digits")
        if len(key) > hashlib.new(HASHES[algorithm]).block_size:
            raise _wrong_syntax("key longer than the hash block size")
        prop = fields.get(TAG_PROPERTY, b"\x00")[0]
        imf = fields.get(TAG_IMF)
        if imf is not None and len(imf) != 4:
            raise _wrong_syntax("IMF must be 4 bytes")
        counter = int.from_bytes(imf, "big") if imf else 0
        cred = OathCredential(
            name=name,
            oath_type=oath_type,
            algorithm=algorithm,
            digits=digits,
            key=bytes(key),
            touch=bool(prop & PROP_REQUIRE_TOUCH),
            counter=counter,
        )
        existing = self._oath.find(name)
        if existing is not None:
            # PUT with an existing name overwrites that credential in its place.
            self._oath.credentials[self._oath.credentials.index(existing)] = cred
        elif len(self._oath.credentials) >= self._profile.oath_capacity:
            raise ApduError(Sw.NO_SPACE, "OATH storage full")
        else:
            self._oath.credentials.append(cred)
        self._commit()
        return b""

    def _delete(self, cmd: CommandApdu) -> bytes:
        fields = dict(parse_tlvs(cmd.data))
        cred = self._oath.find(self._name(fields.get(TAG_NAME)))
        if cred is None:
            raise ApduError(Sw.DATA_INVALID, "no such credential")
        self._oath.credentials.remove(cred)
        self._commit()
        return b""

    def _rename(self, cmd: CommandApdu) -> bytes:
        names = [v for t, v in parse_tlvs(cmd.data) if t == TAG_NAME]
        if len(names) != 2:
            raise _wrong_syntax("RENAME needs the old and the new name")
        old, new = self._name(names[0]), self._name(names[1])
        cred = self._oath.find(old)
        if cred is None:
            raise ApduError(Sw.DATA_INVALID, "no such credential")
        if old != new and self._oath.find(new) is not None:
            raise _wrong_syntax("new name already in use")
        cred.name = new
        self._commit()
        return b""

    def _reset(self, cmd: CommandApdu) -> bytes:
        if (cmd.p1, cmd.p2) != (0xDE, 0xAD):
            raise ApduError(Sw.INCORRECT_P1P2, "RESET needs P1P2 DEAD")
        self._oath.credentials.clear()
        self._oath.access_key = None
        self._oath.salt = secrets.token_bytes(8)  # a reset key is a new OATH device id
        self._challenge = None
        self._unlocked = False
        self._commit()
        return b""

    def _set_code(self, cmd: CommandApdu) -> bytes:
        fields = dict(parse_tlvs(cmd.data))
        if TAG_KEY not in fields:
            raise _wrong_syntax("SET CODE needs a key field")
        key_field = fields[TAG_KEY]
        if not key_field:
            # An empty key removes the password; the current selection stays usable.
            self._oath.access_key = None
            self._commit()
            return b""
        algorithm, key = key_field[0] & 0x0F, key_field[1:]
        if algorithm not in HASHES or (algorithm == 0x03 and not self._profile.oath_sha512):
            raise _wrong_syntax(f"unknown access key algorithm {key_field[0]:02X}")
        if not key:
            raise _wrong_syntax("empty access key")
        challenge, response = fields.get(TAG_CHALLENGE), fields.get(TAG_RESPONSE)
        if not challenge or response is None:
            raise _wrong_syntax("SET CODE needs a challenge and its response")
        # The host proves it computes the same HMAC as the key before the key is committed to.
        expected = hmac.new(key, challenge, HASHES[algorithm]).digest()
        if not hmac.compare_digest(response, expected):
            raise ApduError(Sw.DATA_INVALID, "response does not match the challenge")
        self._oath.access_key = (algorithm, bytes(key))
        self._unlocked = True  # the host that set the key has shown it knows it
        self._commit()
        return b""

    def _validate(self, cmd: CommandApdu) -> bytes:
        if self._oath.access_key is None:
            raise ApduError(Sw.DATA_INVALID, "no access key set (auth not enabled)")
        fields = dict(parse_tlvs(cmd.data))
        response, host_challenge = fields.get(TAG_RESPONSE), fields.get(TAG_CHALLENGE)
        if response is None or host_challenge is None or len(host_challenge) < CHALLENGE_LENGTH:
            raise _wrong_syntax("VALIDATE needs a response and a challenge of 8 bytes or more")
        algorithm, key = self._oath.access_key
        if self._challenge is None:
            # Already validated (the challenge is used up) or never selected with a key set.
            raise _wrong_syntax("no outstanding challenge")
        expected = hmac.new(key, self._challenge, HASHES[algorithm]).digest()
        if not hmac.compare_digest(response, expected):
            # No counter and no lockout: YKOATH has no retry limit for the access key.
            raise _wrong_syntax("wrong response (wrong password)")
        self._challenge = None
        self._unlocked = True
        return tlv(TAG_RESPONSE, hmac.new(key, host_challenge, HASHES[algorithm]).digest())

    def _list(self, cmd: CommandApdu) -> bytes:
        return b"".join(
            tlv(TAG_NAME_LIST, bytes([c.oath_type | c.algorithm]) + c.name) for c in self._oath.credentials
        )

    def _calculate(self, cmd: CommandApdu) -> bytes:
        fields = dict(parse_tlvs(cmd.data))
        cred = self._oath.find(self._name(fields.get(TAG_NAME)))
        if cred is None:
            raise ApduError(Sw.DATA_INVALID, "no such credential")
        # The touch comes first: an untouched HOTP calculation must not move the counter.
        if cred.touch:
            if self._touch.policy != "auto":
                # Logged so an operator (or a test reading the log) knows when to touch.
                log.info("OATH: waiting for a touch (policy %s, %g s)", self._touch.policy,
                         self._touch.timeout)
            if not self._touch.request():
                log.info("OATH: no touch in time")
                raise ApduError(Sw.SECURITY_CONDITION_NOT_SATISFIED, "touch timed out")
        if cred.oath_type == TYPE_HOTP:
            # The key supplies the counter itself and moves it on before answering.
            challenge = cred.counter.to_bytes(8, "big")
            cred.counter += 1
            self._commit()
        else:
            challenge = fields.get(TAG_CHALLENGE, b"")
        full = _hotp_code(cred, challenge)
        if cmd.p2 & 0x01:
            return tlv(TAG_TRUNCATED, bytes([cred.digits]) + _truncate(full))
        return tlv(TAG_RESPONSE, bytes([cred.digits]) + full)

    def _calculate_all(self, cmd: CommandApdu) -> bytes:
        fields = dict(parse_tlvs(cmd.data))
        challenge = fields.get(TAG_CHALLENGE)
        if challenge is None:
            raise _wrong_syntax("CALCULATE ALL needs a challenge")
        out = bytearray()
        for cred in self._oath.credentials:
            out += tlv(TAG_NAME, cred.name)
            if cred.oath_type == TYPE_HOTP:
                # HOTP is never calculated here: that would move the counter.
                out += tlv(TAG_HOTP, bytes([cred.digits]))
            elif cred.touch:
                out += tlv(TAG_TOUCH, bytes([cred.digits]))
            else:
                full = _hotp_code(cred, challenge)
                if cmd.p2 & 0x01:
                    out += tlv(TAG_TRUNCATED, bytes([cred.digits]) + _truncate(full))
                else:
                    out += tlv(TAG_RESPONSE, bytes([cred.digits]) + full)
        return bytes(out)
