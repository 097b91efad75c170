"""Showing a run as it happens: the plan, the current subtask, tool calls, tokens and cost.

`Progress` is the silent base (pipes, tests, the research server's own
notifications); `TerminalProgress` draws on stderr with rich, so stdout keeps
nothing but the result.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .llm import Usage

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

__all__ = ["Progress", "TerminalProgress"]


class Progress:
    """Receives a run's events; every method does nothing here."""

    def started(self, run_id: str, task: str) -> None: ...
    def cases(self, shown: list[dict[str, Any]]) -> None: ...
    def plan(self, cycle: int, subtasks: list[str]) -> None: ...
    def subtask_started(self, index: int, total: int, subtask: str) -> None: ...
    def subtask_finished(self, index: int, status: str, text: str) -> None: ...
    def tool_started(self, name: str, arguments: dict[str, Any]) -> None: ...
    def tool_finished(self, name: str, is_error: bool, seconds: float) -> None: ...
    def usage(self, usage: Usage) -> None: ...
    def note(self, text: str) -> None: ...
    def finished(self, status: str, answer: str) -> None: ...


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TerminalProgress(Progress):
    """Lines for what happened, and a spinner line for what is happening with the running totals."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True, highlight=False)
        self._status: Status | None = None
        self._doing = "starting"
        self._usage = Usage()

    def _refresh(self) -> None:
        line = f"{self._doing}  [dim]{self._usage.total_tokens:,} tokens · ${self._usage.cost_usd:.4f}[/dim]"
        if self._status is None:
            self._status = self.console.status(line)
            self._status.start()
        else:
            self._status.update(line)

    def started(self, run_id: str, task: str) -> None:
        self.console.print(f"[bold]{run_id}[/bold]  {_short(task, 120)}")
        self._doing = "reading the case memory"
        self._refresh()

    def cases(self, shown: list[dict[str, Any]]) -> None:
        if not shown:
            self.console.print("[dim]memory: no similar past task[/dim]")
        for case in shown:
            mark = "[green]+[/green]" if case.get("outcome") == "positive" else "[red]-[/red]"
            self.console.print(f"memory {mark} {case.get('score', 0):.2f}  {_short(str(case.get('task', '')), 90)}")
        self._doing = "planning"
        self._refresh()

    def plan(self, cycle: int, subtasks: list[str]) -> None:
        self.console.print(f"[bold]plan {cycle}[/bold]")
        for number, subtask in enumerate(subtasks, start=1):
            self.console.print(f"  {number}. {_short(subtask, 110)}")

    def subtask_started(self, index: int, total: int, subtask: str) -> None:
        self._doing = f"subtask {index}/{total}: {_short(subtask, 60)}"
        self._refresh()

    def subtask_finished(self, index: int, status: str, text: str) -> None:
        colour = "green" if status == "done" else "yellow"
        self.console.print(f"  [{colour}]✓ {index}[/{colour}] {_short(text, 110)}")
        self._doing = "planning"
        self._refresh()

    def tool_started(self, name: str, arguments: dict[str, Any]) -> None:
        shown = _short(json.dumps(arguments, ensure_ascii=False), 80)
        self.console.print(f"    [cyan]→ {name}[/cyan] [dim]{shown}[/dim]")

    def tool_finished(self, name: str, is_error: bool, seconds: float) -> None:
        if is_error:
            self.console.print(f"    [red]✗ {name} failed[/red] [dim]({seconds:.1f} s)[/dim]")

    def usage(self, usage: Usage) -> None:
        self._usage = usage
        self._refresh()

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/yellow]")

    def finished(self, status: str, answer: str) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        self.console.print(f"[bold]{status}[/bold]  {self._usage.total_tokens:,} tokens · ${self._usage.cost_usd:.4f}")
