"""The panel under a form that says what happened: working, done, or what went wrong and what to do.

It keeps its text as plain lines too (`plain`, `outcome`), so tests and screen readers need not
parse styled output.
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import LoadingIndicator, Static

from station.errors import StationError

Outcome = Literal["idle", "busy", "success", "error"]


class ResultPanel(Vertical):
    """Idle hint, a spinner with a sentence while working, then a success or an error block."""

    def __init__(self, idle_text: str, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, classes="result-panel")
        self._idle_text = idle_text
        self.outcome: Outcome = "idle"
        self.plain = idle_text

    def compose(self) -> ComposeResult:
        yield Static(self._idle_text, classes="result-title")
        yield LoadingIndicator()
        yield Static("", classes="result-body")

    def _show(self, outcome: Outcome, title: str, rows: list[tuple[str, str]], *, plain: str) -> None:
        self.outcome = outcome
        self.plain = plain
        for name in ("idle", "busy", "success", "error"):
            self.set_class(name == outcome, f"-{name}")
        # A mark a tired eye catches before reading; `plain` keeps the words only.
        mark = {"success": "✔ ", "error": "✘ "}.get(outcome, "")
        self.query_one(".result-title", Static).update(Text(mark + title))
        body = Text()
        for i, (label, value) in enumerate(rows):
            if i:
                body.append("\n")
            if label:
                body.append(f"{label:<14}", style="bold")
            body.append(value)
        self.query_one(".result-body", Static).update(body)

    def idle(self) -> None:
        self._show("idle", self._idle_text, [], plain=self._idle_text)

    def busy(self, sentence: str) -> None:
        """Spinner plus what is happening and what not to do meanwhile."""
        self._show("busy", sentence, [], plain=sentence)

    def success(self, title: str, rows: list[tuple[str, str]]) -> None:
        plain = "\n".join([title, *(f"{label} {value}".strip() for label, value in rows)])
        self._show("success", title, rows, plain=plain)

    def failure(self, title: str, message: str, hint: str) -> None:
        rows = [("", message)]
        if hint:
            rows.append(("What to do:", hint))
        plain = "\n".join([title, message, *([f"What to do: {hint}"] if hint else [])])
        self._show("error", title, rows, plain=plain)

    def error(self, title: str, exc: StationError) -> None:
        self.failure(title, exc.message, exc.hint)
