"""A whole desk day, then a scan: no seed, AES key, private id, PIN, passphrase, data key, recovery or
temporary code or session token created during the run appears in any log record, ledger entry, report,
CLI output, error message, the station's files or an auditor's bundle, in any common spelling. The
only places a secret may appear are the outputs that exist to show it once (the break-glass envelope,
a recovery set, a temporary code, a `station login` session, an export file), and each of those holds
only its own secret.

The CLI runs in-process (station.cli.main); the YubiKey work runs through the station's functions over
the in-process bus of virtual keys, since the CLI's issue talks to pcscd.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import operator_tokens as ot
import pyotp
from desk_fixtures import PASS
from yubikit.core.otp import modhex_encode
from yubikit.oath import OathSession

from drivers.emulator import VirtualYubiKey
from drivers.emulator.bus import VirtualBus
from drivers.emulator.connection import VirtualConnection
from station.cli import main
from station.core import open_station
from station.inventory.classic import issue_classic
from station.inventory.seed_intake import receive_seed_file
from station.issue import IssueRequest, issue_totp
from station.operators.signin import sign_in
from station.verify import verify_code

NEW_PASSPHRASE = "a brand new vault passphrase"
CLASSIC_SEED = bytes(range(100, 120))
SERIAL = 36000001


@dataclass(frozen=True)
class Seed:
    serial: str
    secret: bytes
    oath_type: str = "HOTP"
    algorithm: str = "SHA1"
    digits: int = 6
    period: int | None = None
    counter: int | None = 0


def spellings(secret: bytes | str) -> set[str]:
    """How a secret could be written down: raw, hex, base32, base64, modhex; codes with or without dashes."""
    if isinstance(secret, str):
        return {secret, secret.replace("-", ""), secret.lower(), secret.replace("-", "").lower()}
    forms = {
        secret.hex(),
        secret.hex().upper(),
        base64.b32encode(secret).decode(),
        base64.b32encode(secret).decode().rstrip("="),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        modhex_encode(secret),
    }
    try:
        forms.add(secret.decode("ascii"))
    except UnicodeDecodeError:
        pass
    return {f for f in forms if len(f) >= 8}


class Day:
    """The CLI in-process, every output kept: `shown` for the outputs whose purpose is a secret."""

    def __init__(self, tmp_path, monkeypatch, capsys) -> None:
        self.data, self.tmp = tmp_path / "station", tmp_path
        self.mp, self.capsys = monkeypatch, capsys
        self.codes = ot.Codes()
        self.outputs: list[str] = []
        self.shown: dict[str, str] = {}
        for name in ("STATION_DATA", "STATION_SESSION", "STATION_OPERATOR", "STATION_APPROVER"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("STATION_PASSPHRASE", PASS)

    def token_file(self, who: str) -> str:
        path = self.tmp / f"{who}.otpauth"
        path.write_text(ot.otpauth(who))
        return str(path)

    def __call__(
        self,
        *args: str,
        as_: str | None = None,
        approver: str | None = None,
        shows: str | None = None,
        ok: int = 0,
        env: dict | None = None,
    ) -> dict | list | str:
        if as_:
            self.mp.setenv("STATION_OPERATOR", as_)
            self.mp.setenv("STATION_OPERATOR_PIN", ot.pin(as_))
            self.mp.setenv("STATION_OPERATOR_OTP", self.codes.next(as_))
        if approver:
            self.mp.setenv("STATION_APPROVER_PIN", ot.pin(approver))
            self.mp.setenv("STATION_APPROVER_OTP", self.codes.next(approver))
        for key, value in (env or {}).items():
            self.mp.setenv(key, value)
        code = main(["--data", str(self.data), "--json", *args])
        captured = self.capsys.readouterr()
        assert code == ok, captured.out + captured.err
        if shows:
            self.shown[shows] = captured.out
            self.outputs.append(captured.err)
        else:
            self.outputs += [captured.out, captured.err]
        for key in env or {}:
            self.mp.delenv(key)
        return json.loads(captured.out) if captured.out.strip().startswith(("{", "[")) else captured.out


def test_no_secret_leaves_the_vault_except_where_it_is_shown_on_purpose(
    tmp_path, monkeypatch, capsys, caplog
):
    caplog.set_level(logging.DEBUG)
    day = Day(tmp_path, monkeypatch, capsys)
    errors: list[str] = []
    pins = {who: ot.pin(who) for who in ("root", "carol", "sam", "hank", "audrey")}

    # Morning: the station is set up; operators are enrolled with their PINs and tokens.
    monkeypatch.setenv("STATION_ADMIN_PIN", pins["root"])
    envelope = day(
        "init",
        "--site",
        "branch-07",
        "--admin",
        "root",
        "--admin-token-uri",
        day.token_file("root"),
        shows="break-glass envelope",
    )["break_glass"]
    for who, roles in (
        ("carol", "custodian"),
        ("sam", "supervisor"),
        ("hank", "admin,supervisor"),
        ("audrey", "auditor"),
    ):
        day(
            "operator",
            "add",
            who,
            "--role",
            roles,
            "--token-uri",
            day.token_file(who),
            as_="root",
            env={"STATION_NEW_PIN": pins[who]},
        )
    failed = day(
        "receive",
        "50000001",
        ok=1,
        env={
            "STATION_OPERATOR": "carol",
            "STATION_OPERATOR_PIN": "wrong-pin-0",
            "STATION_OPERATOR_OTP": day.codes.next("carol"),
        },
    )
    errors.append(json.dumps(failed))

    # The desk: a YubiKey with TOTP and Yubico OTP for alice, a classic HOTP token for bob, codes checked.
    bus = VirtualBus()
    key = VirtualYubiKey.open(SERIAL)
    bus.insert(key)
    station = open_station(day.data, PASS, bus=bus)
    carol = sign_in(station, "carol", pins["carol"], day.codes.next("carol"))
    issue_totp(station, IssueRequest(SERIAL, "alice", carol, profile="yubikey-oath-totp-otp"))
    oath = OathSession(VirtualConnection(key))
    cred = next(c for c in oath.list_credentials() if c.id == b"Token Station:alice")
    verify_code(
        station, "alice", oath.calculate_code(cred, int(datetime.now(UTC).timestamp())).value, operator=carol
    )
    verify_code(station, None, key.press_button(1), operator=carol)
    receive_seed_file(
        station, [Seed("FT0001", CLASSIC_SEED)], operator=carol, source="v.pskc", sha256="00" * 32
    )
    hotp = pyotp.HOTP(base64.b32encode(CLASSIC_SEED).decode())
    issue_classic(station, "FT0001", owner="bob", operator=carol, code=hotp.at(0))
    for bad in ("000000", "cccccccccccccccccccccccccccccccccccccccccccc", "AAAA-BBBB-CCCC"):
        try:
            verify_code(station, "bob", bad, operator=carol)
        except Exception as exc:  # noqa: BLE001 - every refusal's words are scanned
            errors.append(f"{exc} {getattr(exc, 'hint', '')}")
    station.close()

    # Afternoon, from the CLI: recovery codes, a temporary code, a lost key replaced, a lock, an export.
    recovery = day("recovery", "issue", "--owner", "bob", as_="carol", shows="recovery set")["codes"]
    day("verify", "--owner", "bob", "--code", recovery[0], as_="carol")
    errors.append(json.dumps(day("verify", "--owner", "bob", "--code", recovery[0], as_="carol", ok=3)))
    temporary = day(
        "temporary",
        "grant",
        "--owner",
        "alice",
        "--reason",
        "key at home",
        "--approver",
        "carol",
        as_="sam",
        approver="carol",
        shows="temporary code",
    )["code"]
    day("verify", "--owner", "alice", "--code", temporary, as_="carol")
    day("report-lost", "--serial", str(SERIAL), "--reason", "lost on the train", as_="carol")
    session = day("login", as_="sam", shows="session")["session"]
    day("operator", "lock", "carol", "--reason", "badge lost", env={"STATION_SESSION": session})
    errors.append(json.dumps(day("verify", "--owner", "bob", "--code", recovery[1], as_="carol", ok=1)))
    day("operator", "unlock", "carol", "--reason", "found", "--approver", "sam", as_="hank", approver="sam")
    day("logout", env={"STATION_SESSION": session})
    export_file = tmp_path / "export.pskc"
    day(
        "vault",
        "export",
        "FT0001",
        "--out",
        str(export_file),
        "--reason",
        "IdP migration",
        as_="root",
        env={"STATION_EXPORT_PASSWORD": "export password 123"},
    )
    day("vault", "passphrase", as_="root", env={"STATION_NEW_PASSPHRASE": NEW_PASSPHRASE})
    monkeypatch.setenv("STATION_PASSPHRASE", NEW_PASSPHRASE)
    day("vault", "rotate", as_="root")

    # Evening: everything an auditor or a report reader sees.
    day("ledger", "show")
    day("ledger", "verify")
    day("ledger", "export", str(tmp_path / "bundle"))
    for name in [r["report"] for r in day("report", "list")]:
        day("report", name)
        code = main(["--data", str(day.data), "report", name, "--csv"])
        assert code == 0
        day.outputs.append(capsys.readouterr().out)
    for args in (
        ("token", "show", str(SERIAL)),
        ("operator", "list"),
        ("review", "list", "--all"),
        ("recovery", "list"),
        ("temporary", "list"),
        ("vault", "keys"),
    ):
        day(*args)

    # The secrets made during the day, straight from the vault.
    station = open_station(day.data, NEW_PASSPHRASE)
    secrets: dict[str, set[str]] = {"vault data key": spellings(station.vault._key)}  # noqa: SLF001
    for record_id, blob in station.ledger.db.execute("SELECT id, blob FROM vault_records").fetchall():
        plain = station.vault.open(record_id, blob)
        if record_id.startswith("yubico-otp/"):
            data = json.loads(plain)
            secrets[f"{record_id} AES key"] = spellings(bytes.fromhex(data["aes_key"]))
            secrets[f"{record_id} private id"] = {bytes.fromhex(data["private_id"]).hex()}
        elif (
            record_id.startswith(("totp/", "seed/", "station/"))
            or "/token/" in record_id
            and plain[:1] != b"{"
        ):
            secrets[record_id] = spellings(plain)
    station.close()
    assert any(k.startswith("totp/") for k in secrets) and any(k.startswith("yubico-otp/") for k in secrets)
    for who, pin in pins.items():
        secrets[f"{who}'s PIN"] = {pin}
        secrets[f"{who}'s token seed"] = spellings(ot.seed(who))
    secrets["classic seed"] = spellings(CLASSIC_SEED)
    secrets["break-glass PIN"] = {envelope["pin"]}
    for i, code in enumerate(envelope["codes"]):
        secrets[f"break-glass code {i}"] = spellings(code)
    for i, code in enumerate(recovery):
        secrets[f"recovery code {i}"] = spellings(code)
    secrets["temporary code"] = spellings(temporary)
    secrets["session"] = {session, session.split(".", 1)[1]}
    secrets["passphrases"] = {PASS, NEW_PASSPHRASE, "export password 123"}

    places = {f"output {i}": text for i, text in enumerate(day.outputs)}
    places |= {f"error {i}": text for i, text in enumerate(errors)}
    places["log records"] = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for path in [*day.data.iterdir(), *(tmp_path / "bundle").rglob("*")]:
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("latin-1")
    own = {
        "break-glass envelope": "break-glass",
        "recovery set": "recovery code",
        "temporary code": "temporary code",
        "session": "session",
    }
    for name, text in day.shown.items():
        places[f"shown: {name}"] = text
    assert len(places) > 60 and caplog.records is not None
    leaks = []
    for place, text in places.items():
        for secret, forms in secrets.items():
            allowed = place.startswith("shown: ") and secret.startswith(own[place[7:]])
            if not allowed and any(form in text for form in forms):
                leaks.append(f"{secret} in {place}")
    assert leaks == []
    # The export file is the one place a seed is written, encrypted, and the ledger says so.
    exported = export_file.read_text()
    assert "EncryptedValue" in exported and not any(f in exported for f in secrets["classic seed"])
