"""`memento runs list|show` and `memento feedback`: read the agent's run traces, and correct a run's reward.

Reading only opens MEMENTO_HOME/runs.sqlite; `feedback` also applies the reward to the case memory.
Output is rich on a terminal, plain text otherwise, one JSON object with `--json`.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Literal

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from memento.core.settings import MementoSettings

from .traces import RunRecord, RunStore, Step

__all__ = ["feedback", "runs"]

STATUSES = ("running", "answered", "budget_exhausted", "failed", "interrupted")
STATUS_STYLES = {"answered": "green", "running": "cyan", "budget_exhausted": "yellow", "failed": "red", "interrupted": "magenta"}


def _store() -> RunStore:
    """The store MEMENTO_HOME names, closed when the command ends."""
    store = RunStore.open(MementoSettings.from_env().home)
    click.get_current_context().call_on_close(store.close)
    return store


def _is_terminal() -> bool:
    return sys.stdout.isatty()


def _console() -> Console:
    # Made per command: click's test runner swaps sys.stdout, and rich must write where click does.
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def _short(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _reward(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _cost(value: float) -> str:
    return f"${value:.4f}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


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
    columns = ("id", "started", "status", "reward", "tokens", "cost", "time", "task")
    rows = [
        (
            r.id,
            r.started.replace("T", " ")[:16],  # UTC, to the minute
            r.status,
            _reward(r.reward),
            str(r.tokens),
            _cost(r.cost_usd),
            _seconds(r.seconds),
            _short(r.task, 70),
        )
        for r in found
    ]
    if not _is_terminal():
        widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
        for line in (columns, *rows):
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        return
    console = _console()
    width_of = dict(zip(columns, (max(len(name), *(len(row[i]) for row in rows)) for i, name in enumerate(columns))))
    shown = list(columns)
    # Ids and figures are never cut: on a narrow terminal the lesser columns go, then the task gives way.
    for lesser in ("started", "tokens", "time"):
        if sum(width_of[c] for c in shown if c != "task") + 3 * len(shown) + 16 <= console.width:
            break
        shown.remove(lesser)
    room = max(16, console.width - sum(width_of[c] for c in shown if c != "task") - 3 * len(shown))
    table = Table(title=f"{len(rows)} runs, newest first", box=box.SIMPLE_HEAD)
    for name in shown:
        justify: Literal["left", "right"] = "right" if name in ("reward", "tokens", "cost", "time") else "left"
        width = min(width_of[name], room) if name == "task" else width_of[name]
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis", width=width)
    for row in rows:
        cells: dict[str, str | Text] = dict(zip(columns, row))
        cells["status"] = Text(row[2], style=STATUS_STYLES.get(row[2], ""))
        table.add_row(*(cells[name] for name in shown))
    console.print(table)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the run and every step.")
def show(run_id: str, as_json: bool) -> None:
    """One run as a timeline: plans, subtasks, model and tool calls (RUN_ID may be a unique prefix)."""
    run = _store().get_run(run_id)
    if as_json:
        click.echo(json.dumps(run.to_json(), indent=2, ensure_ascii=False))
        return
    lines = _timeline(run)
    if _is_terminal():
        console = _console()
        for line in lines:
            console.print(line)
    else:
        for line in lines:
            click.echo(line.plain)


def _timeline(run: RunRecord) -> list[Text]:
    """The run as lines of text: a header, the cases shown, then every step in the order it happened."""
    usage = run.usage
    totals = run.totals
    lines = [
        Text.assemble(("run ", "bold"), (run.id, "bold cyan"), f"  started {run.started}  source {run.source}"),
        Text.assemble(("task      ", "bold"), run.task),
        Text.assemble(("models    ", "bold"), f"planner {run.planner}, executor {run.executor}"),
        Text.assemble(
            ("status    ", "bold"),
            (run.status, STATUS_STYLES.get(run.status, "")),
            f"  stopped by {run.stopped_by}" if run.stopped_by else "",
            f"  took {_seconds(run.seconds)}" if run.seconds is not None else "",
        ),
        Text.assemble(
            ("usage     ", "bold"),
            f"{usage.total_tokens} tokens (in {usage.input_tokens}, out {usage.output_tokens}, "
            f"cache read {usage.cache_read_tokens}, cache write {usage.cache_write_tokens}), {_cost(usage.cost_usd)}; "
            f"{totals.model_calls} model calls, {totals.tool_calls} tool calls ({totals.tool_errors} failed)",
        ),
        Text.assemble(("reward    ", "bold"), _reward(run.reward), f" ({run.reward_source})" if run.reward_source else ""),
    ]
    if run.files:
        lines.append(Text.assemble(("files     ", "bold"), ", ".join(run.files)))
    if run.case_id:
        lines.append(Text.assemble(("case      ", "bold"), run.case_id))
    if run.error:
        lines.append(Text.assemble(("error     ", "bold red"), (run.error, "red")))
    lines.append(Text(""))
    lines.append(Text(f"cases shown ({len(run.cases_shown)})", style="bold"))
    for case in run.cases_shown:
        score = "" if case.score is None else f"{case.score:.3f} "
        lines.append(Text(f"  {score}{case.outcome or '?':<8} {_short(case.task, 90)}  [{case.id}]"))
    if not run.cases_shown:
        lines.append(Text("  (none)", style="dim"))
    lines.append(Text(""))
    lines.append(Text("timeline", style="bold"))
    for _, step_lines in sorted(_events(run), key=lambda event: event[0]):
        lines.extend(step_lines)
    if not (run.plans or run.subtasks or run.model_calls or run.tool_calls):
        lines.append(Text("  (no steps logged)", style="dim"))
    lines.append(Text(""))
    lines.append(Text("answer", style="bold"))
    lines.extend(Text("  " + line) for line in (run.answer or "(none)").splitlines())
    if run.judgement:
        lines.append(Text(""))
        lines.append(Text("judgement", style="bold"))
        lines.append(Text("  " + json.dumps(run.judgement, ensure_ascii=False)))
    return lines


def _events(run: RunRecord) -> list[tuple[int, list[Text]]]:
    """Every step as (step number, its lines); the step numbers give the order they happened in."""

    def stamp(step: Step) -> str:
        return f"  {step.offset_s:>8.1f}s  "

    events: list[tuple[int, list[Text]]] = []
    for plan in run.plans:
        lines = [Text.assemble(stamp(plan), (f"plan, cycle {plan.cycle}", "bold magenta"), f": {_count(len(plan.subtasks), 'subtask')}")]
        lines += [Text(f"{'':14}{i}. {_short(s, 100)}") for i, s in enumerate(plan.subtasks, 1)]
        events.append((plan.step, lines))
    for sub in run.subtasks:
        style = {"done": "green", "failed": "red", "budget": "yellow"}.get(sub.status, "")
        head = Text.assemble(stamp(sub), (f"subtask {sub.cycle}.{sub.index} {sub.status}", style), f": {_short(sub.subtask, 80)}")
        events.append((sub.step, [head, Text(f"{'':14}→ {_short(sub.result, 100)}", style="dim")]))
    for call in run.model_calls:
        used = call.usage
        text = Text.assemble(
            stamp(call),
            (f"model {call.role}", "blue"),
            f" {call.model}: in {used.input_tokens}, out {used.output_tokens}, cached {used.cache_read_tokens}"
            f", {call.latency_s:.1f}s, {_cost(used.cost_usd)}",
            f", {call.stop_reason}" if call.stop_reason else "",
        )
        if call.error:
            text.append(f"  error: {_short(call.error, 80)}", style="red")
        events.append((call.step, [text]))
    for call in run.tool_calls:
        arguments = _short(json.dumps(call.arguments, ensure_ascii=False), 80)
        text = Text.assemble(
            stamp(call),
            (f"tool {call.server}.{call.tool}", "red" if call.is_error else "cyan"),
            f" {arguments}: {call.seconds:.1f}s, {call.result_chars} chars",
            " (truncated)" if call.truncated else "",
            " (server restarted)" if call.restarted else "",
        )
        lines = [text]
        if call.is_error:
            lines.append(Text(f"{'':14}error: {_short(call.preview, 100)}", style="red"))
        elif call.preview:
            lines.append(Text(f"{'':14}{_short(call.preview, 100)}", style="dim"))
        events.append((call.step, lines))
    for given in run.rewards:
        events.append((given.step, [Text.assemble(stamp(given), ("reward", "bold"), f" {given.reward:g} ({given.source})")]))
    return events


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
    from memento.memory import CaseBank, MemorySettings

    from .feedback import apply_feedback

    for line in apply_feedback(_store(), lambda: CaseBank.open(MemorySettings.from_env()), run_id, reward):
        click.echo(line)
