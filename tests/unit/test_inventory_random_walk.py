"""A long random walk through every token transition, checked against an independent model.

Hypothesis drives the station's own functions (YubiKeys on the in-process bus, classic tokens with
RFC 6238 first codes) with legal and illegal moves by permitted and unpermitted operators. After each
step the inventory must match the model, which is written from the issue's rules, not from the code;
a refused move must leave the ledger as it was. At the end of every walk the inventory rebuilt from
the ledger alone must equal the live tables.
"""

import base64
import hashlib
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pyotp
from desk_fixtures import PASS, T0, Desk, MovableClock, make_desk
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from drivers.emulator import VirtualYubiKey
from drivers.emulator.bus import VirtualBus
from station.core import open_station
from station.errors import StationError
from station.inventory import lifecycle as lc
from station.inventory.admin import add_location
from station.inventory.audits import close_audit, count, start_audit
from station.inventory.classic import issue_classic
from station.inventory.custody import transfer
from station.inventory.directory import apply_directory, plan_directory
from station.inventory.intake import receive_serials
from station.inventory.seed_intake import receive_seed_file
from station.issue import IssueRequest, issue_totp
from station.operators.sessions import Session
from station.projection import rebuild, snapshot

SECRET = b"12345678901234567890"
OWNERS = ("alice", "bob", "erin", "frank")
DESK = ("carol", "dave", "sam")  # custodians and a supervisor
ANYONE = (*DESK, "audrey", "mallory")  # an auditor (no desk rights) and someone not enrolled
LOCATIONS = (None, "safe", "drawer")
SERIALS = [f"{60000001 + i}" for i in range(6)] + [f"FT{i:04d}" for i in range(4)]
_TEMPLATE: list[Path] = []


def template() -> Path:
    """One initialised station copied for every walk (the vault's scrypt runs once, not per walk)."""
    if not _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="walk-template-"))
        desk = make_desk(root / "station")
        for loc in ("safe", "drawer"):
            add_location(desk.station, loc, site="branch-07", kind=loc, operator=desk.op("root"))
        desk.station.close()
        _TEMPLATE.append(root / "station")
    return _TEMPLATE[0]


