"""The desk thread: the one thread in which the kiosk talks to the station and to keys.

Why one thread, not a fresh thread per job:
- the Station's SQLite connection may only be used by the thread that opened it (Python's sqlite3
  default), so opening, issuing, verifying and closing must all happen on the same thread;
- two jobs talking to the same key at once (a list refresh probing it while an issue programs it)
  would collide on the card, so device work is queued, never concurrent.

Screens call `await desk.run(fn, ...)` from a Textual worker: the UI thread never blocks.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class DeskThread:
    """A single worker thread; jobs run one after another, in the order they were asked for."""

    def __init__(self) -> None:
        # max_workers=1: CPython keeps that single thread alive until shutdown, so every job
        # (and the SQLite connection opened by the first) lives on the same thread.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-desk")
        self._closed = False

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run fn on the desk thread and wait for it without blocking the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        """Let the running job finish (a key half-programmed is worse than a slow exit), drop the rest."""
        if not self._closed:
            self._closed = True
            self._executor.shutdown(wait=True, cancel_futures=True)
