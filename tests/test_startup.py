"""`memento run` does not wait for its tool servers: the planner's first request leaves while a slow server still
starts (its tools known from the listing cached by an earlier run), a tool call waits for its own server, a server
that fails to start is a note and the run still answers, and no server outlives the command.

The slow server is a few lines of JSON-RPC over stdio (no SDK import, so its delay is the one the test sets);
the model is the real Anthropic SDK against the fake Messages API on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest

from memento.agent.hosts import ServerEntry
from memento.agent.hub import ToolHub
from memento.agent.hub_cache import ToolListCache, cache_key
from tests.fake_api import Item
from tests.fake_llm import FakeAnthropic, Text, ToolUse, answer

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent

SLOW_SERVER = textwrap.dedent(
    '''
    """An MCP server over stdio that, before it answers `initialize`, waits the seconds written in the file argv[1]
    (when it exists) or, if that file names another file, until that one appears (60 s at most); it notes in argv[2]
    its pid and when it answered."""
    import json, os, sys, time
    from pathlib import Path

    delay_file, log = Path(sys.argv[1]), Path(sys.argv[2])
    delay = delay_file.read_text() if delay_file.exists() else "0"

    def wait():
        if not delay.startswith("/"):
            time.sleep(float(delay))
            return
        deadline = time.time() + 60
        while not Path(delay).exists() and time.time() < deadline:
            time.sleep(0.05)
    TOOL = {"name": "echo", "description": "Say the text back.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}
    for line in sys.stdin:
        message = json.loads(line)
        if "id" not in message or "method" not in message:
            continue
        method, params = message["method"], message.get("params") or {}
        if method == "initialize":
            wait()
            log.write_text(json.dumps({"pid": os.getpid(), "initialized_at": time.time()}))
            result = {"protocolVersion": params.get("protocolVersion", "2025-06-18"), "capabilities": {"tools": {}},
                      "serverInfo": {"name": "slow", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": [TOOL]}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": "echo: " + params["arguments"]["text"]}], "isError": False}
        else:
            result = {}
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)
    '''
)


class Recorder:
    """Answers the fake API's requests from a script and notes when each one arrived."""

    def __init__(self, fake: FakeAnthropic, signal: Path | None = None) -> None:
        self.arrived: list[float] = []
        self.signal = signal  # created when a request arrives (a server of the test waits for it)
        self.script: list[Item] = []
        self._lock = threading.Lock()
        fake.responder = self

    def __call__(self, body: dict[str, Any]) -> Item:
        with self._lock:
            self.arrived.append(time.time())
            if self.signal is not None:
                self.signal.touch()
            return self.script.pop(0)


@pytest.fixture
def slow(tmp_path: Path) -> dict[str, Path]:
    """The slow server's script, the file holding its delay and the file where it notes its start."""
    script = tmp_path / "slow_server.py"
    script.write_text(SLOW_SERVER)
    return {"script": script, "delay": tmp_path / "delay.txt", "log": tmp_path / "slow.json"}


def write_config(tmp_path: Path, slow: dict[str, Path], **more: dict[str, Any]) -> Path:
    servers = {"slow": {"command": sys.executable, "args": [str(slow["script"]), str(slow["delay"]), str(slow["log"])]}, **more}
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    return config


