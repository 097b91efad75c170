"""What several commands share: the agent's options and settings, and running until SIGINT/SIGTERM.

`run`, `chat`, `demo` and `eval` import from here; this module imports no command
module, and anyio and the settings only when a command runs.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import anyio

    from memento.agent.session import RunOptions

__all__ = ["CONFIG_OPTION", "Temperature", "agent_options", "exploring", "learning_options", "run_options", "run_until_signal"]

T = TypeVar("T")

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="MCP host config in the mcpServers format (default: ./mcp.json, else the project's).",
)

# The agent's flag → the AgentSettings field it overrides.
_BUDGETS = {
    "max_cycles": "budget_cycles",
    "max_steps": "budget_steps",
    "max_tool_calls": "budget_tool_calls",
    "max_tokens": "budget_tokens",
    "max_seconds": "budget_seconds",
    "max_cost": "budget_cost_usd",
}


def agent_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The models, memory, MCP config and budget options of every command that runs the agent."""
    options = [
        click.option("--planner", help="Planner model as provider:model (default MEMENTO_PLANNER_MODEL)."),
        click.option("--executor", help="Executor model as provider:model (default MEMENTO_EXECUTOR_MODEL)."),
        click.option(
            "--judge",
            help="Judge model that scores answers against a known truth, as provider:model (default MEMENTO_JUDGE_MODEL, "
            "else the planner model: self-grading).",
        ),
        click.option(
            "--memory",
            "policy",
            type=click.Choice(["none", "similarity", "q"]),
            default=None,
            help="How cases are chosen from memory (default MEMENTO_MEMORY_POLICY; none: no memory).",
        ),
        click.option("-k", "k", type=click.IntRange(1, 64), default=None, help="Cases shown to the planner (default MEMENTO_MEMORY_K, 4)."),
        click.option("--no-learn", is_flag=True, help="Do not write this run to the case memory."),
        click.option(
            "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="MCP config naming the tool servers."
        ),
        click.option("--max-cycles", type=click.IntRange(1), help="Planner cycles (MEMENTO_BUDGET_CYCLES)."),
        click.option("--max-steps", type=click.IntRange(1), help="Executor steps per subtask (MEMENTO_BUDGET_STEPS)."),
        click.option("--max-tool-calls", type=click.IntRange(1), help="Tool calls per run (MEMENTO_BUDGET_TOOL_CALLS)."),
        click.option("--max-tokens", type=click.IntRange(1000), help="Model tokens per run (MEMENTO_BUDGET_TOKENS)."),
        click.option("--max-seconds", type=click.FloatRange(min=1), help="Wall time per run (MEMENTO_BUDGET_SECONDS)."),
        click.option("--max-cost", type=click.FloatRange(min=0), help="Model cost per run in USD (MEMENTO_BUDGET_COST_USD; 0: no cap)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class Temperature(click.ParamType):
    """`--explore [T]`: a temperature above 0, or `memory` (the option given bare: MEMENTO_MEMORY_TEMPERATURE)."""

    name = "T"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | str:
        if value == "memory" or isinstance(value, float):
            return value
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is not a temperature (a number above 0); to give the task first, put --explore after it.", param, ctx)
        if not number > 0:
            self.fail(f"the temperature must be above 0, got {value}; leave --explore out for greedy selection.", param, ctx)
        return number


def learning_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`run` and `chat`'s choices of how memory is read and how an answer without a truth is learned."""
    options = [
        click.option(
            "--explore",
            type=Temperature(),
            is_flag=False,
            flag_value="memory",
            default=None,
            help="Sample the cases shown from softmax(score / T) instead of taking the best ones, so the memory learns "
            "about cases it ranks low (bare: T = MEMENTO_MEMORY_TEMPERATURE; default: greedy).",
        ),
        click.option(
            "--self-assess",
            is_flag=True,
            default=None,
            help="Without --truth, have the judge check the answer against the sources the run read and store the case "
            "with that self-assessed reward instead of unrated (default MEMENTO_SELF_ASSESS).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def exploring(value: float | str | None) -> dict[str, Any]:
    """Episode.run's `explore` and `temperature` from the `--explore` value (None: greedy)."""
    if value is None:
        return {"explore": False, "temperature": None}
    return {"explore": True, "temperature": None if value == "memory" else float(value)}


def run_options(
    planner: str | None,
    executor: str | None,
    policy: str | None,
    k: int | None,
    no_learn: bool,
    config_path: Path | None,
    judge: str | None = None,
    **budgets: Any,
) -> RunOptions:
    """The settings and choices of one command, from the environment and the `agent_options` flags."""
    from memento.agent.session import RunOptions
    from memento.agent.settings import AgentSettings
    from memento.memory import MemorySettings

    overrides: dict[str, Any] = {_BUDGETS[flag]: value for flag, value in budgets.items() if value is not None}
    if planner:
        overrides["planner_model"] = planner
    if executor:
        overrides["executor_model"] = executor
    if judge:
        overrides["judge_model"] = judge
    if config_path:
        overrides["mcp_config"] = config_path
    settings = AgentSettings.from_env(**overrides)
    memory = MemorySettings.from_env()
    return RunOptions(settings, policy or memory.memory_policy, k, settings.learn and not no_learn)


async def _cancel_on_signals(scope: anyio.CancelScope, interrupted: list[int]) -> None:
    import anyio

    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            interrupted.append(signum)
            scope.cancel()
            return


def run_until_signal(body: Callable[[], Awaitable[T]]) -> T:
    """Run `body` on an event loop; SIGINT/SIGTERM cancel it (cleanly) and exit with 130."""
    import anyio

    interrupted: list[int] = []
    outcome: list[T] = []
    failure: list[Exception] = []

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_on_signals, group.cancel_scope, interrupted)
            try:
                outcome.append(await body())
            except Exception as exc:  # re-raised below, outside the task group, so the CLI sees it whole, not in a group
                failure.append(exc)
            group.cancel_scope.cancel()

    anyio.run(main)
    if failure and not interrupted:
        raise failure[0]
    if interrupted or not outcome:
        click.echo("Interrupted; the run's trace is kept (memento runs list).", err=True)
        _exit_interrupted()
    return outcome[0]


def _exit_interrupted() -> None:
    """Exit with 130. With a local model server in the process, whose llama.cpp threads may still be generating the
    answer the run abandoned, the interpreter's own teardown under them can crash (a SIGSEGV once in the test suite):
    the run is closed and its trace written by now, so the process ends here, as the OS would end it."""
    local = sys.modules.get("memento.agent.llm.local_server")
    if local is not None and local.running():
        import logging
        import os

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(130)
