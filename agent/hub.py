"""The agent's only way to its tools: one MCP client per server of the host config, seen as one tool list.

`ToolHub.start(entries)` launches (stdio) or connects to (streamable HTTP) every server at once, names
their tools `{server}__{tool}` for models, and turns each call's result, failure, timeout or dead server
into a `ToolOutcome` a model can read. It imports no server code and never raises for a model's mistake.
With `wait=False` it yields while the servers still start: `specs()` then shows the cached listing of a
server not up yet (hub_cache.py), a call waits for its own server only, and `started()` waits for all.
`hub.confined(folder)` is the same hub for one run that may read only `folder`: each of its calls says so
in the request's `_meta`, which no model can set.
"""

from __future__ import annotations

import copy
import importlib
import logging
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio

from memento.core.errors import ConfigError, ToolHubError

from .hosts import Launch, ServerEntry, launch_of
from .hub_cache import ToolListCache
from .hub_results import ToolOutcome, outcome_of
from .hubnames import MAX_NAME, HubTool, Listed, ListedTool, hub_tools, scoped_session, tool_names
from .llm import ToolSpec

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import Tool

__all__ = ["INPUTS_META", "MAX_NAME", "HubTool", "ToolHub", "ToolOutcome", "hub_tools", "scoped_session", "tool_names"]

log = logging.getLogger(__name__)

# The `_meta` key naming the one folder of attachments a call may read (servers/common/tooling.py reads it;
# the agent imports no server code, so the protocol's key is written twice).
INPUTS_META = "memento/inputs"
MAX_RESTARTS = 1  # a server that dies again after one restart is broken, not unlucky
_CALL_GRACE_S = 5.0  # beyond the read timeout, for a write stuck on a server that stopped reading
_STDERR_TAIL = 2000
_CLIENT = "memento.agent.hub_client"  # the MCP client side, imported when the servers launch

STOPPED_AND_RESTARTED = (
    "The {server} server stopped during this call and was restarted; the call was not repeated because "
    "it may have had effects — call again if safe."
)


class _Connection:
    """One client of one server process; `closed` is set when either side ends it (or a call finds it gone)."""

    def __init__(self) -> None:
        self.closed = anyio.Event()
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        assert self._client is not None, "a connection is handed out only once its client is up"
        return self._client


@dataclass
class _Catalogue:
    """The tools as models see them, shared by a hub and its confined views (they must see servers come up)."""

    tools: list[HubTool] = field(default_factory=list)
    by_name: dict[str, HubTool] = field(default_factory=dict)


@dataclass(eq=False)
class _Launch:
    """Whether the servers were launched, shared by a hub and its confined views; `group` owns the servers' tasks."""

    group: anyio.abc.TaskGroup | None = None
    begun: bool = False


@dataclass(eq=False)
class _Server:
    """Where one server stands; only its owner task changes `state`, and every change sets `changed`."""

    entry: ServerEntry
    target: Launch | str
    stderr: IO[str] | None
    state: str = "starting"  # starting | ready | restarting | failed | dead | closed
    connection: _Connection | None = None
    restarts: int = 0
    error: str = ""
    tools: list[Listed] = field(default_factory=list)
    cached: list[Listed] = field(default_factory=list)  # the last run's listing, shown until this one is known
    cached_dump: list[dict[str, Any]] = field(default_factory=list)  # the same, as the cache file holds it
    changed: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    def set_state(self, state: str) -> None:
        self.state = state
        self.changed.set()
        self.changed = anyio.Event()

    def stderr_tail(self) -> str:
        if self.stderr is None:
            return ""
        fd = self.stderr.fileno()
        size = os.fstat(fd).st_size
        tail = os.pread(fd, _STDERR_TAIL, max(0, size - _STDERR_TAIL)).decode("utf-8", "replace").strip()
        return f"; its last words: {tail}" if tail else ""


