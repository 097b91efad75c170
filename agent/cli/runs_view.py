"""How `memento runs` looks on a terminal: the runs table and one run's timeline, drawn with rich.

Imported only when a command draws; it formats what the trace store returns and reads nothing itself.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from memento.agent.traces import ReportRecord, RunRecord, RunSummary, Step

__all__ = ["COLUMNS", "print_lines", "print_table", "table_rows", "timeline"]

STATUS_STYLES = {"answered": "green", "running": "cyan", "budget_exhausted": "yellow", "failed": "red", "interrupted": "magenta"}
COLUMNS = ("id", "started", "status", "reward", "tokens", "cost", "time", "task")


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


def table_rows(found: list[RunSummary]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The runs table as text cells: (column names, one row per run)."""
    return COLUMNS, [
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


def print_table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """The runs as a rich table that fits the terminal."""
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


def print_lines(lines: list[Text]) -> None:
    """One run's timeline on the terminal, styled."""
    console = _console()
    for line in lines:
        console.print(line)


def timeline(run: RunRecord) -> list[Text]:
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
        Text.assemble(
            ("reward    ", "bold"),
            _reward(run.reward),
            f" ({run.reward_source})" if run.reward_source else "",
            f"  {run.reward_kind}" if run.reward_kind else "",
        ),
        Text.assemble(("memory    ", "bold"), _memory_read(run)),
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
    if run.report:
        lines.extend(_report(run.report))
    if run.judgement:
        lines.append(Text(""))
        lines.append(Text("judgement", style="bold"))
        lines.append(Text("  " + json.dumps(run.judgement, ensure_ascii=False)))
    return lines


def _memory_read(run: RunRecord) -> str:
    """How the cases were chosen: the policy, greedy or sampled at a temperature, and the Q version that ranked them."""
    policy = str(run.settings.get("policy", "?"))
    if policy == "none":
        return "not read"
    chosen = "greedy (the best cases)" if run.temperature is None else f"explored (sampled at temperature {run.temperature:g})"
    return f"{policy}, {chosen}" + (f", Q version {run.q_version}" if run.q_version is not None else "")


def _report(report: ReportRecord) -> list[Text]:
    """The report as the run gave it, then its numbered sources, each a URL or file a tool of the run gave."""
    # Text(...) and never markup: the report is model output, and a `[bold]` in it must print as written.
    lines = [Text(""), Text("report", style="bold")]
    lines += [Text("  " + line) for line in report.text.splitlines()]
    lines += [Text(""), Text(f"sources (cited {len(report.sources)} of the run's {report.sources_collected})", style="bold")]
    for source in report.sources:
        title = str(source.get("title") or "")
        lines.append(Text(f"  [{source.get('n')}] " + (f"{title} — " if title else "") + str(source.get("url_or_path", ""))))
    if not report.sources:
        lines.append(Text("  (none cited)", style="dim"))
    if report.citations_removed:
        lines.append(Text(f"  {_count(report.citations_removed, 'citation')} without a source removed", style="yellow"))
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
    for tool_call in run.tool_calls:
        arguments = _short(json.dumps(tool_call.arguments, ensure_ascii=False), 80)
        text = Text.assemble(
            stamp(tool_call),
            (f"tool {tool_call.server}.{tool_call.tool}", "red" if tool_call.is_error else "cyan"),
            f" {arguments}: {tool_call.seconds:.1f}s, {tool_call.result_chars} chars",
            " (truncated)" if tool_call.truncated else "",
            " (server restarted)" if tool_call.restarted else "",
        )
        lines = [text]
        if tool_call.is_error:
            lines.append(Text(f"{'':14}error: {_short(tool_call.preview, 100)}", style="red"))
        elif tool_call.preview:
            lines.append(Text(f"{'':14}{_short(tool_call.preview, 100)}", style="dim"))
        events.append((tool_call.step, lines))
    for given in run.rewards:
        events.append((given.step, [Text.assemble(stamp(given), ("reward", "bold"), f" {given.reward:g} ({given.source})")]))
    return events
