"""A large station for the inventory benchmarks: 100,000 tokens and 1,000,000 ledger events.

Stock, directory, custody moves, losses, audits and the rest go through the station's own functions;
what needs a key at the desk (programming a YubiKey, checking a first code) and the bulk of code
checks are appended as the events those flows record after the device work, in batches, so that
building the ledger takes minutes rather than hours. Every event passes through the real ledger
(signed, chained) and the real projection handlers. Operators sign in as at the desk, with test-only
HOTP tokens (tests/operator_tokens.py). Deterministic (seeded), so runs compare.
"""

from __future__ import annotations

import random
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import operator_tokens as ot  # noqa: E402
from desk_fixtures import PASS, Desk, MovableClock  # noqa: E402

from station.core import Station, init_station, open_station  # noqa: E402
from station.inventory import lifecycle as lc  # noqa: E402
from station.inventory.admin import add_location, add_site, enrol_operator  # noqa: E402
from station.inventory.audits import close_audit, count, start_audit  # noqa: E402
from station.inventory.custody import transfer  # noqa: E402
from station.inventory.directory import apply_directory, plan_directory  # noqa: E402
from station.inventory.intake import receive_serials  # noqa: E402
from station.inventory.seed_intake import receive_seed_file  # noqa: E402
from station.inventory.spares import set_spare_level  # noqa: E402
from station.operators.credentials import set_credentials  # noqa: E402

SITES = 50
EMPLOYEES = 80_000
TOKENS = 100_000
CLASSIC = 10_000
EVENTS = 1_000_000
BIG = "central-store"  # one large store, for the big audit
T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
CUSTODIANS = [f"cust{i:02d}" for i in range(40)]
BUILT = "COMPLETE-6"  # the layout of issue 6 (operators sign in); an older cache is built again
DESK: list[Desk] = []


def op(who: str) -> object:
    return DESK[-1].op(who)


class Seed:
    def __init__(self, serial: str, rng: random.Random) -> None:
        self.serial, self.secret = serial, rng.randbytes(20)
        self.oath_type, self.algorithm, self.digits, self.period, self.counter = "TOTP", "SHA1", 6, 30, None


def _quiet(station: Station) -> None:
    # Generation only: the benchmark measures reads, so commits need not reach the disk platter.
    station.ledger.db.conn.execute("PRAGMA synchronous=OFF")


def _people_and_places(st: Station, rng: random.Random) -> list[tuple[str, str]]:
    for i in range(SITES):
        add_site(st, f"site-{i:02d}", operator=op("root"), region=f"region-{i % 6}", audit_every_days=180)
    places = []
    for i in range(SITES):
        for kind in ("safe", "drawer", "shift-post"):
            loc = f"s{i:02d}-{kind}"
            add_location(st, loc, site=f"site-{i:02d}", kind=kind, operator=op("root"), audit_every_days=90)
            places.append((f"site-{i:02d}", loc))
    add_location(st, BIG, site="site-00", kind="cabinet", operator=op("root"), audit_every_days=30)
    for who, roles in [*((c, "custodian") for c in CUSTODIANS), ("sup", "supervisor"), ("aud", "auditor"),
                       ("hr", "supervisor")]:
        enrol_operator(st, who, roles, operator=op("root"))
        set_credentials(st, who, pin=ot.pin(who), token=ot.token(who), operator=op("root"), cost=ot.CHEAP)
    rows = ["id,name,department,site,group,contractor,access_end"]
    for i in range(EMPLOYEES):
        contractor = rng.random() < 0.06
        end = (T0 + timedelta(days=rng.randint(30, 900))).date().isoformat() if contractor else ""
        rows.append(
            f"e{i:06d},Employee {i},dept-{rng.randrange(60):02d},site-{rng.randrange(SITES):02d},"
            f"staff,{'yes' if contractor else 'no'},{end}"
        )
    plan = plan_directory(st, ("\n".join(rows) + "\n").encode(), "hr-export.csv")
    apply_directory(st, plan, operator=op("hr"))
    for site in range(SITES):
        set_spare_level(st, site=f"site-{site:02d}", minimum=rng.randint(20, 80), operator=op("sup"))
    return places


