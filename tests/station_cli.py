"""Run the real `station` console script in a subprocess, signed in as a script would be.

    cli = StationCli(tmp_path / "station", tmp_path)
    cli.init()                                   # admin "admin", PIN and an HOTP token (operator_tokens)
    cli.add_operator("carol", "custodian")       # enrolled with her own test token
    cli.run("receive", "123", as_="carol")       # STATION_OPERATOR / _PIN / _OTP set for this call
    cli.run("audit", "close", A, "--second", "sam", as_="audrey", approver="sam")

Each call with `as_` spends the operator's next HOTP code (the counters live in a file, so several
processes agree). Calls without `as_` sign nobody in.
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
        self.codes = ot.Codes(scratch / "operator-codes.txt")

    def token_file(self, who: str) -> str:
        path = self.scratch / f"{who}.otpauth"
        path.write_text(ot.otpauth(who))
        return str(path)

    def env(self, *, as_: str | None = None, approver: str | None = None, passphrase: str | None = PASS,
            extra: dict | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
        if passphrase is not None:
            env["STATION_PASSPHRASE"] = passphrase
        if as_:
            env.update(STATION_OPERATOR=as_, STATION_OPERATOR_PIN=ot.pin(as_), STATION_OPERATOR_OTP=self.codes.next(as_))
        if approver:
            env.update(STATION_APPROVER_PIN=ot.pin(approver), STATION_APPROVER_OTP=self.codes.next(approver))
        env.update(extra or {})
        return env

    def run(self, *args: str, as_: str | None = None, approver: str | None = None, passphrase: str | None = PASS,
            extra: dict | None = None, data: Path | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
        env = self.env(as_=as_, approver=approver, passphrase=passphrase, extra=extra)
        return subprocess.run([str(STATION), "--data", str(data or self.data), *args], capture_output=True, text=True,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)

    def init(self, *args: str, site: str = "branch-07", admin: str = "admin") -> subprocess.CompletedProcess:
        return self.run("init", "--site", site, "--admin", admin, "--admin-token-uri", self.token_file(admin), *args,
                        extra={"STATION_ADMIN_PIN": ot.pin(admin)})

    def add_operator(self, who: str, roles: str, *, admin: str = "admin") -> subprocess.CompletedProcess:
        result = self.run("operator", "add", who, "--role", roles, "--token-uri", self.token_file(who), as_=admin,
                          extra={"STATION_NEW_PIN": ot.pin(who)})
        assert result.returncode == 0, result.stderr
        return result
