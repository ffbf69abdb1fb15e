"""Run the real `station` console script in a subprocess, signed in as a script would be.

    cli = StationCli(tmp_path / "station", tmp_path)
    cli.init()                                   # admin "admin", PIN and an HOTP token (operator_tokens)
    cli.add_operator("carol", "custodian")       # enrolled with her own test token
    cli.run("receive", "123", as_="carol")       # STATION_OPERATOR / _PIN / _OTP set for this call
    cli.run("audit", "close", A, "--second", "sam", as_="audrey", approver="sam")

Each call with `as_` gives the operator's next HOTP code: the one after the last the station accepted
(read from its operator_tokens table), as the holder's token would show after its last use. Calls
without `as_` sign nobody in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import operator_tokens as ot

PASS = "correct horse battery"
STATION = Path(sys.executable).parent / "station"


class StationCli:
    def __init__(self, data: Path, scratch: Path, passphrase: str = PASS) -> None:
        self.data = data
        self.scratch = scratch
        self.passphrase = passphrase

    def token_file(self, who: str) -> str:
        path = self.scratch / f"{who}.otpauth"
        path.write_text(ot.otpauth(who))
        return str(path)

    def env(
        self,
        *,
        as_: str | None = None,
        approver: str | None = None,
        passphrase: str | None = PASS,
        extra: dict | None = None,
        data: Path | None = None,
    ) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
        if passphrase is not None:
            env["STATION_PASSPHRASE"] = passphrase
        if as_:
            env.update(
                STATION_OPERATOR=as_,
                STATION_OPERATOR_PIN=ot.pin(as_),
                STATION_OPERATOR_OTP=self.code(as_, 0, data),
            )
        if approver:
            # The approver signs in after the operator: one counter further when it is the same person.
            ahead = 1 if approver == as_ else 0
            env.update(
                STATION_APPROVER_PIN=ot.pin(approver), STATION_APPROVER_OTP=self.code(approver, ahead, data)
            )
        env.update(extra or {})
        return env

    def code(self, who: str, ahead: int = 0, data: Path | None = None) -> str:
        """The operator's next HOTP code at this station."""
        import sqlite3

        last = -1
        path = (data or self.data) / "station.db"
        if path.exists():
            with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
                row = db.execute("SELECT last_step FROM operator_tokens WHERE operator = ?", [who]).fetchone()
            last = row[0] if row else -1
        return ot.code_at(who, last + 1 + ahead)

    def run(
        self,
        *args: str,
        as_: str | None = None,
        approver: str | None = None,
        passphrase: str | None = PASS,
        extra: dict | None = None,
        data: Path | None = None,
        timeout: int = 120,
    ) -> subprocess.CompletedProcess:
        env = self.env(as_=as_, approver=approver, passphrase=passphrase, extra=extra, data=data)
        return subprocess.run(
            [str(STATION), "--data", str(data or self.data), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def init(self, *args: str, site: str = "branch-07", admin: str = "admin") -> subprocess.CompletedProcess:
        return self.run(
            "init",
            "--site",
            site,
            "--admin",
            admin,
            "--admin-token-uri",
            self.token_file(admin),
            *args,
            extra={"STATION_ADMIN_PIN": ot.pin(admin)},
        )

    def add_operator(self, who: str, roles: str, *, admin: str = "admin") -> subprocess.CompletedProcess:
        result = self.run(
            "operator",
            "add",
            who,
            "--role",
            roles,
            "--token-uri",
            self.token_file(who),
            as_=admin,
            extra={"STATION_NEW_PIN": ot.pin(who)},
        )
        assert result.returncode == 0, result.stderr
        return result


def ledger_rows(data: Path) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(data / "station.db") as db:
        return db.execute("SELECT seq, entry FROM ledger_entries ORDER BY seq").fetchall()


def action_rows(data: Path) -> list[tuple]:
    """The ledger without sign-ins: what a refused action must leave as it was (signing in is recorded)."""
    return [r for r in ledger_rows(data) if b'"type":"operator.signed_in"' not in r[1]]
