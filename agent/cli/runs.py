"""`memento runs list|show` and `memento feedback`: read the agent's run traces, and correct a run's reward.

Reading only opens MEMENTO_HOME/runs.sqlite; `feedback` also applies the reward to the case memory.
Output is rich on a terminal, plain text otherwise, one JSON object with `--json`.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from memento.agent.traces import RunStore

__all__ = ["feedback", "runs"]

STATUSES = ("running", "answered", "budget_exhausted", "failed", "interrupted")


def _store() -> RunStore:
    """The store MEMENTO_HOME names, closed when the command ends."""
    from memento.agent.traces import RunStore
    from memento.core.settings import MementoSettings

    store = RunStore.open(MementoSettings.from_env().home)
    click.get_current_context().call_on_close(store.close)
    return store


def _is_terminal() -> bool:
    return sys.stdout.isatty()


@click.group()
def runs() -> None:
    """The agent's run traces (MEMENTO_HOME/runs.sqlite): what it planned, called and answered."""


@runs.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many runs, newest first.")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only runs with this status.")
@click.option("--search", default=None, help="Only runs whose task or answer contains this text.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_(limit: int, status: str | None, search: str | None, as_json: bool) -> None:
    """The latest runs: id, status, reward, tokens, cost, duration and task."""
    found = _store().list_runs(limit=limit, status=status, search=search)
    if as_json:
        click.echo(json.dumps({"runs": [r.to_json() for r in found]}, indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("No runs yet; memento run TASK starts one.")
        return
    from . import runs_view

    columns, rows = runs_view.table_rows(found)
    if not _is_terminal():
        widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
        for line in (columns, *rows):
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        return
    runs_view.print_table(columns, rows)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the run and every step, its report and sources.")
def show(run_id: str, as_json: bool) -> None:
    """One run as a timeline: plans, subtasks, model and tool calls, then the answer, and for a user-facing run
    its report and numbered sources (RUN_ID may be a unique prefix)."""
    run = _store().get_run(run_id)
    if as_json:
        click.echo(json.dumps(run.to_json(), indent=2, ensure_ascii=False))
        return
    from . import runs_view

    lines = runs_view.timeline(run)
    if _is_terminal():
        runs_view.print_lines(lines)
    else:
        for line in lines:
            click.echo(line.plain)


class _Reward(click.ParamType):
    name = "good|bad|0..1"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        words = {"good": 1.0, "bad": 0.0}
        if str(value).lower() in words:
            return words[str(value).lower()]
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is not good, bad or a number between 0 and 1.", param, ctx)
        if not 0.0 <= number <= 1.0:
            self.fail(f"{value} is not between 0 and 1.", param, ctx)
        return number


@click.command()
@click.argument("run_id")
@click.argument("reward", type=_Reward())
def feedback(run_id: str, reward: float) -> None:
    """Set a run's reward: good (1), bad (0) or a number in 0..1; the case memory learns from it too."""
    from memento.agent.feedback import apply_feedback
    from memento.memory import CaseBank, MemorySettings

    for line in apply_feedback(_store(), lambda: CaseBank.open(MemorySettings.from_env()), run_id, reward):
        click.echo(line)
