"""Opening what an episode runs with — models, tool hub, case memory, traces — and closing it all.

Shared by the CLI (`memento run`, `memento chat`) and the research MCP server,
so both check models the same way and start the same servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from .episode import Episode
from .progress import Progress
from .settings import AgentSettings

__all__ = ["RunOptions", "check_models", "open_episode"]


@dataclass
class RunOptions:
    """The settings of a run and the memory choices the command line adds to them."""

    settings: AgentSettings
    policy: str
    k: int | None
    learn: bool


def check_models(settings: AgentSettings) -> None:
    """Raise `ModelNotConfigured` (one line naming the variable) before anything starts."""
    from .llm import check_configured

    for spec in dict.fromkeys([settings.planner_model, settings.executor_model, settings.judge_model or settings.planner_model]):
        check_configured(spec, settings)


@asynccontextmanager
async def open_episode(
    options: RunOptions, inputs: Path | None = None, progress: Progress | None = None, exclude: Collection[str] = ("research",)
) -> AsyncIterator[Episode]:
    """An `Episode` ready to run tasks: the servers of the MCP config (less `exclude`) started, closed on exit.

    `inputs` is a folder of attachments, shown to the documents server and at /inputs in the code server.
    """
    from memento.memory import CaseBank, MemorySettings

    from .hosts import default_config_path, load_config
    from .hub import ToolHub
    from .llm import make_model
    from .traces import RunStore

    progress = progress or Progress()
    settings = options.settings
    entries = [e for e in load_config(settings.mcp_config or default_config_path()) if e.name not in exclude]
    env: dict[str, str] = {}
    if inputs is not None:
        env["MEMENTO_CODE_INPUTS"] = str(inputs)
        env["MEMENTO_DOCUMENTS_ROOTS"] = f"{inputs}:{Path.cwd()}"
    planner = make_model(settings.planner_model, settings)
    executor = make_model(settings.executor_model, settings)
    judge = make_model(settings.judge_model, settings) if settings.judge_model else planner
    store = RunStore.open(settings.home)
    bank = CaseBank.open(MemorySettings.from_env()) if options.policy != "none" or options.learn else None
    try:
        async with ToolHub.start(
            entries,
            start_timeout_s=settings.server_start_timeout_s,
            call_timeout_s=settings.tool_timeout_s,
            result_max_chars=settings.tool_result_max_chars,
            env=env,
        ) as hub:
            for name, problem in hub.failed.items():
                progress.note(f"server {name} did not start: {problem}")
            yield Episode(planner, executor, hub, store, settings, bank=bank, judge=judge, progress=progress)
    finally:
        with anyio.CancelScope(shield=True):
            for model in {id(m): m for m in (planner, executor, judge)}.values():
                await model.aclose()
        store.close()
        if bank is not None:
            bank.close()
