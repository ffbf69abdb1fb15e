"""Operator sign-in and sessions: PIN and own token checked offline, slow hashes, growing lockouts as
ledger events, idle and maximum session time, locked and deactivated operators, forged sessions."""

import json

import operator_tokens as ot
import pytest
from desk_fixtures import ADMIN, op
from yubikit.oath import OathSession

from drivers.emulator.connection import VirtualConnection
from station.errors import InputError, NotPermitted
from station.inventory.admin import deactivate_operator, enrol_operator
from station.inventory.intake import receive_serials
from station.operators import sessions
from station.operators.credentials import program_yubikey_token, set_credentials
from station.operators.lockout import lock_operator
from station.operators.sessions import NotSignedIn, Session
from station.operators.signin import LockedOut, SignInFailed, sign_in, sign_out


def receive(desk, who):
    return receive_serials(desk.station, ["40000001"], operator=who)


def test_pins_are_slow_hashes_in_the_vault_and_never_in_clear(desk):
    raw = b"".join(p.read_bytes() for p in desk.station.data_dir.iterdir() if p.is_file())
    for who in ("carol", "sam", ADMIN):
        assert ot.pin(who).encode() not in raw
    record = desk.station.ledger.db.execute("SELECT pin_record FROM operator_tokens WHERE operator = 'carol'")
    stored = json.loads(desk.station.secret(record.fetchone()[0]))
    assert stored["cost"]["kdf"] == "argon2id" and set(stored) == {"salt", "verifier", "signer", "cost"}


def test_each_code_signs_in_once_and_a_malformed_code_counts_for_nothing(desk):
    code = desk.codes.next("carol")
    session = sign_in(desk.station, "carol", ot.pin("carol"), code)
    assert session.operator == "carol" and not session.break_glass
    with pytest.raises(SignInFailed):
        sign_in(desk.station, "carol", ot.pin("carol"), code)  # the same code again
    with pytest.raises(InputError, match="malformed"):
        sign_in(desk.station, "carol", ot.pin("carol"), "12ab56")
    row = desk.station.ledger.db.execute("SELECT failures FROM operators WHERE id = 'carol'").fetchone()
    assert row[0] == 1  # the replay counted, the malformed code did not
    last = list(desk.station.ledger.entries())[-1]
    assert last.type == "operator.sign_in_failed" and last.body["reason"] == "code: replay"


def test_growing_lockout_delays_are_ledger_events(desk):
    waits = []
    for _ in range(5):
        with pytest.raises(SignInFailed):
            sign_in(desk.station, "dave", "wrong-pin-0000", desk.codes.next("dave"))
        row = desk.station.ledger.db.execute(
            "SELECT locked_until FROM operators WHERE id = 'dave'"
        ).fetchone()[0]
        waits.append(row)
        if row:
            with pytest.raises(LockedOut, match="locked out"):
                sign_in(desk.station, "dave", ot.pin("dave"), desk.codes.next("dave"))
            desk.clock.advance(hours=2)
    bodies = [e.body for e in desk.station.ledger.entries() if e.type == "operator.sign_in_failed"]
    counted = [b for b in bodies if "failures" in b]
    assert [b["failures"] for b in counted] == [1, 2, 3, 4, 5]
    delays = [
        e.body["locked_until"]
        for e in desk.station.ledger.entries()
        if e.type == "operator.sign_in_failed" and e.body.get("locked_until")
    ]
    assert [d[11:19] for d in delays] == ["09:00:30", "11:01:00", "13:02:00"]  # 30 s, 60 s, 120 s
    assert [b["reason"] for b in bodies if "failures" not in b] == ["locked out"] * 3
    # A right PIN and code clear the count.
    sign_in(desk.station, "dave", ot.pin("dave"), desk.codes.next("dave"))
    assert (
        desk.station.ledger.db.execute("SELECT failures FROM operators WHERE id = 'dave'").fetchone()[0] == 0
    )


def test_an_unknown_operator_is_recorded_without_what_was_typed(desk):
    with pytest.raises(SignInFailed):
        sign_in(desk.station, "2468-typed-in-the-wrong-field", "x", "123456")
    last = list(desk.station.ledger.entries())[-1]
    assert last.body == {"operator": None, "reason": "unknown operator"}
    assert b"2468-typed" not in last.raw


def test_sessions_end_after_idle_time_and_maximum_length(desk):
    carol = op("carol")
    desk.clock.advance(minutes=9)
    receive(desk, carol)  # activity: the idle timer starts again
    desk.clock.advance(minutes=10, seconds=1)
    with pytest.raises(NotSignedIn, match="10 minutes without activity"):
        receive(desk, carol)
    sam = op("sam")
    for _ in range(12 * 6):
        desk.clock.advance(minutes=9, seconds=59)
        with desk.station.record() as tx:
            sessions.check(tx.db, sam, desk.clock())
    desk.clock.advance(minutes=9)
    with pytest.raises(NotSignedIn, match="maximum length"):
        receive(desk, sam)


def test_a_forged_or_signed_out_session_gets_nothing(desk):
    carol = op("carol")
    forged = Session(carol.id, "carol", carol.started_at, token=b"\x00" * 32)
    for fake in (forged, Session("0123456789abcdef", "carol", desk.clock()), "carol"):
        with pytest.raises(NotSignedIn):
            receive(desk, fake)
    sign_out(desk.station, carol)
    with pytest.raises(NotSignedIn, match="signed out"):
        receive(desk, carol)


