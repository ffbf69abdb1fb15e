"""Run the real ykman CLI fast: one fresh process per command, forked from a server that has imported ykman.

The `ykman` console script is three lines: import `ykman._cli.__main__`, call `main()`, exit with its
status. Importing takes about 0.2 s of the 0.25 s a command costs; the conformance suite runs some
thousand commands. The server here does the import once, then for each command forks a child that sets
its argv, environment, stdin, stdout and stderr as the console script's process would have them and calls
the same `main()`: the CLI code that runs, its PC/SC connections and its exit status are those of
`ykman ...` on a shell. Only what ykman reads at import time is fixed when the server starts (XDG_* and
YKMAN_KEYRING_* in ykman.settings): tests set HOME per command, which ykman reads when it runs.

Protocol (server side of YkmanForkServer in pcsc_harness.py): one JSON object per line in,
{"argv": [...], "env": {...}, "input": str | null, "timeout": s}; one JSON line out,
{"rc": int, "stdout": str, "stderr": str, "timed_out": bool}.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time


def _child(argv: list[str], env: dict[str, str], paths: tuple[str, str, str]) -> None:
    """In the forked child: become `ykman ARGV` and never return."""
    code = 1
    try:
        stdin_path, out_path, err_path = paths
        os.setpgid(0, 0)  # a timeout kills the whole group, helpers included
        for fd, path, flags in ((0, stdin_path, os.O_RDONLY), (1, out_path, os.O_WRONLY),
                                (2, err_path, os.O_WRONLY)):
            opened = os.open(path, flags)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["ykman", *argv]
        from ykman._cli.__main__ import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - nothing left to report to
                pass
        os._exit(code)


def _run(request: dict, workdir: str) -> dict:
    paths = tuple(os.path.join(workdir, name) for name in ("in", "out", "err"))
    with open(paths[0], "w", encoding="utf-8") as f:
        f.write(request.get("input") or "")
    for path in paths[1:]:
        open(path, "w").close()  # noqa: SIM115
    pid = os.fork()
    if pid == 0:
        _child(request["argv"], request["env"], paths)  # type: ignore[arg-type]
    deadline = time.monotonic() + float(request.get("timeout", 60))
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            timed_out = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:  # killed before it made its own group
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.002)
    with open(paths[1], encoding="utf-8", errors="replace") as out, \
         open(paths[2], encoding="utf-8", errors="replace") as err:
        return {"rc": os.waitstatus_to_exitcode(status), "stdout": out.read(), "stderr": err.read(),
                "timed_out": timed_out}


def serve() -> None:
    import ykman._cli.__main__  # noqa: F401 - the import the children inherit

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    with tempfile.TemporaryDirectory(prefix="ykman-fork-") as workdir:
        while True:
            line = requests.readline()
            if not line:
                return
            reply = _run(json.loads(line), workdir)
            replies.write(json.dumps(reply).encode() + b"\n")
            replies.flush()


if __name__ == "__main__":
    serve()