class Walk(RuleBasedStateMachine):
    @initialize()
    def open(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="walk-"))
        shutil.copytree(template(), self.dir / "station")
        self.clock = MovableClock(T0)
        bus = VirtualBus(readers=1)
        self.desk = Desk(open_station(self.dir / "station", PASS, clock=self.clock, bus=bus), bus, self.clock)
        self.keys: dict[str, VirtualYubiKey] = {}
        self.model: dict[str, dict] = {}  # serial -> status, owner, custodian, location, prior
        self.directory: set[str] | None = None

    def teardown(self) -> None:
        if hasattr(self, "desk"):
            db = self.desk.station.ledger.db
            live = snapshot(db)
            rebuild(db, self.desk.station.ledger.entries())
            assert snapshot(db) == live, "the inventory rebuilt from the ledger differs from the live tables"
            self.desk.station.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers -------------------------------------------------------------------------------------
    def session(self, who: str) -> Session:
        """The operator signed in (a forged session for someone not enrolled, which is refused)."""
        if who == "mallory":
            return Session("6d616c6c6f727921", who, self.clock())
        return self.desk.op(who)

    def approval(self, who: str) -> Session:
        if who == "mallory":
            return Session("6d616c6c6f727922", who, self.clock(), purpose="approval")
        return self.desk.approval(who)

    def attempt(self, legal: bool, fn, *args, **kwargs) -> bool:
        """Run a station function; it must succeed exactly when the model says the move is legal.

        Operators named by id are signed in first (a sign-in is recorded, and is not the move)."""
        self.clock.advance(seconds=31)  # a fresh TOTP step for every move
        if isinstance(kwargs.get("operator"), str):
            kwargs["operator"] = self.session(kwargs["operator"])
        for name in ("witness", "to_custodian", "approver"):
            if isinstance(kwargs.get(name), str):
                kwargs[name] = self.approval(kwargs[name])
        args = tuple(
            replace(a, custodian=self.session(a.custodian)) if isinstance(a, IssueRequest) else a
            for a in args
        )
        before = self.desk.station.ledger.size()
        try:
            fn(*args, **kwargs)
        except StationError as exc:
            assert not legal, f"a legal move was refused: {exc.message}"
            # A wrong first code is recorded as a failed issue; every other refusal records nothing.
            grew = self.desk.station.ledger.size() - before
            assert grew == 0 or (grew == 1 and "does not match" in exc.message), exc.message
            return False
        assert legal, f"an illegal move went through: {fn.__name__}{args}"
        event(f"done: {fn.__name__}")
        return True

    def token(self, serial: str) -> dict:
        return self.model.get(serial, {"status": None, "owner": None})

    def pick(self, data, *states: str) -> str:
        """Mostly a token in one of these states (so moves are often legal), sometimes any serial."""
        good = sorted(s for s, t in self.model.items() if not states or t["status"] in states)
        if good and data.draw(st.integers(0, 9), label="pick a fitting token") < 8:
            return data.draw(st.sampled_from(good), label="serial")
        return data.draw(st.sampled_from(SERIALS), label="any serial")

    @staticmethod
    def who(data, rights: tuple[str, ...] = DESK) -> str:
        """Mostly an operator with the rights, sometimes anyone (unpermitted, or not enrolled)."""
        return data.draw(st.sampled_from(rights * 3 + ANYONE), label="operator")

    # --- rules ---------------------------------------------------------------------------------------
    @rule(serial=st.sampled_from(SERIALS[:6]), location=st.sampled_from(LOCATIONS), data=st.data())
    def receive_yubikey(self, serial, location, data):
        who = self.who(data)
        legal = serial not in self.model and who in DESK
        if self.attempt(legal, receive_serials, self.desk.station, [serial], operator=who, location=location):
            self.model[serial] = {
                "status": "in_stock",
                "owner": None,
                "custodian": who,
                "location": location,
                "kind": "yubikey",
            }

    @rule(serial=st.sampled_from(SERIALS[6:]), who=st.sampled_from(DESK))
    def receive_classic(self, serial, who):
        seed = type(
            "Seed",
            (),
            {
                "serial": serial,
                "secret": SECRET,
                "oath_type": "TOTP",
                "algorithm": "SHA1",
                "digits": 6,
                "period": 30,
                "counter": None,
            },
        )()
        legal = serial not in self.model
        if self.attempt(
            legal,
            receive_seed_file,
            self.desk.station,
            [seed],
            operator=who,
            source="s.pskc",
            sha256="0" * 64,
        ):
            self.model[serial] = {
                "status": "in_stock",
                "owner": None,
                "custodian": who,
                "location": None,
                "kind": "oath",
            }

    @rule(owner=st.sampled_from(OWNERS), right_code=st.booleans(), data=st.data())
    def issue(self, owner, right_code, data):
        serial, who = self.pick(data, "in_stock", "returned"), self.who(data)
        t = self.token(serial)
        owner_ok = self.directory is None or owner in self.directory
        yubikey = serial.isdigit()
        spare = t["status"] in ("in_stock", "returned") or (yubikey and t["status"] is None)
        legal = spare and who in DESK and owner_ok and (yubikey or right_code)
        if yubikey:
            key = self.keys.setdefault(serial, VirtualYubiKey.open(int(serial)))
            for reader in self.desk.bus.reader_names():
                if self.desk.bus.key_in(reader) is not None:
                    self.desk.bus.remove(self.desk.bus.key_in(reader))
            self.desk.bus.insert(key)
            # A replacement (the owner lost a token before) takes a second operator: hank approves.
            done = self.attempt(
                legal, issue_totp, self.desk.station, IssueRequest(int(serial), owner, who), approver="hank"
            )
        else:
            step = int(self.clock.advance(seconds=0).timestamp()) // 30 + 1  # attempt() moves 31 s on
            code = pyotp.TOTP(base64.b32encode(SECRET).decode(), digest=hashlib.sha1).generate_otp(step)
            code = code if right_code else f"{(int(code) + 1) % 10**6:06d}"
            done = self.attempt(
                legal,
                issue_classic,
                self.desk.station,
                serial,
                owner=owner,
                operator=who,
                code=code,
                approver="hank",
            )
        if done:
            self.model.setdefault(serial, {"kind": "yubikey", "location": None})
            self.model[serial].update(status="issued", owner=owner, custodian=who, location=None)

    @rule(location=st.sampled_from(LOCATIONS), data=st.data())
    def give_back(self, location, data):
        serial, who = self.pick(data, "issued"), self.who(data)
        t = self.token(serial)
        legal = t["status"] == "issued" and who in DESK and who != t["owner"]
        if self.attempt(legal, lc.return_token, self.desk.station, serial, operator=who, location=location):
            t.update(status="returned", owner=None, custodian=who, location=location)

    @rule(data=st.data())
    def lose(self, data):
        serial, who = self.pick(data, "issued", "in_stock", "returned", "blocked"), self.who(data)
        t = self.token(serial)
        legal = t["status"] in ("issued", "in_stock", "returned", "blocked", "damaged") and who in DESK
        if self.attempt(legal, lc.report_lost, self.desk.station, serial, operator=who, reason="gone"):
            t.update(status="lost", owner=None, location=None)

    @rule(location=st.sampled_from(LOCATIONS), data=st.data())
    def damage(self, location, data):
        serial, who = self.pick(data, "issued", "in_stock", "returned", "blocked"), self.who(data)
        t = self.token(serial)
        legal = t["status"] in ("issued", "in_stock", "returned", "blocked") and who in DESK
        if self.attempt(
            legal,
            lc.report_damaged,
            self.desk.station,
            serial,
            operator=who,
            reason="cracked",
            location=location,
        ):
            t.update(status="damaged", owner=None, custodian=who, location=location)

    @rule(data=st.data())
    def block(self, data):
        serial, who = self.pick(data, "issued", "in_stock", "returned"), self.who(data)
        t = self.token(serial)
        legal = t["status"] in ("issued", "in_stock", "returned") and who in DESK
        if self.attempt(legal, lc.block, self.desk.station, serial, operator=who, reason="doubt"):
            t.update(prior=t["status"], status="blocked")

    @rule(data=st.data())
    def unblock(self, data):
        serial, who = self.pick(data, "blocked"), self.who(data, ("sam",))
        t = self.token(serial)
        legal = t["status"] == "blocked" and who == "sam" and who != t["owner"]
        if self.attempt(legal, lc.unblock, self.desk.station, serial, operator=who, reason="cleared"):
            t.update(status=t["prior"])

    @rule(location=st.sampled_from(LOCATIONS), data=st.data())
    def find(self, location, data):
        serial, who = self.pick(data, "lost"), self.who(data)
        t = self.token(serial)
        legal = t["status"] == "lost" and who in DESK
        if self.attempt(
            legal, lc.found, self.desk.station, serial, operator=who, reason="turned up", location=location
        ):
            t.update(status="returned", custodian=who, location=location)

    @rule(witness=st.sampled_from(ANYONE), data=st.data())
    def retire(self, witness, data):
        serial = self.pick(data, "in_stock", "returned", "damaged", "lost", "blocked")
        who = self.who(data, ("sam",))
        t = self.token(serial)
        legal = (
            t["status"] in ("in_stock", "returned", "damaged", "lost", "blocked")
            and who == "sam"
            and witness != who
            and witness in (*DESK, "audrey")
        )
        if self.attempt(
            legal,
            lc.retire,
            self.desk.station,
            serial,
            operator=who,
            how="destroyed",
            reason="end of life",
            witness=witness,
        ):
            t.update(status="retired", owner=None, location=None)

    @rule(location=st.sampled_from(("safe", "drawer")), data=st.data())
    def move(self, location, data):
        serial = self.pick(data, "in_stock", "returned", "damaged", "blocked")
        who, to = self.who(data), self.who(data)
        if who not in DESK:
            return  # transfer() checks the giver like every other move; the receiver is what varies here
        t = self.token(serial)
        at_desk = t["status"] in ("in_stock", "returned", "damaged", "blocked") and t["owner"] is None
        legal = at_desk and to in DESK and (t["custodian"] == who or who == "sam")
        if self.attempt(
            legal, transfer, self.desk.station, [serial], operator=who, to_custodian=to, location=location
        ):
            t.update(custodian=to, location=location)

    @rule(present=st.sets(st.sampled_from(OWNERS), min_size=1))
    def import_directory(self, present):
        text = "id,name\n" + "".join(f"{o},{o.title()}\n" for o in sorted(present))
        plan = plan_directory(self.desk.station, text.encode(), "hr.csv")
        apply_directory(self.desk.station, plan, operator=self.desk.op("hank"), allow_mass_removal=True)
        self.directory = set(present)

    @rule(location=st.sampled_from(("safe", "drawer")), data=st.data())
    def audit(self, location, data):
        expected = {
            s
            for s, t in self.model.items()
            if t["location"] == location
            and t["owner"] is None
            and t["status"] in ("in_stock", "returned", "damaged", "blocked")
        }
        counted = data.draw(st.sets(st.sampled_from(SERIALS)))
        audit = start_audit(self.desk.station, operator=self.desk.op("audrey"), location=location)
        if counted:
            count(self.desk.station, audit, sorted(counted), operator=self.desk.op("audrey"))
        result = close_audit(self.desk.station, audit, operator=self.desk.op("audrey"))
        assert set(result.found) == expected & counted
        assert {m["serial"] for m in result.missing} == expected - counted

    # --- the inventory is what the model says -------------------------------------------------------
    @invariant()
    def inventory_matches_the_model(self):
        if not hasattr(self, "desk"):
            return
        rows = self.desk.station.ledger.db.execute(
            "SELECT serial, status, owner, custodian, location FROM tokens"
        ).fetchall()
        live = {r[0]: {"status": r[1], "owner": r[2], "custodian": r[3], "location": r[4]} for r in rows}
        assert set(live) == set(self.model)
        for serial, t in self.model.items():
            want = {k: t[k] for k in ("status", "owner", "location")}
            got = {k: live[serial][k] for k in ("status", "owner", "location")}
            assert got == want, (serial, got, want)
            if t["status"] not in ("lost", "retired", "issued", "blocked"):
                assert live[serial]["custodian"] == t["custodian"], serial


Walk.TestCase.settings = settings(
    max_examples=40, stateful_step_count=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_random_walk_through_every_transition = Walk.TestCase