def _issue(tx: object, st: Station, serial: int | str, owner: str, custodian: str, kind: str) -> None:
    fp = f"{random.getrandbits(128):032x}"
    at = st.now()
    if kind == "oath":
        tx.append(
            "token.issued",
            {
                "serial": str(serial),
                "kind": "oath",
                "owner": owner,
                "custodian": custodian,
                "credential_id": str(serial),
                "oath_type": "TOTP",
                "algorithm": "SHA1",
                "digits": 6,
                "period": 30,
                "first_step": int(at.timestamp()) // 30,
                "seed_fingerprint": fp,
                "vault_record": f"seed/{serial}",
                "profile": "classic-oath",
                "site": None,
                "access_end": None,
            },
            actor=custodian,
            at=at,
        )
        return
    body = {
        "intent_id": f"{random.getrandbits(64):016x}",
        "serial": serial,
        "kind": "yubikey",
        "model": "YubiKey 5 NFC",
        "firmware": "5.7.1",
        "credential_id": f"Token Station:{owner}",
        "owner": owner,
        "custodian": custodian,
        "issuer": "Token Station",
        "algorithm": "SHA1",
        "digits": 6,
        "period": 30,
        "touch": False,
        "profile": "yubikey-oath-totp",
        "site": None,
        "access_end": None,
        "seed_fingerprint": fp,
        "vault_record": f"totp/{serial}/x",
        "wiped_revoked": False,
    }
    tx.append("token.issue.started", body, actor=custodian, at=at)
    tx.append("token.issued", body, actor=custodian, at=at)


