"""The vault: records bound to their place and key, format-1 records re-sealed at open (recorded), unwrap
by passphrase or an admin YubiKey's HMAC-SHA1 answer (OTP slot 2 of a virtual key), re-wrap, data-key
rotation that loses no secret (also after a crash half-way), and explicit export as a ledger event."""

import base64
import json
import os
import sqlite3
from dataclasses import replace

import pskc
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from desk_fixtures import ADMIN, PASS, op
from desk_fixtures import Desk as DeskType

from drivers.emulator import VirtualYubiKey
from station.core import KeyUnlock, open_station
from station.datadir import write_config
from station.errors import WrongPassphraseError
from station.export import export_secrets
from station.issue import IssueRequest, issue_totp
from station.vault import MAGIC, Vault, VaultHeader, rotate
from station.vault_ops import add_unlock_key, change_passphrase, remove_unlock_key, rotate_data_key
from station.verify import verify_code

SERIAL, ADMIN_KEY = 35000001, 35000099


def reopen(desk: DeskType, unlock=PASS) -> None:
    desk.station.close()
    desk.station = open_station(desk.station.data_dir, unlock, clock=desk.clock, bus=desk.bus)


def secrets_by_record(station) -> dict[str, bytes]:
    rows = station.ledger.db.execute("SELECT id, blob FROM vault_records").fetchall()
    return {rid: station.vault.open(rid, blob) for rid, blob in rows}


def test_records_are_bound_to_their_id_and_key():
    vault, header = Vault.create(PASS)
    blob = vault.seal("totp/1/a", b"seed-one")
    assert blob.startswith(MAGIC) and blob[4:12].hex() == vault.key_id == header.key_id
    assert Vault.unlock(header, PASS).open("totp/1/a", blob) == b"seed-one"
    for record, changed in (("totp/2/a", blob), ("totp/1/a", blob[:-1] + bytes([blob[-1] ^ 1]))):
        with pytest.raises(WrongPassphraseError, match="altered or moved"):
            vault.open(record, changed)
    other, _ = Vault.create(PASS)
    with pytest.raises(WrongPassphraseError):
        other.open("totp/1/a", blob)


def test_format_one_records_and_header_are_upgraded_at_open_and_recorded(desk):
    desk.insert(SERIAL)
    issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol")))
    before = secrets_by_record(desk.station)
    fingerprint = desk.station.vault.fingerprint(b"x" * 20)
    data_key = desk.station.vault._key  # noqa: SLF001 - rebuild what a format-1 station held
    config = desk.station.config
    desk.station.close()
    # Rewrite everything as format 1: nonce | ciphertext with the record id as associated data.
    db = sqlite3.connect(desk.station.data_dir / "station.db")
    for rid, secret in before.items():
        nonce = os.urandom(12)
        db.execute(
            "UPDATE vault_records SET blob = ? WHERE id = ?",
            [nonce + AESGCM(data_key).encrypt(nonce, secret, rid.encode()), rid],
        )
    db.commit()
    db.close()
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt, nonce = os.urandom(16), os.urandom(12)
    kek = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(PASS.encode())
    wrapped = AESGCM(kek).encrypt(nonce, data_key, b"token-station vault data key v1")
    v1 = {
        "salt": base64.b64encode(salt).decode(),
        "n": 2**15,
        "r": 8,
        "p": 1,
        "nonce": base64.b64encode(nonce).decode(),
        "wrapped_key": base64.b64encode(wrapped).decode(),
    }
    n2 = os.urandom(12)
    from station.core import SIGNING_KEY_RECORD

    signing = Vault(data_key).open(SIGNING_KEY_RECORD, config.sealed_key_bytes())
    sealed_v1 = base64.b64encode(
        n2 + AESGCM(data_key).encrypt(n2, signing, SIGNING_KEY_RECORD.encode())
    ).decode()
    write_config(
        desk.station.data_dir, replace(config, vault=VaultHeader.from_json(v1), sealed_signing_key=sealed_v1)
    )
    reopen(desk)
    assert secrets_by_record(desk.station) == before
    assert all(
        desk.station.vault.is_current(b)
        for (b,) in desk.station.ledger.db.execute("SELECT blob FROM vault_records")
    )
    event = list(desk.station.ledger.entries())[-1]
    assert event.type == "vault.records_resealed" and event.body["records"] == len(before)
    stored = json.loads((desk.station.data_dir / "station.json").read_text())
    assert stored["vault"]["slots"][0]["kind"] == "passphrase" and stored["sealed_signing_key"] != sealed_v1
    assert desk.station.vault.fingerprint(b"x" * 20) == fingerprint
    reopen(desk)
    assert list(desk.station.ledger.entries())[-1].type == "vault.records_resealed"  # nothing left to do


