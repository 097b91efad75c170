"""Opening what an episode runs with — models, tool hub, case memory, the listeners of its events — and closing it all.

Shared by the CLI (`memento run`, `memento chat`, `memento eval`) and the research
MCP server, so all check models the same way, start the same servers and keep
the same trace. The listeners are wired here, never in the agent loop.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .episode import Episode
from .events import CasesShown, Event, EventStream, Listener, Note
from .llm import Model
from .settings import AgentSettings

if TYPE_CHECKING:
    from memento.memory import CaseBank, MemorySettings

    from .hub import ToolHub
    from .traces import RunStore

__all__ = ["SEALED_EXCLUDE", "RunOptions", "check_models", "open_episode", "run_events"]


@dataclass
class RunOptions:
    """The settings of a run and the memory choices the command line adds to them."""

    settings: AgentSettings
    policy: str
    k: int | None
    learn: bool
    memory: MemorySettings | None = None  # None: MemorySettings.from_env()


def check_models(settings: AgentSettings) -> None:
    """Raise `ModelNotConfigured` (one line naming the variable) before anything starts."""
    from .llm import check_configured

    for spec in settings.model_specs:
        check_configured(spec, settings)


def run_events(store: RunStore, settings: AgentSettings, listeners: Iterable[Listener] = ()) -> EventStream:
    """The event stream of a run: its trace in `store`, then `listeners` (progress), then the OTLP export when configured."""
    from .trace_writer import TraceWriter

    events = EventStream([TraceWriter(store), *listeners])
    if settings.otel_endpoint:  # only then is the exporter imported at all
        from .otel import OtelExport, parse_headers

        events.add(OtelExport(settings.otel_endpoint, parse_headers(settings.otel_headers)))
    return events


log = logging.getLogger(__name__)

SEALED_EXCLUDE = ("research", "casebank")  # what an eval never offers, whatever the settings say


@asynccontextmanager
async def open_episode(
    options: RunOptions,
    inputs: Path | None = None,
    progress: Listener | None = None,
    exclude: Collection[str] = (),
    listeners: Iterable[Listener] = (),
    *,
    sealed: bool = False,
) -> AsyncIterator[Episode]:
    """An `Episode` ready to run tasks: the servers of the MCP config started, closed on exit.

    Left out: `settings.episode_exclude` and `exclude`. `inputs` is a folder of attachments, read-only at /inputs
    in the code server and readable by the documents server (with the working folder when
    `settings.run_reads_workdir`). `sealed` (an eval): `inputs` holds one folder per task, the documents server
    reads nothing else, and each task runs on `episode.hub.confined(its folder)`.
    `progress` and `listeners` receive the run's events after the trace writer.

    What starts when: the models and the case bank are opened in threads of their own; the servers are launched
    once a run has read its memory (its first model request about to leave), to start in the background while the
    model thinks; only a server whose tool listing is not cached from an earlier run (hub_cache.py) is launched and
    waited for before the episode is handed out. A subtask waits
    for the servers before its executor is offered their tools; a server that fails to start is a note.
    """
    from .hosts import default_config_path, load_config, server_environment
    from .hub import ToolHub
    from .traces import RunStore

    settings = options.settings
    left_out = {*settings.episode_exclude, *exclude, *(SEALED_EXCLUDE if sealed else ())}
    entries = [e for e in load_config(settings.mcp_config or default_config_path()) if e.name not in left_out]
    async with AsyncExitStack() as opened:
        # Each part is registered as soon as it exists, so a failure half-way still closes what was opened.
        parts = _Parts(options)  # first: its imports overlap everything below
        opened.push_async_callback(parts.aclose)
        env = _inputs_environment(inputs, settings.run_reads_workdir and not sealed, opened)
        store = RunStore.open(settings.home)
        opened.callback(store.close)
        events = run_events(store, settings, [*([progress] if progress is not None else []), *listeners])

        def on_hub_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "server_failed":  # the same note as when the hub was waited for, whenever it comes now
                events.emit(Note(run_id="", text=f"server {data['server']} did not start: {data['error']}"))

        hub = await opened.enter_async_context(
            ToolHub.start(
                entries,
                environ=server_environment(settings),
                start_timeout_s=settings.server_start_timeout_s,
                call_timeout_s=settings.tool_timeout_s,
                result_max_chars=settings.tool_result_max_chars,
                env=env,
                on_event=on_hub_event,
                wait=False,
                deferred=True,
                cache_dir=settings.home / "cache" / "tools",
            )
        )
        planner, executor, judge, bank = await parts.ready()
        events.add(_AfterMemory(hub, bank if options.learn else None))
        await hub.started(hub.waiting_without_listing())  # the first run of a config: the planner must see every tool
        yield Episode(
            planner=planner, executor=executor, hub=hub, events=events, settings=settings, bank=bank, judge=judge, tools_ready=hub.started
        )


class _AfterMemory:
    """Once a run has read its memory, as its first model request is about to leave: launch the hub's servers, and
    open the case bank's Chroma store (and its embedder) on a thread, for the case the run will write.

    On two cores the servers' start (about 1 s of CPU each) and Chroma's import would otherwise slow the run's own
    path to that request; the planner's catalogue comes from the servers' cached listings, reads come from the
    bank's snapshot, and whatever needs a server earlier launches it then (a first run of a config, a tool call).
    """

    def __init__(self, hub: ToolHub, bank: CaseBank | None) -> None:
        self._hub = hub
        self._bank = bank

    def handle(self, event: Event) -> None:
        if not isinstance(event, CasesShown):
            return
        self._hub.launch()
        bank, self._bank = self._bank, None  # once
        if bank is not None:
            import httpx  # noqa: F401  (whole before Chroma's import on a thread could leave it half-made: see hub._client_loaded)

            threading.Thread(target=_ready_to_write, args=(bank,), name="memento-open-store", daemon=True).start()


def _ready_to_write(bank: CaseBank) -> None:
    try:
        from memento.memory.embeddings import LocalEmbedder

        bank.store.open()
        if isinstance(bank.embedder, LocalEmbedder):  # loads its weights; a run without retrieval embeds only to write
            bank.embedder.embed(["warm"])
    except Exception as exc:  # the write itself will meet (and report) the same failure
        log.debug("opening the case bank ahead of its write: %s", exc)


class _Parts:
    """The models and the case bank, each made in a thread of its own as soon as the episode opens.

    Their SDK and Chroma imports (seconds on a busy machine) then overlap the hub's import and the servers'
    launch instead of following them. `aclose` waits for every thread and closes whatever it made, also when the
    episode never used it.
    """

    def __init__(self, options: RunOptions) -> None:
        from memento.memory import CaseBank, MemorySettings

        from .llm import make_model

        settings = options.settings
        self._settings = settings
        self._made: dict[str, Any] = {}
        self._failures: list[Exception] = []
        jobs: dict[str, Callable[[], Any]] = {spec: functools.partial(make_model, spec, settings) for spec in settings.model_specs}
        if options.policy != "none" or options.learn:
            jobs["bank"] = functools.partial(CaseBank.open, options.memory or MemorySettings.from_env())
        self._threads = [
            threading.Thread(target=self._make, args=(key, job), name=f"memento-open-{key}", daemon=True) for key, job in jobs.items()
        ]
        for thread in self._threads:
            thread.start()

    def _make(self, key: str, job: Callable[[], Any]) -> None:
        try:
            self._made[key] = job()
        except Exception as exc:  # raised to the episode's opener by `ready`
            self._failures.append(exc)

    async def _joined(self) -> None:
        for thread in self._threads:
            await anyio.to_thread.run_sync(thread.join)

    async def ready(self) -> tuple[Model, Model, Model, CaseBank | None]:
        """Planner, executor, judge and bank once made; the first failure (ModelNotConfigured, StoreError) raised."""
        await self._joined()
        if self._failures:
            raise self._failures[0]
        settings = self._settings
        made = self._made
        return made[settings.planner_model], made[settings.executor_model], made[settings.grader_model], made.get("bank")

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):  # an interrupted run still closes its HTTP clients and the bank
            await self._joined()
            for key, part in self._made.items():
                if key == "bank":
                    part.close()
                else:
                    await part.aclose()


def _inputs_environment(inputs: Path | None, workdir: bool, opened: AsyncExitStack) -> dict[str, str]:
    """What the documents and code servers may read: `inputs` (at /inputs in code), and for documents the working
    folder too when `workdir`; without it and without inputs, an empty private folder (documents needs a root)."""
    if inputs is None and workdir:
        return {}  # each server's own default (documents: the working folder)
    if inputs is None:
        inputs = Path(opened.enter_context(tempfile.TemporaryDirectory(prefix="memento-noinputs-")))
    env = {"MEMENTO_CODE_INPUTS": str(inputs), "MEMENTO_DOCUMENTS_ROOTS": str(inputs)}
    if workdir:
        env["MEMENTO_DOCUMENTS_ROOTS"] += os.pathsep + str(Path.cwd())
    return env
