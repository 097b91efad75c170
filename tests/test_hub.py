"""The agent's tool hub: the bundled servers over stdio and streamable HTTP behind one tool list; tool
errors, timeouts, unknown names, a killed server and one that never starts all come back as outcomes;
no server process outlives the hub. Naming is tested without processes."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp_types import Tool

from memento.agent.hosts import ServerEntry, load_config
from memento.agent.hub import MAX_NAME, ToolHub, hub_tools, scoped_session, tool_names
from memento.core.errors import ToolHubError
from tests.mcp_servers import ROOT, http_server

pytestmark = pytest.mark.anyio

BUNDLED = {entry.name: entry for entry in load_config(ROOT / "mcp.json")}
NEVER_ANSWERS = ServerEntry("silent", sys.executable, ["-c", "import time; time.sleep(120)  # memento-test-silent"])
EXITS_AT_ONCE = ServerEntry("broken", sys.executable, ["-c", "import sys; sys.exit('memento-test: no settings for this server')"])


def server_processes() -> list[psutil.Process]:
    """Every live process below this test process (servers, their workers and sandboxes)."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def assert_all_gone(processes: list[psutil.Process]) -> None:
    _gone, alive = psutil.wait_procs(processes, timeout=10)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"still running after the hub: {[(p.pid, p.cmdline()) for p in alive]}"


def server_pid(command_part: str, other_than: set[int] | frozenset[int] = frozenset()) -> int:
    """The one server process this test launched whose command line has `command_part`."""
    matches = [p.pid for p in psutil.Process().children() if any(command_part in part for part in p.cmdline()) and p.pid not in other_than]
    assert len(matches) == 1, f"expected one {command_part} server, found {matches}"
    return matches[0]


@contextmanager
def no_process_outlives() -> Iterator[list[psutil.Process]]:
    """Yields a list to fill (`seen.extend(server_processes())`) while the hub is up; checks them all gone after."""
    before = {p.pid for p in server_processes()}
    seen: list[psutil.Process] = []
    yield seen
    started = [p for p in seen if p.pid not in before]
    assert started, "the test saw no server process"
    assert_all_gone(started)


# --- naming, without processes -------------------------------------------------------------------


def fake_tool(name: str, description: str = "Does a thing.") -> Tool:
    return Tool(name=name, description=description, input_schema={"type": "object", "properties": {"x": {"type": "string"}}})


def test_tool_names_join_server_and_tool_and_replace_unsafe_characters() -> None:
    names = tool_names([("documents", "read_document"), ("my.server", "get page/2"), ("web-1", "fetch")])
    assert names == {
        ("documents", "read_document"): "documents__read_document",
        ("my.server", "get page/2"): "my_server__get_page_2",
        ("web-1", "fetch"): "web-1__fetch",
    }


def test_names_two_servers_would_share_get_distinct_hash_suffixes_whatever_the_order() -> None:
    pairs = [("a.b", "search"), ("a_b", "search"), ("other", "search")]
    names = tool_names(pairs)
    assert names[("other", "search")] == "other__search"
    first, second = names[("a.b", "search")], names[("a_b", "search")]
    assert first != second and first.startswith("a_b__search_") and second.startswith("a_b__search_")
    assert tool_names(reversed(pairs)) == names  # stable: the same pair always gets the same name


def test_a_name_over_64_characters_is_cut_and_stays_unique() -> None:
    long_tool = "x" * 80
    names = tool_names([("server", long_tool), ("server", long_tool + "y")])
    assert all(len(name) <= MAX_NAME for name in names.values())
    assert len(set(names.values())) == 2
    assert all(name.startswith("server__xxxx") for name in names.values())


def test_a_hashed_name_that_meets_a_plain_one_gets_a_longer_hash() -> None:
    hashed = tool_names([("a.b", "c"), ("a_b", "c")])[("a.b", "c")]  # "a_b__c_" + 8 hex digits
    crafted = ("a_b", hashed.removeprefix("a_b__"))  # a tool whose plain name is exactly that
    names = tool_names([("a.b", "c"), ("a_b", "c"), crafted])
    assert len(set(names.values())) == 3 and all(len(name) <= MAX_NAME for name in names.values())


