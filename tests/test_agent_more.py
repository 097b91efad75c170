"""More of the agent end to end: an OpenAI planner and executor, a model's bad tool calls, a budget hit,
the research server through the official MCP client, `memento chat` and `memento demo`.

Every run is the real CLI (or the real research server) in a subprocess, with the real code server over
MCP and the real vendor SDK talking to a fake API on loopback that replays scripted replies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.fake_llm import FakeAnthropic, FakeOpenAI, Text, ToolUse, answer, rate_limited
from tests.mcp_servers import server_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
VENDOR_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
RUN_KEYS = ["run_id", "answer", "status", "reward", "cases_shown", "case_id", "usage", "plan", "report", "sources",
            "reward_kind", "temperature", "q_version"]  # fmt: skip


@pytest.fixture
def code_only_config(tmp_path: Path) -> Path:
    """An MCP config naming the code server alone: the fastest real tool server to start."""
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"code": {"command": sys.executable, "args": ["-m", "memento.servers.code"]}}}))
    return path


@pytest.fixture
def workplace(code_only_config: Path, memento_home: Path) -> dict[str, str]:
    """The environment of a run: its own MEMENTO_HOME, the code-only config, one retry per model call, no key yet."""
    return {
        **os.environ,
        "MEMENTO_HOME": str(memento_home),
        "MEMENTO_MCP_CONFIG": str(code_only_config),
        "MEMENTO_MODEL_RETRIES": "1",
    }


def with_anthropic(env: dict[str, str], fake: FakeAnthropic) -> dict[str, str]:
    return {**env, "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key", "ANTHROPIC_BASE_URL": fake.url}


def memento(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memento.agent.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        cwd=ROOT,
    )


def trace(env: dict[str, str], run_id: str) -> dict[str, Any]:
    shown = memento(env, "runs", "show", run_id, "--json", timeout=60)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def anthropic_tool_results(seen_body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of the last user turn of a Messages API request."""
    last = seen_body["messages"][-1]
    assert last["role"] == "user"
    return [block for block in last["content"] if block.get("type") == "tool_result"]


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [])


# -- memento run ---------------------------------------------------------------------------------------


def test_an_openai_planner_and_executor_answer_through_a_real_tool_after_a_rate_limit(
    fake_openai: FakeOpenAI, workplace: dict[str, str]
) -> None:
    fake_openai.enqueue(
        rate_limited("1"),  # the SDK waits a second and sends the same request again
        answer(ToolUse("submit_plan", {"subtasks": ["Compute 6 times 7 with Python"]})),
        answer(ToolUse("code__run_python", {"code": "print(6 * 7)"})),
        answer(Text("Python printed 42.")),
        answer(ToolUse("submit_answer", {"answer": "42"})),
    )
    env = {**workplace, "OPENAI_API_KEY": "test", "OPENAI_BASE_URL": fake_openai.url + "/v1"}
    done = memento(env, "run", "What is 6 times 7?", "--planner", "openai:gpt-4.1", "--executor", "openai:o3", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert list(result) == RUN_KEYS
    assert result["status"] == "answered" and result["answer"] == "42"
    assert result["plan"] == ["Compute 6 times 7 with Python"]

    seen = fake_openai.requests
    assert len(seen) == 5 and fake_openai.remaining == 0  # the 429 cost one extra request, nothing more
    assert seen[0].body == seen[1].body  # the retry was the same request
    assert [s.body["model"] for s in seen[1:]] == ["gpt-4.1", "o3", "o3", "gpt-4.1"]
    assert all(s.api_key == "test" for s in seen)
    names = [tool["function"]["name"] for s in seen for tool in s.body.get("tools", [])]
    assert "code__run_python" in names and "submit_plan" in names
    assert all(VENDOR_TOOL_NAME.match(name) for name in names)
    tool_turns = [m for m in seen[3].body["messages"] if m["role"] == "tool"]
    assert len(tool_turns) == 1 and "42" in tool_turns[0]["content"]  # the code server really ran it


def test_an_unknown_tool_and_missing_arguments_come_back_to_the_model_as_errors_and_the_run_goes_on(
    fake_anthropic: FakeAnthropic, workplace: dict[str, str]
) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Compute 6 times 7"]})),
        answer(ToolUse("nosuch__tool", {"x": 1}), ToolUse("code__run_python", {})),
        answer(Text("Both tools failed; 6 times 7 is 42 by hand.")),
        answer(ToolUse("submit_answer", {"answer": "42"})),
    )
    env = with_anthropic(workplace, fake_anthropic)
    done = memento(env, "run", "What is 6 times 7?", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "answered" and result["answer"] == "42"

    results = anthropic_tool_results(fake_anthropic.requests[2].body)
    assert len(results) == 2 and all(block.get("is_error") is True for block in results)
    unknown, invalid = (result_text(block) for block in results)
    assert "nosuch__tool" in unknown and "code__run_python" in unknown  # names the tools that exist
    assert "code" in invalid.lower()  # the missing argument is named
    totals = trace(env, result["run_id"])["totals"]
    assert totals["tool_calls"] == 2 and totals["tool_errors"] == 2


def test_a_spent_tool_call_budget_ends_the_run_with_the_planners_best_answer(
    fake_anthropic: FakeAnthropic, workplace: dict[str, str]
) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Compute two numbers"]})),
        answer(ToolUse("code__run_python", {"code": "print(1)"}), ToolUse("code__run_python", {"code": "print(2)"})),
        answer(ToolUse("submit_answer", {"answer": "probably 3"})),
    )
    env = with_anthropic(workplace, fake_anthropic)
    done = memento(env, "run", "What is 1 plus 2?", "--max-tool-calls", "1", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "budget_exhausted" and result["answer"] == "probably 3"
    assert fake_anthropic.remaining == 0
    closing = json.dumps(fake_anthropic.requests[-1].body)
    assert "tool_calls budget is spent" in closing
    run = trace(env, result["run_id"])
    assert run["status"] == "budget_exhausted" and run["stopped_by"] == "tool_calls"
    assert run["totals"]["tool_calls"] == 0  # neither call ran: together they were over the budget


@pytest.mark.parametrize(
    ("config", "error"), [("missing", "Error: No MCP config at"), ("empty", "Error: No MCP tool server could be started")]
)
def test_a_config_with_no_usable_server_ends_run_and_chat_with_one_error_line_not_a_traceback(
    fake_anthropic: FakeAnthropic, workplace: dict[str, str], tmp_path: Path, config: str, error: str
) -> None:
    path = tmp_path / f"{config}.json"
    if config == "empty":
        path.write_text(json.dumps({"mcpServers": {}}))
    env = with_anthropic(workplace, fake_anthropic)
    for args in (["run", "Anything?", "--json"], ["chat"]):
        done = memento(env, *args, "--config", str(path), timeout=120)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(error)
    assert not fake_anthropic.requests  # no model was asked anything


# -- the research server over stdio ------------------------------------------------------------------


def research_server(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "memento.servers.research"], env=server_env(env), cwd=ROOT)


