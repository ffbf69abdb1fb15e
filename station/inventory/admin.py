"""Sites, storage locations and operators: set up by an admin, each change a ledger event."""

from __future__ import annotations

from dataclasses import dataclass

from ..core import Station
from ..errors import InputError
from ..operators.sessions import Session
from ..operators.sessions import end_all as end_all_sessions
from .common import NotFound, clean_id, clean_reason
from .roles import Operator, Role, find_operator, parse_roles, require, roles_text

LOCATION_KINDS = ("safe", "drawer", "shift-post", "desk", "cabinet", "other")
MAX_AUDIT_DAYS = 3660


def _audit_days(value: int | None) -> int | None:
    if value is None:
        return None
    if not 1 <= value <= MAX_AUDIT_DAYS:
        raise InputError(
            f"An audit interval of {value} days is out of range.",
            f"Give 1 to {MAX_AUDIT_DAYS} days (--audit-every), e.g. 90 for quarterly.",
        )
    return value


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    region: str | None
    audit_every_days: int | None


@dataclass(frozen=True)
class Location:
    id: str
    site: str
    kind: str
    name: str
    audit_every_days: int | None


def add_site(
    station: Station,
    site: str,
    *,
    operator: Session,
    name: str | None = None,
    region: str | None = None,
    audit_every_days: int | None = None,
) -> Site:
    """Add a site (a branch), or change its name, region or audit interval if it exists."""
    site = clean_id("site id", site)
    value = Site(
        site,
        clean_id("site name", name or site, max_len=120),
        clean_id("region", region) if region else None,
        _audit_days(audit_every_days),
    )
    with station.record() as tx:
        operator_id = require(tx.db, operator, "configure", station.now()).id
        exists = tx.db.execute("SELECT 1 FROM sites WHERE id = ?", [site]).fetchone()
        body = {
            "site": site,
            "name": value.name,
            "region": value.region,
            "audit_every_days": value.audit_every_days,
        }
        tx.append("site.changed" if exists else "site.added", body, actor=operator_id, at=station.now())
    return value


def add_location(
    station: Station,
    location: str,
    *,
    site: str,
    kind: str,
    operator: Session,
    name: str | None = None,
    audit_every_days: int | None = None,
) -> Location:
    """Add a storage location (safe, drawer, shift post...) at a site, or change one."""
    location = clean_id("location id", location)
    if kind not in LOCATION_KINDS:
        raise InputError(
            f"{kind!r} is not a kind of storage location.", f"Use one of: {', '.join(LOCATION_KINDS)}."
        )
    value = Location(
        location,
        clean_id("site id", site),
        kind,
        clean_id("location name", name or location, max_len=120),
        _audit_days(audit_every_days),
    )
    with station.record() as tx:
        operator_id = require(tx.db, operator, "configure", station.now()).id
        if tx.db.execute("SELECT 1 FROM sites WHERE id = ?", [value.site]).fetchone() is None:
            raise NotFound(f"There is no site {value.site!r}.", "Add it first: station site add.")
        row = tx.db.execute("SELECT site FROM locations WHERE id = ?", [location]).fetchone()
        if row is not None and row[0] != value.site:
            raise InputError(
                f"Location {location} already exists at site {row[0]}.",
                "Location ids are unique across sites; choose another id.",
            )
        body = {
            "location": location,
            "site": value.site,
            "kind": kind,
            "name": value.name,
            "audit_every_days": value.audit_every_days,
        }
        tx.append("location.changed" if row else "location.added", body, actor=operator_id, at=station.now())
    return value


def enrol_operator(
    station: Station, operator_id: str, roles: str | list[str], *, operator: Session, name: str | None = None
) -> Operator:
    """Enrol an operator with roles, or change an enrolled one's roles (reactivating them)."""
    operator_id = clean_id("operator id", operator_id, max_len=64)
    if "," in operator_id:
        raise InputError("An operator id may not contain ','.", "Use letters, digits, '.', '-' or '_'.")
    wanted = parse_roles(roles)
    if not wanted:
        raise InputError(
            "An operator needs at least one role.",
            f"Give --role with one or more of: {', '.join(r.value for r in Role)}.",
        )
    display = clean_id("operator name", name or operator_id, max_len=120)
    with station.record() as tx:
        admin = require(tx.db, operator, "enrol", station.now()).id
        existing = find_operator(tx.db, operator_id)
        if existing and operator_id == admin and Role.ADMIN not in wanted:
            raise InputError(
                "You cannot take the admin role from yourself.", "Another admin can change your roles."
            )
        if (
            existing
            and tx.db.execute("SELECT break_glass FROM operators WHERE id = ?", [operator_id]).fetchone()[0]
        ):
            raise InputError("The break-glass admin's roles are fixed.", "Enrol a named operator instead.")
        body = {"operator": operator_id, "name": display, "roles": sorted(r.value for r in wanted)}
        tx.append(
            "operator.changed" if existing else "operator.enrolled", body, actor=admin, at=station.now()
        )
    return Operator(operator_id, display, wanted, "active")


def deactivate_operator(station: Station, operator_id: str, *, operator: Session, reason: str) -> None:
    """Take an operator's right to act away (their past events stay theirs)."""
    operator_id = clean_id("operator id", operator_id)
    reason = clean_reason(reason)
    with station.record() as tx:
        admin = require(tx.db, operator, "enrol", station.now()).id
        if operator_id == admin:
            raise InputError("You cannot deactivate yourself.", "Ask another admin.")
        if find_operator(tx.db, operator_id) is None:
            raise NotFound(
                f"{operator_id} is not an enrolled operator.", "Check the id: station operator list."
            )
        active_admins = tx.db.execute(
            "SELECT count(*) FROM operators WHERE status = 'active' AND ',' || roles || ',' LIKE '%,admin,%'"
            " AND id != ?",
            [operator_id],
        ).fetchone()[0]
        if active_admins == 0:
            raise InputError(
                "That would leave the station without an active admin.", "Enrol another admin first."
            )
        tx.append(
            "operator.deactivated",
            {"operator": operator_id, "reason": reason},
            actor=admin,
            at=station.now(),
        )
        end_all_sessions(tx.db, operator_id, station.now(), "deactivated")


def list_operators(station: Station) -> list[dict]:
    return list(
        station.ledger.db.query(
            "SELECT id, name, roles, status, enrolled_by, enrolled_at FROM operators ORDER BY id"
        )
    )


def list_sites(station: Station) -> list[dict]:
    return list(
        station.ledger.db.query(
            "SELECT id, name, region, audit_every_days, audited_at FROM sites ORDER BY id"
        )
    )


def list_locations(station: Station, site: str | None = None) -> list[dict]:
    sql = "SELECT id, site, kind, name, audit_every_days, audited_at FROM locations"
    params: list[str] = []
    if site:
        sql += " WHERE site = ?"
        params.append(site)
    return list(station.ledger.db.query(sql + " ORDER BY site, id", params))


__all__ = [
    "LOCATION_KINDS",
    "Location",
    "Site",
    "add_location",
    "add_site",
    "deactivate_operator",
    "enrol_operator",
    "list_locations",
    "list_operators",
    "list_sites",
    "roles_text",
]