def test_hub_tools_keep_descriptions_and_schemas_and_make_model_specs() -> None:
    tools = hub_tools({"docs": [fake_tool("read"), fake_tool("read")], "web": [Tool(name="fetch", input_schema={})]})
    assert [t.name for t in tools] == ["docs__read", "web__fetch"]
    read, fetch = tools
    assert (read.server, read.tool, read.description) == ("docs", "read", "Does a thing.")
    assert read.input_schema["properties"] == {"x": {"type": "string"}}
    assert fetch.description and fetch.input_schema == {"type": "object"}
    spec = read.spec()
    assert (spec.name, spec.description, spec.input_schema) == (read.name, read.description, read.input_schema)


# --- one hub over the bundled documents and code servers, from the project's mcp.json ----------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("attachments")
    (folder / "notes.txt").write_text("The hub reads this line.\n")
    (folder / "long.txt").write_text("".join(f"line {i:05d} of a long file\n" for i in range(400)))
    return folder


EVENTS: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture(scope="module")
async def hub(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> AsyncIterator[ToolHub]:
    # Module-scoped, so the autouse MEMENTO_HOME fixture does not apply yet: pass a private home explicitly.
    env = {"MEMENTO_HOME": str(tmp_path_factory.mktemp("home")), "MEMENTO_DOCUMENTS_ROOTS": str(folder)}
    entries = [BUNDLED["documents"], BUNDLED["code"]]
    with anyio.fail_after(90):
        async with ToolHub.start(
            entries, environ=os.environ, env=env, cwd=ROOT, result_max_chars=3000, on_event=lambda kind, data: EVENTS.append((kind, data))
        ) as hub:
            yield hub


@pytest.mark.integration
async def test_tools_are_listed_as_server_then_tool(hub: ToolHub) -> None:
    names = [tool.name for tool in hub.tools]
    assert {"documents__read_document", "documents__document_info", "code__run_python", "code__run_shell"} <= set(names)
    assert hub.failed == {}
    assert [spec.name for spec in hub.specs()] == names
    read = next(tool for tool in hub.tools if tool.name == "documents__read_document")
    assert (read.server, read.tool) == ("documents", "read_document") and "source" in read.input_schema["properties"]


@pytest.mark.integration
async def test_a_call_returns_the_tools_text_and_structured_content_from_a_root_given_in_env(hub: ToolHub, folder: Path) -> None:
    with anyio.fail_after(60):
        outcome = await hub.call("documents__read_document", {"source": str(folder / "notes.txt")})
    assert not outcome.is_error and "The hub reads this line." in outcome.text
    assert outcome.structured is not None and "page" in outcome.structured
    assert (outcome.server, outcome.tool, outcome.truncated, outcome.restarted) == ("documents", "read_document", False, False)
    assert outcome.seconds > 0
    # A tool call is the episode's fact (ToolStarted/ToolCalled, from the executor); the hub states only its servers' lives.
    assert all(kind.startswith("server_") for kind, _ in EVENTS), EVENTS


@pytest.mark.integration
async def test_a_tool_error_comes_back_as_an_error_outcome_and_the_hub_goes_on(hub: ToolHub, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"  # not under MEMENTO_DOCUMENTS_ROOTS
    outside.write_text("not for the model")
    with anyio.fail_after(60):
        refused = await hub.call("documents__read_document", {"source": str(outside)})
        missing_argument = await hub.call("documents__read_document", {})
        after = await hub.call("code__run_python", {"code": "6 * 7"})
    assert refused.is_error and "not for the model" not in refused.text and refused.text
    assert missing_argument.is_error and missing_argument.text
    assert not after.is_error and "42" in after.text


@pytest.mark.integration
async def test_runs_sharing_the_hub_get_interpreters_of_their_own(hub: ToolHub) -> None:
    with anyio.fail_after(90):
        await hub.call("code__run_python", {"code": "secret = 'of run one'"}, scope="run-aaaa1111")
        mine = await hub.call("code__run_python", {"code": "secret"}, scope="run-aaaa1111")
        theirs = await hub.call("code__run_python", {"code": "secret"}, scope="run-bbbb2222")
        named = await hub.call("code__run_python", {"code": "secret", "session": "default"}, scope="run-bbbb2222")
    assert not mine.is_error and "of run one" in mine.text
    assert "NameError" in theirs.text and "of run one" not in theirs.text
    assert "of run one" not in named.text  # naming the session does not reach another run's
    assert scoped_session("run-0123456789ab", "a b/c" * 20) == ("0123456789ab-" + "a-b-c" * 20)[:64]


@pytest.mark.integration
async def test_an_unknown_tool_name_is_an_error_outcome_naming_the_tools(hub: ToolHub) -> None:
    outcome = await hub.call("documents__read_everything", {"source": "x"})
    assert outcome.is_error and "documents__read_everything" in outcome.text and "documents__read_document" in outcome.text


@pytest.mark.integration
async def test_a_matplotlib_plot_comes_back_as_an_image_part(hub: ToolHub) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nNone"
    with anyio.fail_after(90):
        outcome = await hub.call("code__run_python", {"code": code})
    assert not outcome.is_error and len(outcome.images) == 1
    image = outcome.images[0]
    assert image.mime_type == "image/png" and image.data.startswith("iVBOR")  # base64 of the PNG signature


@pytest.mark.integration
async def test_long_output_is_cut_to_the_cap_with_a_note_saying_how_much(hub: ToolHub, folder: Path) -> None:
    with anyio.fail_after(60):
        outcome = await hub.call("documents__read_document", {"source": str(folder / "long.txt"), "max_length": 20_000})
    assert not outcome.is_error and outcome.truncated
    body, note = outcome.text[:3000], outcome.text[3000:]
    assert "line 00000" in body and "line 00399" not in outcome.text
    assert "Cut here" in note and "characters were left out" in note and "3,000" in note


@pytest.mark.integration
async def test_a_call_over_its_time_limit_is_an_error_outcome_and_the_server_goes_on(hub: ToolHub) -> None:
    with anyio.fail_after(60):
        slow = await hub.call("code__run_python", {"code": "import time\ntime.sleep(20)", "session": "slow"}, timeout_s=1)
        quick = await hub.call("code__run_python", {"code": "'still here'"})
    assert slow.is_error and not slow.restarted and "within 1 s" in slow.text
    assert slow.seconds < 10
    assert not quick.is_error and "still here" in quick.text


# --- hubs of their own ----------------------------------------------------------------------------


@pytest.mark.integration
async def test_a_server_over_streamable_http_works_beside_a_launched_one() -> None:
    with http_server("documents") as url, no_process_outlives() as seen:
        http_pid = server_pid("--transport")
        with anyio.fail_after(60):
            async with ToolHub.start([ServerEntry("web_docs", url=url), BUNDLED["code"]], environ=os.environ) as hub:
                # The HTTP server and its own workers (documents' conversion worker) are the test's, not the hub's.
                http_tree = {http_pid, *(p.pid for p in psutil.Process(http_pid).children(recursive=True))}
                seen.extend(p for p in server_processes() if p.pid not in http_tree)
                assert {"web_docs__read_document", "code__run_python"} <= {t.name for t in hub.tools}
                outcome = await hub.call("web_docs__read_document", {"source": "data:text/plain,over%20http"})
                assert not outcome.is_error and "over http" in outcome.text
        assert psutil.pid_exists(http_pid)  # the hub never stops a server it did not launch


@pytest.mark.integration
async def test_a_server_killed_during_a_call_is_restarted_once_and_the_call_reported(memento_home: Path) -> None:
    events: list[str] = []
    earlier = {p.pid for p in server_processes()}  # the module's shared hub has a code server too
    with no_process_outlives() as seen, anyio.fail_after(120):
        async with ToolHub.start([BUNDLED["code"]], environ=os.environ, on_event=lambda kind, data: events.append(kind)) as hub:
            first_pid = server_pid("memento-code", earlier)
            seen.extend(server_processes())
            outcomes = []

            async def slow_call() -> None:
                code = "open('hub-call-started', 'w').close()\nimport time\ntime.sleep(60)"
                outcomes.append(await hub.call("code__run_python", {"code": code}))

            async with anyio.create_task_group() as group:
                group.start_soon(slow_call)
                while not list(memento_home.rglob("hub-call-started")):  # the call is running in the sandbox
                    await anyio.sleep(0.05)
                os.kill(first_pid, signal.SIGKILL)
            [killed] = outcomes
            assert killed.is_error and killed.restarted and "restarted" in killed.text and "not repeated" in killed.text

            again = await hub.call("code__run_python", {"code": "'alive again'"})
            assert not again.is_error and not again.restarted and "alive again" in again.text
            second_pid = server_pid("memento-code", earlier)
            assert second_pid != first_pid
            seen.extend(server_processes())

            os.kill(second_pid, signal.SIGKILL)  # a second death, between calls: dead for good
            while "code" not in hub.failed:
                await anyio.sleep(0.05)
            gone = await hub.call("code__run_python", {"code": "1"})
            assert gone.is_error and not gone.restarted and "not running" in gone.text
    assert events.count("server_restarting") == 1 and events.count("server_dead") == 1


@pytest.mark.integration
async def test_a_server_that_cannot_start_is_in_failed_and_the_others_work() -> None:
    missing = ServerEntry("missing", "memento-no-such-command")
    with no_process_outlives() as seen, anyio.fail_after(60):
        async with ToolHub.start(
            [EXITS_AT_ONCE, missing, NEVER_ANSWERS, BUNDLED["documents"]], environ=os.environ, start_timeout_s=8
        ) as hub:
            seen.extend(server_processes())
            assert set(hub.failed) == {"broken", "missing", "silent"}
            assert "no settings for this server" in hub.failed["broken"]  # the server's own last words
            assert "was not found" in hub.failed["missing"]
            assert "no answer within 8 s" in hub.failed["silent"]
            assert {t.server for t in hub.tools} == {"documents"}
            outcome = await hub.call("documents__read_document", {"source": "data:text/plain,still%20works"})
            assert not outcome.is_error and "still works" in outcome.text


@pytest.mark.integration
async def test_when_no_server_starts_the_hub_raises_tool_hub_error() -> None:
    with anyio.fail_after(30), pytest.raises(ToolHubError, match=r"broken.*no settings for this server"):
        async with ToolHub.start([EXITS_AT_ONCE, ServerEntry("missing", "memento-no-such-command")], environ=os.environ):
            raise AssertionError("the body must not run")
    with pytest.raises(ToolHubError, match="no servers"):
        async with ToolHub.start([], environ=os.environ):
            raise AssertionError("the body must not run")


@pytest.mark.integration
async def test_no_server_process_outlives_the_hub_when_the_body_raises() -> None:
    with no_process_outlives() as seen, anyio.fail_after(60), pytest.raises(RuntimeError, match="the body failed"):
        async with ToolHub.start([BUNDLED["documents"], BUNDLED["code"]], environ=os.environ) as hub:
            seen.extend(server_processes())
            await hub.call("code__run_python", {"code": "1"})  # a sandboxed interpreter below the server too
            seen.extend(server_processes())
            raise RuntimeError("the body failed")


@pytest.mark.integration
async def test_no_server_process_outlives_the_hub_when_it_is_cancelled_during_a_call() -> None:
    with no_process_outlives() as seen, anyio.fail_after(60):
        with anyio.CancelScope() as scope:
            async with ToolHub.start([BUNDLED["documents"], BUNDLED["code"]], environ=os.environ) as hub:
                seen.extend(server_processes())
                async with anyio.create_task_group() as group:
                    group.start_soon(hub.call, "code__run_python", {"code": "import time\ntime.sleep(60)"})
                    while len(server_processes()) <= len(seen):  # wait for the sandbox of that call to appear
                        await anyio.sleep(0.05)
                    seen.extend(server_processes())
                    scope.cancel()  # as Ctrl-C or SIGTERM cancel the agent's task group
        assert scope.cancelled_caught


@pytest.mark.integration
async def test_no_server_process_outlives_a_hub_cancelled_while_servers_start() -> None:
    before = {p.pid for p in server_processes()}
    with no_process_outlives() as seen, anyio.fail_after(60):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:

                async def start_hub() -> None:
                    async with ToolHub.start([BUNDLED["documents"], NEVER_ANSWERS], environ=os.environ):
                        raise AssertionError("the silent server holds the start for 60 s")

                group.start_soon(start_hub)
                while len({p.pid for p in server_processes()} - before) < 2:  # both launched, neither answering yet
                    await anyio.sleep(0.05)
                seen.extend(server_processes())
                scope.cancel()
        assert scope.cancelled_caught