def test_an_admin_yubikey_unlocks_the_vault_by_challenge_response(desk):
    key = VirtualYubiKey.open(ADMIN_KEY)
    desk.bus.insert(key)
    added = add_unlock_key(desk.station, ADMIN_KEY, operator=op(ADMIN))
    assert list(desk.station.ledger.entries())[-1].body == {
        "serial": ADMIN_KEY,
        "otp_slot": 2,
        "programmed": True,
    }
    reopen(desk, KeyUnlock())
    assert desk.station.vault.key_id == desk.station.config.vault.key_id and added.serial == ADMIN_KEY
    desk.bus.remove(key)
    with pytest.raises(WrongPassphraseError, match="is inserted"):
        reopen(desk, KeyUnlock())
    stranger = VirtualYubiKey.open(ADMIN_KEY + 1)
    desk.bus.insert(stranger)
    with pytest.raises(WrongPassphraseError, match="not enrolled"):
        reopen(desk, KeyUnlock(ADMIN_KEY + 1))
    desk.bus.insert(key)
    reopen(desk, KeyUnlock(ADMIN_KEY))
    remove_unlock_key(desk.station, ADMIN_KEY, operator=op(ADMIN))
    with pytest.raises(WrongPassphraseError, match="No admin YubiKey is enrolled"):
        reopen(desk, KeyUnlock())


def test_new_passphrase_and_rotation_keep_every_secret(desk):
    desk.insert(SERIAL)
    issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol")))
    before = secrets_by_record(desk.station)
    fingerprints = [r[0] for r in desk.station.ledger.db.execute("SELECT seed_fingerprint FROM credentials")]
    with pytest.raises(WrongPassphraseError):
        change_passphrase(desk.station, "not the passphrase", "a new passphrase!", operator=op(ADMIN))
    change_passphrase(desk.station, PASS, "a new passphrase!", operator=op(ADMIN))
    with pytest.raises(WrongPassphraseError):
        reopen(desk)
    reopen(desk, "a new passphrase!")
    old_id = desk.station.vault.key_id
    rotation = rotate_data_key(desk.station, "a new passphrase!", operator=op(ADMIN))
    assert rotation.previous_key_id == old_id != rotation.key_id and rotation.records == len(before)
    reopen(desk, "a new passphrase!")
    after = secrets_by_record(desk.station)
    assert {k: v for k, v in after.items() if k in before} == before
    seed = before[next(k for k in before if k.startswith("totp/"))]
    assert desk.station.vault.fingerprint(seed) in fingerprints  # the ledger's fingerprints still name it
    entry = [e for e in desk.station.ledger.entries() if e.type == "vault.rotated"][-1]
    assert entry.body["previous_key_id"] == old_id and entry.actor == ADMIN


def test_a_rotation_interrupted_after_the_new_header_is_finished_at_open(desk):
    before = secrets_by_record(desk.station)
    station = desk.station
    rotated = rotate(station.vault, station.config.vault, PASS, {})
    write_config(station.data_dir, replace(station.config, vault=rotated.header))  # step 1, then the crash
    reopen(desk)
    assert secrets_by_record(desk.station) == {
        **before,
        **{k: v for k, v in secrets_by_record(desk.station).items() if k not in before},
    }
    entry = list(desk.station.ledger.entries())[-1]
    assert entry.type == "vault.rotated" and entry.body["finished_at_open"] is True
    assert desk.station.config.vault.previous is None and desk.station.vault.key_id == rotated.header.key_id


def test_an_explicit_export_is_a_ledger_event_and_nothing_else_shows_a_seed(desk, tmp_path):
    key = desk.insert(SERIAL)
    issue_totp(desk.station, IssueRequest(SERIAL, "alice", op("carol"), profile="yubikey-oath-totp-otp"))
    export = export_secrets(
        desk.station,
        [str(SERIAL)],
        operator=op(ADMIN),
        password="correct battery horse",
        reason="migrating to the new IdP",
    )
    event = list(desk.station.ledger.entries())[-1]
    assert (
        event.type == "vault.exported" and event.body["sha256"] == export.sha256 and event.body["protected"]
    )
    path = tmp_path / "export.pskc"
    path.write_bytes(export.data)
    container = pskc.PSKC(str(path))
    container.encryption.derive_key("correct battery horse")
    secrets = {k.algorithm.rsplit("#", 1)[-1]: k.secret for k in container.keys}
    totp_record = desk.station.ledger.db.execute(
        "SELECT vault_record FROM credentials WHERE oath_type = 'TOTP'"
    ).fetchone()[0]
    assert desk.station.secret(totp_record) in secrets.values()
    assert verify_code(desk.station, "alice", key.press_button(1), operator=op("carol")).kind == "yubico-otp"
    with pytest.raises(Exception, match="may not export"):
        export_secrets(desk.station, [str(SERIAL)], operator=op("carol"), password="x" * 12, reason="x")
