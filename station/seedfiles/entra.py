"""Microsoft Entra ID hardware OATH tokens: the CSV upload and the Graph `hardwareOathDevices` body.

Published rules (Microsoft Learn):
- "Upload hardware OATH tokens in CSV format" (entra/identity/authentication/how-to-mfa-upload-oath-
  tokens): header `upn,serial number,secret key,time interval,manufacturer,model` (the header row is
  required); "Secret keys are limited to 128 characters ... can only contain the characters a-z or
  A-Z and digits 2-7, and must be encoded in Base32".
- "Authentication methods in Microsoft Entra ID - OATH tokens" (concept-authentication-oath-tokens):
  "Microsoft Entra ID doesn't support OATH HOTP"; hardware tokens are "OATH-TOTP SHA-1 tokens that
  refresh codes every 30 or 60 seconds". The CSV has no hash column, so it carries SHA-1 only.
- Graph beta "Create one or multiple hardwareOathTokenAuthenticationMethodDevice"
  (PATCH /directory/authenticationMethodDevices/hardwareOathDevices): body {"@context": "#$delta",
  "value": [...]} with serialNumber, manufacturer, model, secretKey (all required),
  timeIntervalInSeconds (Int32), hashFunction (hardwareOathTokenHashFunction: hmacsha1 or hmacsha256)
  and optionally assignTo {"id": user}. The published example writes the interval as a string; the
  property table types it Int32, which is what is written here.
Codes are six digits in Entra's sign-in; other lengths are refused.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence

from .encoding import base32_decode, base32_encode
from .errors import ExportRefused, SeedFileError
from .model import HashAlgorithm, ImportMode, ImportResult, OtpKind, Reject, TokenSeed
from .policy import finish

CSV_HEADER = ["upn", "serial number", "secret key", "time interval", "manufacturer", "model"]
MAX_SECRET_CHARS = 128
_BASE32 = re.compile(r"^[A-Za-z2-7]+$")
_HASH = {HashAlgorithm.SHA1: "hmacsha1", HashAlgorithm.SHA256: "hmacsha256"}


def refusal(seed: TokenSeed, *, graph: bool = False) -> str:
    """Why Entra cannot take this token ("" when it can)."""
    if seed.kind is not OtpKind.TOTP:
        return f"Entra ID takes TOTP hardware tokens only, this is {seed.kind.value.upper()}"
    if seed.period not in (30, 60):
        return f"Entra ID takes a 30 or 60 second time step, this token uses {seed.period} s"
    if seed.digits != 6:
        return f"Entra ID checks 6-digit codes, this token shows {seed.digits}"
    allowed = _HASH if graph else {HashAlgorithm.SHA1: "hmacsha1"}
    if seed.algorithm not in allowed:
        where = "the Graph API takes HMAC-SHA1 or HMAC-SHA256" if graph else "the CSV upload is SHA-1 only"
        return f"{where}, this token uses {seed.algorithm.value}"
    if seed.t0:
        return "Entra ID counts time steps from the Unix epoch; this token starts at another time"
    if len(base32_encode(seed.secret)) > MAX_SECRET_CHARS:
        return f"the base32 secret is longer than Entra's {MAX_SECRET_CHARS} characters"
    if not seed.manufacturer or not seed.model:
        return "Entra requires the token's manufacturer and model"
    if not graph and not seed.owner:
        return "the Entra CSV upload assigns each token to a user; this token has no owner (UPN)"
    return ""


def _check(seeds: Sequence[TokenSeed], fmt: str, graph: bool) -> None:
    refusals = tuple((s.serial, r) for s in seeds if (r := refusal(s, graph=graph)))
    if refusals:
        raise ExportRefused(fmt, refusals)


def write_entra_csv(seeds: Sequence[TokenSeed]) -> bytes:
    _check(seeds, "Entra ID OATH CSV", graph=False)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for s in seeds:
        writer.writerow([s.owner, s.serial, base32_encode(s.secret), str(s.period), s.manufacturer, s.model])
    return out.getvalue().encode("utf-8")


def graph_hardware_oath_body(seeds: Sequence[TokenSeed]) -> bytes:
    """The JSON body that creates (and, for tokens with an owner, assigns) every token in one request."""
    _check(seeds, "Entra ID Graph hardwareOathDevices", graph=True)
    value = []
    for number, s in enumerate(seeds, start=1):
        device = {
            "@contentId": str(number),
            "serialNumber": s.serial,
            "manufacturer": s.manufacturer,
            "model": s.model,
            "secretKey": base32_encode(s.secret),
            "timeIntervalInSeconds": s.period,
            "hashFunction": _HASH[s.algorithm],
        }
        if s.owner:
            device["assignTo"] = {"id": s.owner}
        value.append(device)
    return (json.dumps({"@context": "#$delta", "value": value}, indent=2) + "\n").encode("utf-8")


def entra_csv_problems(data: bytes) -> list[str]:
    """Check a CSV against the Entra upload rules above; the empty list means it passes."""
    problems = []
    lines = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    if not lines or [h.strip().lower() for h in lines[0]] != CSV_HEADER:
        return ["the first line is not the header " + ",".join(CSV_HEADER)]
    for number, row in enumerate(lines[1:], start=2):
        if len(row) != len(CSV_HEADER):
            problems.append(f"line {number}: {len(row)} columns, not {len(CSV_HEADER)}")
            continue
        upn, serial, secret, interval, manufacturer, model = row
        if not _BASE32.match(secret):
            problems.append(f"line {number}: the secret key is not Base32 (a-z, A-Z, 2-7)")
        if len(secret) > MAX_SECRET_CHARS:
            problems.append(f"line {number}: the secret key is over {MAX_SECRET_CHARS} characters")
        if interval not in ("30", "60"):
            problems.append(f"line {number}: the time interval is not 30 or 60")
        if not (upn and serial and manufacturer and model):
            problems.append(f"line {number}: an empty upn, serial number, manufacturer or model")
    return problems


def parse_graph_hardware_oath_body(
    data: bytes, *, mode: ImportMode = ImportMode.ALL_OR_NOTHING
) -> ImportResult:
    """Read a hardwareOathDevices request body back (what `graph_hardware_oath_body` writes).

    The owner is `assignTo.id` (a UPN or an object id); SHA-1 or SHA-256 from `hashFunction`, six digits.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
        devices = doc["value"]
        if not isinstance(devices, list):
            raise TypeError("value is not a list")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise SeedFileError(f"The file is not a Graph hardwareOathDevices body ({exc}).",
                            "Give the JSON written for PATCH .../hardwareOathDevices.") from None
    found, rejects = [], []
    by_name = {v: k for k, v in _HASH.items()}
    for number, device in enumerate(devices, start=1):
        serial = str(device.get("serialNumber", "")) if isinstance(device, dict) else ""
        try:
            secret = base32_decode(str(device["secretKey"]))
            if secret is None:
                raise ValueError("the secret key is not base32")
            interval = int(device.get("timeIntervalInSeconds", 30))
            algorithm = by_name[device.get("hashFunction", "hmacsha1")]
            assigned = device.get("assignTo")
            owner = assigned.get("id", "") if isinstance(assigned, dict) else ""
            seed = TokenSeed(serial=serial, kind=OtpKind.TOTP, secret=secret, period=interval,
                             algorithm=algorithm, manufacturer=str(device.get("manufacturer", "")),
                             model=str(device.get("model", "")), owner=str(owner))
            found.append((number, seed))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            rejects.append(Reject(number, "device", serial, f"not a usable hardware OATH device ({exc})"))
    return finish("Entra Graph hardwareOathDevices", found, rejects, mode, "device")