def build(path: Path) -> Path:
    """Create the station at path (if it is not there complete already); returns its data directory."""
    done = path / BUILT
    if done.exists():
        return path / "station"
    shutil.rmtree(path / "station", ignore_errors=True)  # an unfinished or older build
    rng = random.Random(20261203)
    random.seed(20261203)
    clock = MovableClock(T0)
    st = init_station(path / "station", "site-00", PASS, admin="root", admin_pin=ot.pin("root"),
                      admin_token=ot.token("root"), clock=clock, pin_cost=ot.CHEAP)
    DESK.append(Desk(st, st.bus, clock))
    _quiet(st)
    places = _people_and_places(st, rng)
    print("directory and places done", st.ledger.size(), flush=True)
    serial = 80_000_000
    big = 20_000
    for start in range(0, TOKENS - CLASSIC, 2000):
        site, loc = ("site-00", BIG) if start < big else rng.choice(places)
        batch = range(serial + start, serial + start + 2000)
        receive_serials(st, batch, operator=op(rng.choice(CUSTODIANS)), model="YubiKey 5 NFC", location=loc)
    seeds = [Seed(f"FT{i:06d}", rng) for i in range(CLASSIC)]
    for start in range(0, CLASSIC, 1000):
        receive_seed_file(
            st,
            seeds[start : start + 1000],
            operator=op(rng.choice(CUSTODIANS)),
            source="feitian.pskc",
            sha256="0" * 64,
            vendor="Feitian",
            location=rng.choice(places)[1],
        )
    print("stock done", st.ledger.size(), flush=True)
    yubis = list(range(serial + big, serial + TOKENS - CLASSIC))
    rng.shuffle(yubis)
    employees = [f"e{i:06d}" for i in range(EMPLOYEES)]
    rng.shuffle(employees)
    holders = employees[:60_000]
    issued: dict[str, int | str] = {}
    with st.record() as tx:
        for i, owner in enumerate(holders):
            kind = "oath" if i < 5000 else "yubikey"
            token = seeds[i].serial if kind == "oath" else yubis.pop()
            _issue(tx, st, token, owner, rng.choice(CUSTODIANS), kind)
            issued[owner] = token
            if i % 200 == 0:
                clock.advance(hours=1)
    print("issued", st.ledger.size(), flush=True)
    owners = list(issued)
    for owner in rng.sample(owners, 3000):  # losses, most replaced between 5 minutes and 2 days later
        lc.report_lost(
            st,
            issued[owner],
            operator=op(rng.choice(CUSTODIANS)),
            reason=rng.choice(("left on a train", "stolen bag", "not found at home")),
        )
        clock.advance(minutes=rng.randint(5, 3000))
        if rng.random() < 0.9:
            with st.record() as tx:
                _issue(tx, st, yubis.pop(), owner, rng.choice(CUSTODIANS), "yubikey")
    for owner in rng.sample(owners, 4000):
        t = issued[owner]
        try:
            lc.return_token(st, t, operator=op(rng.choice(CUSTODIANS)), location=rng.choice(places)[1])
        except Exception:  # noqa: BLE001 - lost above: not returnable, as at a real desk
            continue
    for t in rng.sample(yubis, 1500):
        lc.report_damaged(st, t, operator=op("sup"), reason="cracked", location=None)
    for t in rng.sample(yubis, 600):
        try:
            lc.block(st, t, operator=op("sup"), reason="in doubt")
        except Exception:  # noqa: BLE001 - damaged above
            continue
    print("lifecycle done", st.ledger.size(), flush=True)
    for _ in range(1000):
        site, loc = rng.choice(places)
        rows = st.ledger.db.execute(
            "SELECT serial, custodian FROM tokens WHERE location = ? AND status = 'in_stock' LIMIT 5", [loc]
        ).fetchall()
        if rows:
            transfer(
                st,
                [r[0] for r in rows],
                operator=op("sup"),
                to_custodian=DESK[-1].approval(rng.choice(CUSTODIANS)),
                location=rng.choice(places)[1],
                reason="rebalance",
            )
    for _site, loc in places[::3]:
        audit = start_audit(st, operator=op("aud"), location=loc)
        present = [
            r[0]
            for r in st.ledger.db.execute(
                "SELECT serial FROM tokens WHERE location = ? AND status = 'in_stock'", [loc]
            )
        ]
        if present:
            count(st, audit, present[: max(1, len(present) - 2)] + ["UNKNOWN-1"], operator=op("aud"))
        close_audit(st, audit, operator=op("aud"))
    print("audits done", st.ledger.size(), flush=True)
    creds = [r[0] for r in st.ledger.db.execute("SELECT id FROM credentials WHERE status = 'active'")]
    step = int(clock().timestamp()) // 30
    total = st.ledger.size()
    while total < EVENTS:
        with st.record() as tx:
            for _ in range(min(5000, EVENTS - total)):
                serial_text, cred_id = rng.choice(creds).split("/", 1)
                step += 1
                clock.advance(seconds=30)
                tx.append(
                    "otp.accepted",
                    {
                        "owner": "x",
                        "serial": int(serial_text) if serial_text.isdigit() else serial_text,
                        "credential_id": cred_id,
                        "step": step,
                        "drift": 0,
                    },
                    actor="desk",
                    at=clock(),
                )
                total += 1
    print("events", st.ledger.size(), flush=True)
    st.ledger.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    st.close()
    done.write_text("ok\n")
    return path / "station"


def open_copy(path: Path, scratch: Path) -> Station:
    """A copy of the built station in scratch (the benchmark's own writes leave the cache as built)."""
    shutil.copytree(build(path), scratch / "station")
    return open_station(scratch / "station", PASS, clock=MovableClock(T0 + timedelta(days=800)))


def sign_in(station: Station, who: str) -> object:
    """A benchmark operator signs in on a copy of the built station (its next HOTP code)."""
    from station.operators.signin import sign_in as station_sign_in

    row = station.ledger.db.execute(
        "SELECT last_step FROM operator_tokens WHERE operator = ?", [who]
    ).fetchone()
    return station_sign_in(station, who, ot.pin(who), ot.code_at(who, row[0] + 1))
