"""`memento run`, `memento chat` and `memento demo`: the agent from the shell.

The command checks the models are configured before any server starts, then
starts the tool servers of the MCP config (in the background: see session.open_episode), runs the episode, and
prints the answer, then its report and numbered sources (or one JSON object with `--json`) before it closes the
servers. SIGINT and SIGTERM end the run cleanly: its trace is marked interrupted and no server outlives the command.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from .options import agent_options, exploring, learning_options, run_options, run_until_signal
from .servers import servers_check

__all__ = ["chat", "demo", "run"]

SETTINGS_META = "memento.settings"  # click context meta: AgentSettings fields a caller of `run` sets (the demo)
DEMO_TASK = "Which chemical element has the highest melting point, and by how many degrees Celsius does it beat the runner-up?"


@asynccontextmanager
async def _inputs(files: list[Path]) -> AsyncIterator[Path | None]:
    """A folder of this run alone holding copies of the attachments, removed afterwards.

    The tools read the copies, never the originals' folder. The folder and copies are readable by all (the
    code sandbox may run as another user) inside a private parent, so nothing else on the machine sees them.
    """
    if not files:
        yield None
        return
    parent = Path(tempfile.mkdtemp(prefix="memento-inputs-"))
    folder = parent / "inputs"
    try:
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)  # whatever the umask
        for path in files:
            shutil.copy2(path, folder / path.name)
            (folder / path.name).chmod(0o644)
        yield folder
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _progress(quiet: bool) -> Any:
    from memento.agent.progress import Progress, TerminalProgress

    return TerminalProgress() if not quiet and sys.stderr.isatty() else Progress()


def _attachments(paths: tuple[Path, ...]) -> list[Path]:
    seen: set[str] = set()
    for path in paths:
        if path.name in seen:
            raise click.BadParameter(f"two attachments are named {path.name!r}; rename one.", param_hint="--file")
        seen.add(path.name)
    return list(paths)


@click.command()
@click.argument("task")
@click.option(
    "--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Attach a file (repeatable)."
)
@click.option(
    "--truth",
    help="The known answer: the run is scored and learned from with a verified reward (alternatives joined by <|answer_split|>); "
    "without it the case is stored unrated (or --self-assess) until memento feedback.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print exactly one JSON object: run_id, answer, status, reward, cases_shown, case_id, usage, plan, report, sources.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on the terminal.")
@learning_options
@agent_options
def run(
    task: str,
    files: tuple[Path, ...],
    truth: str | None,
    as_json: bool,
    quiet: bool,
    explore: float | str | None,
    self_assess: bool | None,
    **flags: Any,
) -> None:
    """Research TASK with the tool servers and answer it; the run is traced and learned from (unrated until rewarded).

    \b
    memento run "Which element has the highest melting point?"
    memento run "Summarise the revenue table" --file report.pdf
    memento run "What is 2**100?" --truth 1267650600228229401496703205376 --json
    """
    if not task.strip():
        raise click.BadParameter("the task is empty.", param_hint="TASK")
    from memento.agent.session import check_models, open_episode

    options = run_options(**flags)
    if SETTINGS_META in click.get_current_context().meta:  # the demo's settings beyond the flags (executor_tools)
        options.settings = options.settings.model_copy(update=click.get_current_context().meta[SETTINGS_META])
    check_models(options.settings)
    attachments = _attachments(files)
    progress = _progress(quiet or as_json)

    printer = _AnswerPrinter() if not as_json else None

    async def body() -> Any:
        listeners = [printer] if printer is not None else []
        async with _inputs(attachments) as inputs, open_episode(options, inputs, progress, listeners=listeners) as episode:
            shown = [str(inputs / p.name) for p in attachments] if inputs else []
            result = await episode.run(
                task,
                files=shown,
                truth=truth,
                policy=options.policy,
                k=options.k,
                learn=options.learn,
                answer_mode="report",
                self_assess=self_assess,
                **exploring(explore),
            )
            _show(result, as_json, shown=printer is not None and printer.shown)  # before the servers, models and bank close
            return result

    _quick_exit()
    result = run_until_signal(body)
    if result.status == "failed":
        sys.exit(1)


def _quick_exit() -> None:
    """Skip the collector's passes over every object of the SDKs at interpreter exit (0.7 s on 2 busy cores, once
    the run is over and closed): objects still alive then are frozen instead. Only at exit, so an in-process
    caller (a test's CliRunner) keeps collecting as usual until it ends."""
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once, however many runs one process makes
    atexit.register(gc.freeze)


class _AnswerPrinter:
    """Prints the answer, report and sources the moment the report is checked: the judge, the self-assessment and
    the memory write come after it, and a person reading the answer need not wait for them."""

    def __init__(self) -> None:
        self.shown = False
        self._answer = ""

    def handle(self, event: Any) -> None:
        from memento.agent.events import Answered, Reported

        if isinstance(event, Answered):
            self._answer = event.answer
        elif isinstance(event, Reported) and not self.shown:
            click.echo(_answer_text(SimpleNamespace(answer=self._answer, report=event.report, sources=event.sources)))
            sys.stdout.flush()
            self.shown = True


def _show(result: Any, as_json: bool, shown: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    if not shown:
        click.echo(_answer_text(result))
    rate = f"memento feedback {result.run_id} good|bad"
    if result.reward is None and result.reward_kind == "unrated" and result.case_id:
        reward = f"unrated, remembered as not verified ({rate})"
    elif result.reward is None:
        reward = f"pending ({rate})"
    elif result.reward_kind == "self-assessed":
        reward = f"{result.reward:g}, self-assessed against its sources ({rate} to correct it)"
    else:
        reward = f"{result.reward:g}"
    click.echo(f"{result.run_id} · {result.status} · reward {reward}", err=True)


@click.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress on the terminal.")
@learning_options
@agent_options
def chat(quiet: bool, explore: float | str | None, self_assess: bool | None, **flags: Any) -> None:
    """Talk with the agent: each message is researched like `memento run`, with the conversation so far as context.

    End with an empty line, Ctrl-D or Ctrl-C.
    """
    import anyio

    from memento.agent.session import check_models, open_episode

    options = run_options(**flags)
    check_models(options.settings)
    progress = _progress(quiet)

    async def body() -> int:
        turns: list[tuple[str, str]] = []
        async with open_episode(options, None, progress) as episode:
            while True:
                line = await anyio.to_thread.run_sync(_read_line)
                if not line:
                    return len(turns)
                task = line if not turns else _with_history(turns, line)
                result = await episode.run(
                    task,
                    policy=options.policy,
                    k=options.k,
                    learn=options.learn,
                    source="chat",
                    answer_mode="report",
                    self_assess=self_assess,
                    **exploring(explore),
                )
                click.echo(_answer_text(result) if result.answer else f"(no answer: {result.status})")
                turns.append((line, result.answer))

    run_until_signal(body)


def _answer_text(result: Any) -> str:
    """The answer, then the report and its numbered sources (each one a URL or file a tool of the run gave)."""
    parts = [result.answer]
    if result.report:
        parts.append(result.report)
    if result.sources:
        lines = [
            f"[{s['n']}] {s['title']} — {s['url_or_path']}" if s.get("title") else f"[{s['n']}] {s['url_or_path']}" for s in result.sources
        ]
        parts.append("Sources:\n" + "\n".join(lines))
    return "\n\n".join(parts)


def _read_line() -> str:
    # The prompt is for a person at a terminal: piped into a script, stdout holds the answers alone.
    try:
        return input("> " if sys.stdin.isatty() else "").strip()
    except EOFError:
        return ""


def _with_history(turns: list[tuple[str, str]], line: str) -> str:
    history = "\n".join(f"User: {q}\nAgent: {a}" for q, a in turns[-6:])
    return f"Conversation so far:\n{history}\n\nNew request (answer this one):\n{line}"


@click.command()
@click.option(
    "--model",
    help="Local model when no hosted one is configured (default MEMENTO_DEMO_MODEL: local:qwen2.5-1.5b; local:qwen2.5-0.5b is faster).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on the terminal.")
@click.pass_context
def demo(ctx: click.Context, model: str | None, quiet: bool) -> None:
    """What `make run` does: research a demo question with the configured model, else offline with a local model.

    \b
    With ANTHROPIC_API_KEY (or an OpenAI-compatible endpoint) configured: a question researched on the web.
    Without: a local model researches a question about the bundled Vellmark corpus (data/demo-corpus) on its
    local index, answers with a citation and writes the case to memory; run it again to see the case recalled.
    """
    from memento.agent.llm import check_configured
    from memento.agent.session import check_models
    from memento.agent.settings import AgentSettings
    from memento.core.errors import ModelNotConfigured

    settings = AgentSettings.from_env()
    try:
        check_models(settings)
    except ModelNotConfigured as hosted:
        spec = model or settings.demo_model
        try:
            check_configured(spec, settings)
        except ModelNotConfigured as exc:
            click.echo(f"No model is configured, so this checks the tool servers instead.\n{hosted}\n{exc}\n", err=True)
            ctx.invoke(servers_check, config_path=settings.mcp_config, names=(), timeout=60.0, as_json=False)
            return
        _offline_demo(ctx, settings, spec, quiet)
        return
    ctx.invoke(run, task=DEMO_TASK, quiet=quiet)


def _offline_demo(ctx: click.Context, settings: Any, spec: str, quiet: bool) -> None:
    from .demo_setup import DEMO_SETTINGS, LOCAL_TASK, LOCAL_TRUTH, prepare

    ground = prepare(settings, lambda line: click.echo(line, err=True))
    ctx.meta[SETTINGS_META] = dict(DEMO_SETTINGS)
    click.echo(f"No hosted model is configured: {spec} researches the bundled Vellmark corpus offline.\nQuestion: {LOCAL_TASK}\n", err=True)
    # One plan of one subtask (search, read, report), then the answer: a small model allowed to plan again rambles on.
    # The truth is known, so the run is judged and learned from.
    ctx.invoke(
        run,
        task=LOCAL_TASK,
        truth=LOCAL_TRUTH,
        quiet=quiet,
        planner=spec,
        executor=spec,
        judge=spec,
        config_path=ground.config,
        max_cycles=1,
        max_steps=3,
        max_seconds=900.0,
    )
