"""Showing a run as it happens, from its events: the plan, the current subtask, tool calls, tokens and cost.

`Progress` is the silent listener (pipes, tests); `TerminalProgress` draws on
stderr with rich, so stdout keeps nothing but the result. Neither makes an
event nor writes the trace: they only show.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .events import (
    CasesShown,
    Event,
    ModelCalled,
    ModelStreaming,
    Note,
    PlanMade,
    Reported,
    RunFinished,
    RunStarted,
    SubtaskDone,
    SubtaskStarted,
    ToolCalled,
    ToolStarted,
)
from .llm import Usage

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

__all__ = ["Progress", "TerminalProgress"]


class Progress:
    """A listener that shows nothing: what a run without a terminal gets."""

    def handle(self, event: Event) -> None:
        """Ignore `event`."""


_MARKS = {"positive": "[green]+[/green]", "negative": "[red]-[/red]"}


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
        self._streaming = ""  # "the planner is writing: 120 tokens" while a reply arrives

    def _refresh(self) -> None:
        line = f"{self._doing}  [dim]{self._usage.total_tokens:,} tokens · ${self._usage.cost_usd:.4f}{self._streaming}[/dim]"
        if self._status is None:
            self._status = self.console.status(line)
            self._status.start()
        else:
            self._status.update(line)

    def handle(self, event: Event) -> None:
        match event:
            case RunStarted():
                self._usage = Usage()
                self.console.print(f"[bold]{event.run_id}[/bold]  {_short(event.task, 120)}")
                self._doing = "reading the case memory"
            case CasesShown():
                self._cases(event)
                self._doing = "planning"
            case PlanMade():
                self.console.print(f"[bold]plan {event.cycle}[/bold]")
                for number, subtask in enumerate(event.subtasks, start=1):
                    self.console.print(f"  {number}. {_short(subtask, 110)}")
                return
            case SubtaskStarted():
                self._doing = f"subtask {event.index}/{event.total}: {_short(event.subtask, 60)}"
            case SubtaskDone():
                colour = "green" if event.status == "done" else "yellow"
                self.console.print(f"  [{colour}]✓ {event.index}[/{colour}] {_short(event.result, 110)}")
                self._doing = "planning"
            case ToolStarted():
                shown = _short(json.dumps(dict(event.arguments), ensure_ascii=False, default=str), 80)
                self.console.print(f"    [cyan]→ {event.name}[/cyan] [dim]{shown}[/dim]")
                return
            case ToolCalled(is_error=True):
                self.console.print(f"    [red]✗ {event.name} failed[/red] [dim]({event.seconds:.1f} s)[/dim]")
                return
            case ModelStreaming():
                self._streaming = f" · {event.role} writing: {event.pieces:,} tokens"
            case ModelCalled():
                self._usage = event.run_usage
                self._streaming = ""
            case Note():
                self.console.print(f"[yellow]{event.text}[/yellow]")
                return
            case Reported():
                self._pause()  # `memento run` prints the answer now: the spinner must not draw over it
                self._doing = "remembering"
                return
            case RunFinished():
                self._finished(event)
                return
            case _:
                return
        self._refresh()

    def _cases(self, event: CasesShown) -> None:
        if not event.cases:
            self.console.print("[dim]memory: no similar past task[/dim]")
        for case in event.cases:
            mark = _MARKS.get(str(case.get("outcome")), "[yellow]?[/yellow]")  # ?: nobody rated that run
            self.console.print(f"memory {mark} {case.get('score', 0):.2f}  {_short(str(case.get('task', '')), 90)}")

    def _pause(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _finished(self, event: RunFinished) -> None:
        self._pause()
        self.console.print(f"[bold]{event.status}[/bold]  {event.usage.total_tokens:,} tokens · ${event.usage.cost_usd:.4f}")