def test_a_locked_operator_cannot_act_or_sign_in_and_a_role_change_does_not_unlock(desk):
    carol = op("carol")
    lock_operator(desk.station, "carol", operator=op("sam"), reason="token reported stolen")
    with pytest.raises(NotSignedIn, match="session ended \\(locked\\)"):
        receive(desk, carol)
    with pytest.raises(NotPermitted, match="carol is locked"):
        sign_in(desk.station, "carol", ot.pin("carol"), desk.codes.next("carol"))
    enrol_operator(desk.station, "carol", "custodian,supervisor", operator=op(ADMIN))
    status = desk.station.ledger.db.execute("SELECT status FROM operators WHERE id = 'carol'").fetchone()[0]
    assert status == "locked"
    with pytest.raises(InputError, match="cannot lock yourself"):
        lock_operator(desk.station, "sam", operator=op("sam"), reason="x")
    dave = op("dave")
    deactivate_operator(desk.station, "dave", operator=op(ADMIN), reason="left")
    with pytest.raises(NotSignedIn):
        receive(desk, dave)


def test_credentials_come_from_another_admin_and_replace_the_signing_key(desk):
    with pytest.raises(InputError, match="your own PIN"):
        set_credentials(desk.station, ADMIN, pin="new-pin-4321", token=ot.token(ADMIN), operator=op(ADMIN))
    with pytest.raises(InputError, match="too easy"):
        set_credentials(desk.station, "carol", pin="123456", token=ot.token("carol"), operator=op(ADMIN))
    carol = op("carol")
    set_credentials(
        desk.station,
        "carol",
        pin="carols-new-pin",
        token=ot.token("carol"),
        operator=op(ADMIN),
        cost=ot.CHEAP,
    )
    with pytest.raises(NotSignedIn, match="credentials replaced"):
        receive(desk, carol)
    types = [e.type for e in desk.station.ledger.entries()][-3:]
    assert types == ["ledger.signer_retired", "ledger.signer_enrolled", "operator.credentials_set"]
    assert sign_in(desk.station, "carol", "carols-new-pin", desk.codes.next("carol")).operator == "carol"


def test_a_yubikey_as_operator_token_yubico_otp_or_totp(desk):
    key = desk.insert(20261203)
    token = program_yubikey_token(desk.bus, 20261203, "olga", "yubico-otp")
    enrol_operator(desk.station, "olga", "custodian", operator=op(ADMIN))
    set_credentials(desk.station, "olga", pin="olgas-pin-1", token=token, operator=op(ADMIN), cost=ot.CHEAP)
    otp = key.press_button(1)
    assert sign_in(desk.station, "olga", "olgas-pin-1", otp).operator == "olga"
    with pytest.raises(SignInFailed):
        sign_in(desk.station, "olga", "olgas-pin-1", otp)
    assert sign_in(desk.station, "olga", "olgas-pin-1", key.press_button(1)).operator == "olga"
    totp = program_yubikey_token(desk.bus, 20261203, "olga", "totp")
    set_credentials(desk.station, "olga", pin="olgas-pin-2", token=totp, operator=op(ADMIN), cost=ot.CHEAP)
    oath = OathSession(VirtualConnection(key))
    cred = next(c for c in oath.list_credentials() if c.id == b"Token Station operator:olga")
    code = oath.calculate_code(cred, int(desk.clock().timestamp())).value
    assert sign_in(desk.station, "olga", "olgas-pin-2", code).operator == "olga"


def test_cli_sessions_resume_and_cannot_be_an_approval(desk):
    carol = op("carol")
    exported = carol.export()
    with desk.station.record() as tx:
        resumed = sessions.resume(tx.db, exported, desk.clock())
    assert resumed.operator == "carol" and resumed.signer is not None
    receive(desk, resumed)
    approval = desk.approval("sam")
    with desk.station.record() as tx, pytest.raises(NotSignedIn, match="approval cannot be passed on"):
        sessions.resume(tx.db, approval.export(), desk.clock())
    with desk.station.record() as tx, pytest.raises(NotSignedIn):
        sessions.resume(tx.db, exported[:-4] + "AAAA", desk.clock())


def test_the_policy_in_station_json_is_checked_when_the_station_opens(desk):
    from desk_fixtures import PASS

    from station.core import open_station
    from station.errors import StationError

    desk.station.close()
    path = desk.station.data_dir / "station.json"
    config = json.loads(path.read_text())
    cases = (
        ({"idle_minutes": 0}, "timeouts"),
        ({"colour": 1}, "unknown keys"),
        ({"timezone": "Mars/Olympus"}, "not a known time zone"),
        ({"shift_ends": ["25:00"]}, "time of day"),
        ({"shift_ends": "22:00"}, "list of HH:MM"),
    )
    for bad, says in cases:
        path.write_text(json.dumps({**config, "policy": bad}))
        with pytest.raises(StationError, match=says):
            open_station(desk.station.data_dir, PASS)
    path.write_text(json.dumps({**config, "policy": {"idle_minutes": 2, "timezone": "Europe/Zurich"}}))
    desk.station = open_station(desk.station.data_dir, PASS, clock=desk.clock, bus=desk.bus)
    assert desk.station.config.policy.idle_minutes == 2
    assert desk.station.config.policy.end_of_shift(desk.clock()).isoformat() == "2026-12-03T14:00:00+01:00"