def memento_run(config: Path, fake: FakeAnthropic, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MEMENTO_MCP_CONFIG": str(config),
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
        "ANTHROPIC_BASE_URL": fake.url,
        "MEMENTO_MODEL_RETRIES": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "memento.agent.cli", "run", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


def memento_run_on_a_terminal(config: Path, fake: FakeAnthropic, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """The run with its stderr on a pseudo-terminal, where its progress and notes are shown; and what it showed."""
    main, secondary = pty.openpty()
    env = {"MEMENTO_MCP_CONFIG": str(config), "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key", "ANTHROPIC_BASE_URL": fake.url}
    shown = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):  # EIO once the run closed its end
            while chunk := os.read(main, 4096):
                shown.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "memento.agent.cli", "run", *args],
            env={**os.environ, **env, "MEMENTO_MODEL_RETRIES": "1", "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=secondary,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )
    finally:
        os.close(secondary)
        reader.join(10)
        os.close(main)
    return done, " ".join(shown.decode("utf-8", "replace").split())


async def listed_once(tmp_path: Path, slow: dict[str, Path]) -> tuple[ServerEntry, Path]:
    """The slow server's entry, started once (waited for) so that its listing is cached, and the cache folder."""
    entry = ServerEntry("slow", sys.executable, [str(slow["script"]), str(slow["delay"]), str(slow["log"])])
    cache = tmp_path / "cache"
    async with ToolHub.start([entry], environ=os.environ, cache_dir=cache) as hub:  # waits, and keeps the listing
        assert [t.name for t in hub.tools] == ["slow__echo"]
    return entry, cache


def answered_at_once(text: str) -> Item:
    return answer(ToolUse("submit_answer", {"answer": text, "report": f"{text}."}))


@pytest.mark.integration
def test_the_first_planner_request_leaves_before_the_slowest_server_is_ready_and_its_tool_still_works(
    fake_anthropic: FakeAnthropic, memento_home: Path, tmp_path: Path, slow: dict[str, Path]
) -> None:
    config = write_config(tmp_path, slow)
    recorder = Recorder(fake_anthropic)
    recorder.script = [answered_at_once("first")]
    first = memento_run(config, fake_anthropic, "Say first.", "--memory", "none", "-q")  # no listing cached yet: it waits
    assert first.returncode == 0, first.stderr
    assert list((memento_home / "cache" / "tools").glob("slow-*.json")), "the first run keeps the slow server's listing"

    slow["delay"].write_text(str(tmp_path / "planner-asked"))  # the server answers only once the planner was asked
    recorder.signal = tmp_path / "planner-asked"
    slow["log"].unlink()
    recorder.arrived.clear()
    fake_anthropic.reset()
    recorder.script = [
        answer(ToolUse("submit_plan", {"subtasks": ["Echo the word ready"]})),
        answer(ToolUse("slow__echo", {"text": "ready"})),
        answer(Text("The server said: echo: ready")),
        answered_at_once("ready"),
    ]
    done = memento_run(config, fake_anthropic, "Echo the word ready.", "--memory", "none", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "ready"
    initialized_at = json.loads(slow["log"].read_text())["initialized_at"]
    assert recorder.arrived[0] < initialized_at, "the planner's first request waited for the slow server"
    planner_tools = fake_anthropic.requests[0].body["system"]
    assert "slow__echo" in json.dumps(planner_tools), "the planner's catalogue lists the cached tool"
    assert recorder.arrived[1] > initialized_at, "the executor is offered tools only once their server is up"
    tool_result = json.dumps(fake_anthropic.requests[2].body["messages"][-1])
    assert "echo: ready" in tool_result


@pytest.mark.integration
def test_a_server_that_fails_to_start_is_reported_and_the_run_still_answers(
    fake_anthropic: FakeAnthropic, memento_home: Path, tmp_path: Path, slow: dict[str, Path]
) -> None:
    broken = {"command": sys.executable, "args": ["-c", "import sys; sys.exit('memento-test: no settings for this server')"]}
    config = write_config(tmp_path, slow, broken=broken)
    Recorder(fake_anthropic).script = [
        answer(ToolUse("submit_plan", {"subtasks": ["Echo ok"]})),
        answer(ToolUse("slow__echo", {"text": "ok"})),
        answer(Text("echo: ok")),
        answered_at_once("ok"),
    ]
    done, terminal = memento_run_on_a_terminal(config, fake_anthropic, "Echo ok.", "--memory", "none")
    assert done.returncode == 0, terminal
    assert done.stdout.startswith("ok")
    assert "server broken did not start" in terminal and "no settings for this server" in terminal


@pytest.mark.integration
def test_no_server_process_of_the_run_remains_after_it_exits(
    fake_anthropic: FakeAnthropic, memento_home: Path, tmp_path: Path, slow: dict[str, Path]
) -> None:
    config = write_config(tmp_path, slow)
    recorder = Recorder(fake_anthropic)
    recorder.script = [answered_at_once("one"), answered_at_once("two")]
    assert memento_run(config, fake_anthropic, "One.", "--memory", "none", "-q").returncode == 0
    first_pid = json.loads(slow["log"].read_text())["pid"]
    slow["delay"].write_text("60")  # still starting when the answer comes: the run must not wait for it, nor leave it
    began = time.monotonic()
    done = memento_run(config, fake_anthropic, "Two.", "--memory", "none", "-q")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began < 30, "the run waited for a server it never needed"
    assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == psutil.STATUS_ZOMBIE
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if str(slow["script"]) in " ".join(p.info["cmdline"] or [])]
    assert not leftovers, f"still running after the run: {[p.pid for p in leftovers]}"


@pytest.mark.integration
async def test_a_call_to_a_server_still_starting_waits_for_it_and_its_cached_tools_are_offered_at_once(
    tmp_path: Path, slow: dict[str, Path]
) -> None:
    entry, cache = await listed_once(tmp_path, slow)
    slow["delay"].write_text("2")
    with anyio.fail_after(60):
        async with ToolHub.start([entry], environ=os.environ, cache_dir=cache, wait=False) as hub:
            assert hub.tools == [] and [s.name for s in hub.specs()] == ["slow__echo"]  # from the cache, server not up
            outcome = await hub.call("slow__echo", {"text": "late"})
            assert not outcome.is_error and outcome.text == "echo: late"
            assert [t.name for t in hub.tools] == ["slow__echo"]


@pytest.mark.integration
async def test_without_a_cached_listing_a_call_waits_for_the_servers_still_starting(tmp_path: Path, slow: dict[str, Path]) -> None:
    entry = ServerEntry("slow", sys.executable, [str(slow["script"]), str(slow["delay"]), str(slow["log"])])
    slow["delay"].write_text("1")
    with anyio.fail_after(60):
        async with ToolHub.start([entry], environ=os.environ, wait=False) as hub:
            assert hub.specs() == [] and hub.waiting_without_listing() == ["slow"]
            outcome = await hub.call("slow__echo", {"text": "x"})
            assert outcome.text == "echo: x"


def test_a_cached_listing_is_keyed_by_the_servers_launch_and_a_broken_file_is_a_miss(tmp_path: Path) -> None:
    one = ServerEntry("docs", "memento-documents", ["--transport", "stdio"])
    other = ServerEntry("docs", "memento-documents", ["--transport", "stdio"], env={"MEMENTO_X": "1"})
    assert cache_key(one) != cache_key(other) and cache_key(one) == cache_key(
        ServerEntry("docs", "memento-documents", ["--transport", "stdio"])
    )
    cache = ToolListCache(tmp_path)
    cache.save(one, [{"name": "read", "inputSchema": {"type": "object"}}])
    assert cache.load(one) == [{"name": "read", "inputSchema": {"type": "object"}}] and cache.load(other) is None
    (tmp_path / f"{cache_key(one)}.json").write_text("{torn")
    assert cache.load(one) is None
    assert ToolListCache(None).load(one) is None


@pytest.mark.integration
async def test_a_confined_view_made_while_servers_start_sees_them_come_up(tmp_path: Path, slow: dict[str, Path]) -> None:
    entry = ServerEntry("slow", sys.executable, [str(slow["script"]), str(slow["delay"]), str(slow["log"])])
    slow["delay"].write_text("1")
    with anyio.fail_after(60):
        async with ToolHub.start([entry], environ=os.environ, wait=False) as hub:
            view = hub.confined(tmp_path)  # as an eval makes one per task, maybe before any server is up
            await hub.started()
            assert [t.name for t in view.tools] == ["slow__echo"] and [s.name for s in view.specs()] == ["slow__echo"]
            assert (await view.call("slow__echo", {"text": "v"})).text == "echo: v"


@pytest.mark.integration
async def test_a_deferred_hub_starts_no_server_until_launched_and_offers_the_cached_tools_meanwhile(
    tmp_path: Path, slow: dict[str, Path]
) -> None:
    entry, cache = await listed_once(tmp_path, slow)
    slow["log"].unlink()
    with anyio.fail_after(60):
        async with ToolHub.start([entry], environ=os.environ, cache_dir=cache, wait=False, deferred=True) as hub:
            assert [s.name for s in hub.specs()] == ["slow__echo"]  # the catalogue, from the cache
            await anyio.sleep(1.0)
            assert not slow["log"].exists(), "a deferred hub started its server before anyone asked"
            hub.launch()
            await hub.started()
            assert slow["log"].exists() and [t.name for t in hub.tools] == ["slow__echo"]
        async with ToolHub.start([entry], environ=os.environ, cache_dir=cache, wait=False, deferred=True) as hub:
            assert (await hub.call("slow__echo", {"text": "on use"})).text == "echo: on use"  # a call launches it too


@pytest.mark.integration
def test_the_answer_is_on_stdout_before_the_judge_is_asked_and_the_case_written(
    fake_anthropic: FakeAnthropic, memento_home: Path, tmp_path: Path, slow: dict[str, Path]
) -> None:
    config = write_config(tmp_path, slow)
    env = {
        **os.environ,
        "MEMENTO_MCP_CONFIG": str(config),
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
        "MEMENTO_MODEL_RETRIES": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "memento.agent.cli", "run", "Spell the number after three.", "--truth", "4", "-q"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert process.stdout is not None
    seen_before_judging = bytearray()

    def respond(body: dict[str, Any]) -> Item:
        if not any(tool["name"] == "submit_verdict" for tool in body.get("tools", [])):
            return answered_at_once("four")
        os.set_blocking(process.stdout.fileno(), False)  # what the run had printed when its judge was asked
        with contextlib.suppress(BlockingIOError, TypeError):
            seen_before_judging.extend(process.stdout.read() or b"")
        return answer(ToolUse("submit_verdict", {"verdict": "correct", "reason": "four is 4"}))

    fake_anthropic.responder = respond
    with process:
        try:
            process.wait(240)
        finally:
            process.kill()
        errors = process.stderr.read() if process.stderr else b""
        rest = process.stdout.read() or b""
    assert process.returncode == 0, errors
    assert seen_before_judging.decode().startswith("four\n\nfour."), "the answer waited for the judge"
    assert b"four" not in rest, "the answer was printed twice"