class ToolHub:
    """Every configured MCP server's tools behind one `call`; start it with `ToolHub.start(entries)`."""

    def __init__(
        self,
        *,
        start_timeout_s: float,
        call_timeout_s: float,
        result_max_chars: int,
        on_event: Callable[[str, dict[str, Any]], None] | None,
    ) -> None:
        self._catalogue = _Catalogue()
        self._launch = _Launch()
        self._servers: dict[str, _Server] = {}
        self._unstartable: dict[str, str] = {}  # entries that could not even be turned into a launch
        self._cache = ToolListCache(None)
        self._start_timeout_s = start_timeout_s
        self._call_timeout_s = call_timeout_s
        self._result_max_chars = result_max_chars
        self._on_event = on_event
        self._closing = False
        self._inputs: Path | None = None  # set on a confined view: the only attachments its calls may read

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        entries: list[ServerEntry],
        *,
        environ: Mapping[str, str],
        start_timeout_s: float = 60,
        call_timeout_s: float = 180,
        result_max_chars: int = 20_000,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        wait: bool = True,
        deferred: bool = False,
        cache_dir: Path | None = None,
    ) -> AsyncIterator[ToolHub]:
        """Start every server concurrently and yield the hub; leaving stops them all, also on error or cancel.

        A server that fails to start is in `hub.failed` (and a `server_failed` event) and the others still
        serve. `wait`: yield once every server is up or failed, `ToolHubError` when none started; without it,
        yield at once (`ToolHubError` only when no entry can even be launched) and let calls wait for their
        server. `deferred` (with wait=False): launch nothing until `launch()`, or until a call, `started()` or a
        connection needs a server; a run launches when its first model request goes out, so on two cores the
        servers' start-up does not compete with the path to that request. `cache_dir` keeps each server's last
        listing for the next start. `environ` is what the servers
        inherit (`hosts.server_environment(settings)`); `env` is added to each launched server's environment.
        `on_event(kind, data)` hears the servers' lives only (server_started, server_failed, server_dead,
        server_restarting): a tool call is the episode's fact, stated once by the executor's events.
        """
        hub = cls(start_timeout_s=start_timeout_s, call_timeout_s=call_timeout_s, result_max_chars=result_max_chars, on_event=on_event)
        hub._cache = ToolListCache(cache_dir)
        up = False
        body_error: Exception | None = None
        async with AsyncExitStack() as stack:
            for entry in entries:
                try:
                    target = entry.url or _launch(entry, cwd, environ, env or {})  # a missing command fails here, at once
                except ConfigError as exc:
                    hub._unstartable[entry.name] = str(exc)
                    hub._emit("server_failed", {"server": entry.name, "error": str(exc)})
                    continue
                # Server logs go to a private file: the terminal stays the agent's, and a failure can quote them.
                stderr = (
                    None
                    if entry.url
                    else stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", prefix=f"memento-{entry.name}-"))
                )
                dump = hub._cache.load(entry) or []
                hub._servers[entry.name] = _Server(entry, target, stderr, cached=_listed(dump), cached_dump=dump)
            async with anyio.create_task_group() as group:
                hub._launch.group = group
                if not deferred or wait:
                    hub.launch()
                try:
                    if wait:
                        await hub.started()
                    up = bool(hub._servers) if not wait else any(s.state == "ready" for s in hub._servers.values())
                    if up:
                        yield hub
                except Exception as exc:  # re-raised below, unwrapped: the caller's error, not the task group's
                    body_error = exc
                finally:
                    hub._close()
        if body_error is not None:
            raise body_error
        if not up:
            reasons = "; ".join(f"{name}: {why}" for name, why in hub.failed.items()) or "the config lists no servers"
            raise ToolHubError(f"No MCP tool server could be started ({reasons}). Check them with `memento servers check`.")

    @property
    def failed(self) -> dict[str, str]:
        """Servers that are not serving, and why: those that never started and those that died for good."""
        gone = {name: server.error for name, server in self._servers.items() if server.state in ("failed", "dead")}
        return {**self._unstartable, **gone}

    @property
    def tools(self) -> list[HubTool]:
        """The tools of the servers that came up (a server still starting adds its own once it lists them)."""
        return self._catalogue.tools

    def specs(self) -> list[ToolSpec]:
        """What a model is offered: the tools of the servers up, and the cached listing of those still starting."""
        return [tool.spec() for tool in self._offered()]

    def waiting_without_listing(self) -> list[str]:
        """Servers still starting whose tools are not known yet (no cached listing): a catalogue would miss them."""
        return [name for name, s in self._servers.items() if s.state == "starting" and not s.tools and not s.cached]

    async def started(self, names: Collection[str] | None = None) -> None:
        """Wait until each server (or each named one) is up or has failed; each start is bounded by its timeout."""
        self.launch()
        for name, server in self._servers.items():
            if names is None or name in names:
                while server.state == "starting":
                    await server.changed.wait()

    def _offered(self) -> list[HubTool]:
        starting = {n: s.cached for n, s in self._servers.items() if s.state == "starting" and not s.tools and s.cached}
        if not starting:
            return self._catalogue.tools
        return hub_tools({**{n: s.tools for n, s in self._servers.items() if s.tools}, **starting})

    async def _resolve(self, name: str) -> HubTool | None:
        """The tool `name` names; a name from a cached listing (or unknown while servers start) waits for its server."""
        tool = self._catalogue.by_name.get(name)
        if tool is not None or not any(s.state == "starting" for s in self._servers.values()):
            return tool
        promised = next((t.server for t in self._offered() if t.name == name), None)
        await self.started([promised] if promised is not None else None)
        return self._catalogue.by_name.get(name)

    def launch(self) -> None:
        """Start the servers now (once; a hub opened with `deferred` waits for this or for the first use of a server)."""
        launch = self._launch
        if launch.begun or launch.group is None or self._closing:
            return
        launch.begun = True
        launch.group.start_soon(self._launch_all)

    async def _launch_all(self) -> None:
        group = self._launch.group
        assert group is not None
        await _client_loaded()
        for server in self._servers.values():
            group.start_soon(self._keep_alive, server)

    def _came_up(self, server: _Server, tools: list[Tool]) -> None:
        from .hub_client import dumped

        server.tools = list(tools)
        self._catalogue.tools = hub_tools({n: s.tools for n, s in self._servers.items() if s.tools})
        self._catalogue.by_name = {tool.name: tool for tool in self._catalogue.tools}
        listing = dumped(tools)
        if listing != server.cached_dump:
            self._cache.save(server.entry, listing)
            server.cached, server.cached_dump = _listed(listing), listing

    def confined(self, inputs: Path) -> ToolHub:
        """This hub for one run whose tools may read only the attachments in `inputs` (its servers, shared).

        Every call of the view carries `inputs` in its `_meta`: the documents server reads only that folder and
        the code server mounts it at /inputs for the run's sessions. The view is never started or closed itself.
        """
        view = copy.copy(self)  # the same servers, tools and limits; only the folder differs
        view._inputs = inputs
        return view

    async def call(self, name: str, arguments: dict[str, Any], timeout_s: float | None = None, scope: str | None = None) -> ToolOutcome:
        """Call a tool by its hub name; every failure (unknown name, tool error, timeout, dead server) is an outcome.

        `scope` (a run's id) keeps stateful sessions apart: a tool taking a `session` gets it prefixed with
        the scope, so runs sharing the hub (an eval's concurrent tasks) never share an interpreter.
        """
        tool = await self._resolve(name)
        if tool is None:
            available = ", ".join(self._catalogue.by_name) or "none"
            return ToolOutcome(f"No tool named {name!r}; available: {available}.", is_error=True)
        if scope and "session" in tool.input_schema.get("properties", {}):
            arguments = {**arguments, "session": scoped_session(scope, arguments.get("session"))}
        began = time.perf_counter()
        meta = {INPUTS_META: str(self._inputs)} if self._inputs is not None else None
        outcome = await self._call(
            self._servers[tool.server], tool, arguments, self._call_timeout_s if timeout_s is None else timeout_s, meta
        )
        outcome.server, outcome.tool, outcome.seconds = tool.server, tool.tool, time.perf_counter() - began
        return outcome

    async def _call(
        self, server: _Server, tool: HubTool, arguments: dict[str, Any], timeout_s: float, meta: dict[str, Any] | None = None
    ) -> ToolOutcome:
        from .hub_client import CONNECTION_CLOSED, REQUEST_TIMEOUT, MCPError, call_tool, describe  # loaded at launch

        restarts = server.restarts
        connection = await self._connection(server)
        if connection is None:
            return ToolOutcome(f"The {server.entry.name} server is not running ({server.error}); use other tools.", is_error=True)
        restarted = server.restarts > restarts  # it had died between calls and this call waited for the new one
        try:
            with anyio.fail_after(timeout_s + _CALL_GRACE_S):
                result = await call_tool(connection.client, tool.tool, arguments, timeout_s, meta)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                return self._timed_out(tool, timeout_s)
            if exc.code != CONNECTION_CLOSED:
                return ToolOutcome(f"The {server.entry.name} server refused the call: {exc.message}", is_error=True)
            connection.closed.set()  # the owner may not have seen the end yet
            if await self._connection(server) is None:
                text = f"The {server.entry.name} server stopped during this call and is not available any more ({server.error}); use other tools."
                return ToolOutcome(text, is_error=True)
            return ToolOutcome(STOPPED_AND_RESTARTED.format(server=server.entry.name), is_error=True, restarted=True)
        except TimeoutError:
            return self._timed_out(tool, timeout_s)
        except Exception as exc:  # the client rejected the reply (schema, protocol): the model should know, the run go on
            return ToolOutcome(f"The call to {tool.name} failed in the MCP client: {describe(exc)}", is_error=True)
        return outcome_of(result, self._result_max_chars, restarted)

    async def _connection(self, server: _Server) -> _Connection | None:
        """The server's live connection, waiting (bounded) while it starts again; None once it is gone."""
        self.launch()
        with anyio.move_on_after(self._start_timeout_s + _CALL_GRACE_S):
            while True:
                connection = server.connection
                if server.state == "ready" and connection is not None and not connection.closed.is_set():
                    return connection
                if server.state in ("failed", "dead", "closed"):
                    return None
                await server.changed.wait()
        return None

    def _timed_out(self, tool: HubTool, timeout_s: float) -> ToolOutcome:
        text = (
            f"{tool.name} gave no answer within {timeout_s:g} s and was abandoned (it may still have had effects). "
            "Ask for less work per call, or pass a smaller job."
        )
        return ToolOutcome(text, is_error=True)

    async def _keep_alive(self, server: _Server) -> None:
        """Own one server's client for the hub's lifetime: start it, and once more if it dies."""
        while True:
            came_up, error = await self._run_once(server)
            if self._closing:
                server.set_state("closed")
                return
            if not came_up and server.restarts == 0:
                server.error = error
                server.set_state("failed")
                self._emit("server_failed", {"server": server.entry.name, "error": error})
                return
            if not came_up or server.restarts >= MAX_RESTARTS:
                server.error = f"stopped {'again after a restart' if came_up else 'and could not be restarted'}: {error}"
                server.set_state("dead")
                self._emit("server_dead", {"server": server.entry.name, "error": server.error})
                return
            server.restarts += 1
            server.set_state("restarting")
            self._emit("server_restarting", {"server": server.entry.name, "error": error})

    async def _run_once(self, server: _Server) -> tuple[bool, str]:
        """Start the server, serve until its connection ends; whether it came up, and how it ended."""
        from .hub_client import describe, list_tools, session

        came_up = False
        if self._closing:
            return came_up, "the hub is closing"
        began = time.perf_counter()
        server.scope = anyio.CancelScope(deadline=anyio.current_time() + self._start_timeout_s)
        try:
            with server.scope:
                connection = _Connection()
                async with session(server.target, server.stderr, connection.closed) as client:
                    tools = await list_tools(client)
                    server.scope.deadline = math.inf  # the start-up limit ends here; the client lives on
                    connection._client = client
                    self._came_up(server, tools)
                    server.connection, came_up = connection, True
                    server.set_state("ready")
                    self._emit("server_started", {"server": server.entry.name, "seconds": time.perf_counter() - began, "tools": len(tools)})
                    await connection.closed.wait()
            if server.scope.cancelled_caught and not came_up and not self._closing:
                return False, f"no answer within {self._start_timeout_s:g} s{server.stderr_tail()}"
            return came_up, f"the connection closed{server.stderr_tail()}"
        except Exception as exc:  # any failure to start or talk is this server's, never the hub's
            return came_up, f"{describe(exc)}{server.stderr_tail()}"
        finally:
            server.connection = None

    def _close(self) -> None:
        """Ask every owner to stop: a live client closes normally, one still starting is cancelled."""
        self._closing = True
        for server in self._servers.values():
            if server.connection is not None:
                server.connection.closed.set()
            else:
                server.scope.cancel()

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(kind, data)
        except Exception:  # a broken progress display must not stop a run
            log.exception("on_event(%r) raised", kind)