@pytest.mark.anyio
async def test_the_research_server_answers_over_stdio_and_reports_progress(
    fake_anthropic: FakeAnthropic, code_only_config: Path, memento_home: Path
) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Compute 6 times 7 with Python"]})),
        answer(ToolUse("code__run_python", {"code": "print(6 * 7)"})),
        answer(Text("Python printed 42.")),
        answer(ToolUse("submit_answer", {"answer": "42"})),
    )
    env = {
        "MEMENTO_HOME": str(memento_home),
        "MEMENTO_MCP_CONFIG": str(code_only_config),
        "MEMENTO_MODEL_RETRIES": "1",
        "ANTHROPIC_API_KEY": "test",
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
    }
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    with anyio.fail_after(240):
        async with Client(research_server(env), mode="legacy") as client:
            listed = await client.list_tools()
            assert [tool.name for tool in listed.tools] == ["deep_research"]
            result = await client.call_tool(
                "deep_research", {"question": "What is 6 times 7?"}, read_timeout_seconds=200, progress_callback=on_progress
            )
    assert not result.is_error, result.content
    text = "".join(getattr(block, "text", "") for block in result.content)
    assert text.startswith("42")
    structured = result.structured_content
    assert structured is not None and list(structured) == RUN_KEYS
    assert structured["status"] == "answered" and structured["answer"] == "42" and structured["run_id"] in text
    assert fake_anthropic.remaining == 0
    messages = [message or "" for _, message in progress]
    assert any(m.startswith("plan 1: Compute 6 times 7") for m in messages)
    assert "calling code__run_python" in messages
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)  # progress only goes up


@pytest.mark.anyio
async def test_without_a_key_the_research_tool_fails_naming_the_variable_yet_lists_its_tool(
    code_only_config: Path, memento_home: Path
) -> None:
    env = {"MEMENTO_HOME": str(memento_home), "MEMENTO_MCP_CONFIG": str(code_only_config)}
    with anyio.fail_after(120):
        async with Client(research_server(env), mode="legacy") as client:
            listed = await client.list_tools()
            assert [tool.name for tool in listed.tools] == ["deep_research"]
            result = await client.call_tool("deep_research", {"question": "What is 6 times 7?"}, read_timeout_seconds=60)
    assert result.is_error
    assert "ANTHROPIC_API_KEY" in "".join(getattr(block, "text", "") for block in result.content)


# -- memento chat and memento demo -----------------------------------------------------------------


def test_chat_answers_each_line_with_the_conversation_so_far_as_context(fake_anthropic: FakeAnthropic, workplace: dict[str, str]) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_answer", {"answer": "Tungsten melts at 3422 C."})),
        answer(ToolUse("submit_answer", {"answer": "Rhenium comes second."})),
    )
    env = with_anthropic(workplace, fake_anthropic)
    done = memento(env, "chat", "--memory", "none", stdin="Which metal melts hottest?\nAnd which comes second?\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Tungsten melts at 3422 C.", "Rhenium comes second."]  # answers only: no prompts
    first, second = (json.dumps(seen.body) for seen in fake_anthropic.requests)
    assert "Which metal melts hottest?" in first and "Tungsten" not in first
    assert "Which metal melts hottest?" in second and "Tungsten melts at 3422 C." in second  # the first turn, as context
    assert "And which comes second?" in second


def test_demo_without_a_key_or_a_local_model_names_the_variable_and_checks_the_configured_servers(workplace: dict[str, str]) -> None:
    # With a local model installed, the demo researches offline (test_demo.py, test_real_model.py); here its model is one
    # that cannot be called either. Run from the project folder: its own mcp.json must not win.
    done = memento({**workplace, "MEMENTO_DEMO_MODEL": "openai:gpt-4.1"}, "demo", timeout=180)
    assert done.returncode == 0, done.stderr
    assert "ANTHROPIC_API_KEY" in done.stderr and "Traceback" not in done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[0][:2] == ["server", "status"]
    assert [row[:2] for row in rows[2:]] == [["code", "ok"]]