def _launch(entry: ServerEntry, cwd: Path | None, environ: Mapping[str, str], env: Mapping[str, str]) -> Launch:
    launch = launch_of(entry, environ, cwd=cwd, quiet=True)
    return Launch(launch.command, launch.args, {**launch.env, **env}, launch.cwd)


def _listed(listing: list[dict[str, Any]]) -> list[Listed]:
    """A cached listing's tools, read without the MCP SDK; a malformed entry is skipped."""
    return [tool for entry in listing if (tool := ListedTool.read(entry)) is not None]


async def _client_loaded() -> None:
    """Import the MCP client side on a thread of its own, waiting without holding the event loop.

    The import is CPU work under the GIL, but a model request being sent or streamed on the loop keeps moving
    between its slices, and a run that ends meanwhile does not wait for it (the thread is a daemon).
    """
    if _CLIENT in sys.modules:
        return
    # httpx whole, here, first: the client imports it, and a library on the loop that finds it in sys.modules half-made
    # by the thread fails (the openai SDK checks `isinstance(value, httpx.Timeout)` when httpx is loaded at all).
    importlib.import_module("httpx")
    done = threading.Event()

    def load() -> None:
        try:
            importlib.import_module(_CLIENT)
        finally:
            done.set()

    threading.Thread(target=load, name="memento-mcp-import", daemon=True).start()
    while not done.is_set():
        await anyio.sleep(0.01)
    importlib.import_module(_CLIENT)  # raises here, on the loop, whatever the thread's import raised
