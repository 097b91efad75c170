"""`memento run` end to end, as a user runs it: the real CLI, real tool servers over MCP, the real
Anthropic SDK against a fake Messages API on loopback, the real case bank and traces.

The fake replays the planner's and executor's replies in the order the agent asks; everything
the tools return is real: the local search index, a page served on 127.0.0.1, Python in the
code server's sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psutil
import pytest

from tests.fake_llm import FakeAnthropic, Text, ToolUse, answer, server_error
from tests.loopback import serving

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
PAGE = """<html><head><title>Refractory metals</title></head><body><article>
<h1>Refractory metals</h1>
<p>Rhenium has the second highest melting point of all elements, 3186 degrees Celsius, after tungsten.</p>
<p>Other refractory metals are molybdenum, niobium and tantalum.</p>
</article></body></html>"""


@pytest.fixture
def site() -> Iterator[str]:
    """One page on 127.0.0.1, served until the test ends."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Page) as base:
        yield base + "/metals"


@pytest.fixture
def workplace(tmp_path: Path, memento_home: Path) -> dict[str, str]:
    """An MCP config with the search (local index), browse and code servers, and the environment of a run."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "elements.md").write_text("# Melting points\n\nTungsten has the highest melting point of any element: 3422 degrees Celsius.\n")
    config = {
        "mcpServers": {
            name: {"command": sys.executable, "args": ["-m", f"memento.servers.{name}"]} for name in ("search", "browse", "code")
        }
    }
    (tmp_path / "mcp.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "MEMENTO_HOME": str(memento_home),
        "MEMENTO_ALLOW_PRIVATE_URLS": "true",  # the test site is on 127.0.0.1
        "MEMENTO_SEARCH_BACKENDS": "local",
        "MEMENTO_MCP_CONFIG": str(tmp_path / "mcp.json"),
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
        "MEMENTO_MODEL_RETRIES": "1",
    }
    built = subprocess.run(
        [sys.executable, "-m", "memento.agent.cli", "index", "build", str(notes)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert built.returncode == 0, built.stderr
    return env


def memento(env: dict[str, str], fake: FakeAnthropic, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memento.agent.cli", *args],
        env={**env, "ANTHROPIC_BASE_URL": fake.url},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


def run_record(home: Path, run_id: str) -> dict:
    with sqlite3.connect(home / "runs.sqlite") as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row)


def test_a_two_subtask_research_is_answered_scored_learned_and_shown_to_the_next_task(
    fake_anthropic: FakeAnthropic, workplace: dict[str, str], site: str, memento_home: Path
) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Find the two highest melting points", "Compute their difference"]})),
        answer(ToolUse("search__search_local", {"query": "highest melting point"})),
        answer(ToolUse("browse__fetch_page", {"url": site})),
        answer(Text("Tungsten 3422 C (local notes); rhenium 3186 C is second (web page).")),
        answer(ToolUse("code__run_python", {"code": "print(3422 - 3186)"})),
        answer(Text("The difference is 236 degrees.")),
        answer(ToolUse("submit_answer", {"answer": "Tungsten, 236"})),
    )
    task = "Which element has the highest melting point, and by how many degrees does it beat the runner-up?"
    done = memento(workplace, fake_anthropic, "run", task, "--truth", "Tungsten, 236", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert list(result) == ["run_id", "answer", "status", "reward", "cases_shown", "case_id", "usage", "plan", "report", "sources",
                            "reward_kind", "temperature", "q_version"]  # fmt: skip
    assert result["reward_kind"] == "verified" and result["temperature"] is None  # greedy unless --explore
    assert result["status"] == "answered" and result["answer"] == "Tungsten, 236" and result["reward"] == 1.0
    assert result["case_id"] and result["plan"] == ["Find the two highest melting points", "Compute their difference"]
    assert result["usage"]["total_tokens"] > 0

    # what the real tools gave went back to the model
    bodies = [json.dumps(seen.body) for seen in fake_anthropic.requests]
    assert "3422 degrees Celsius" in bodies[2]  # the local index found the note
    assert "3186 degrees Celsius" in bodies[3]  # the browse server read the page
    assert "236" in bodies[5]  # the code server ran the subtraction
    assert all(seen.streamed for seen in fake_anthropic.requests)
    trace = run_record(memento_home, result["run_id"])
    assert trace["status"] == "answered" and trace["reward"] == 1.0

    # a similar task: the planner is shown the learned case
    fake_anthropic.enqueue(answer(ToolUse("submit_answer", {"answer": "Tungsten"})))
    again = memento(workplace, fake_anthropic, "run", "Which element has the highest melting point?", "--json")
    second = json.loads(again.stdout)
    assert second["cases_shown"] and second["cases_shown"][0]["id"] == result["case_id"]
    assert "Find the two highest melting points" in json.dumps(fake_anthropic.requests[-1].body)
    assert second["reward"] is None and second["reward_kind"] == "unrated"  # no truth: stored unrated until feedback
    assert second["case_id"] and second["case_id"] != result["case_id"]

    fed = memento(workplace, fake_anthropic, "feedback", second["run_id"], "good")
    assert fed.returncode == 0, fed.stderr
    assert run_record(memento_home, second["run_id"])["reward"] == 1.0


def test_a_vendor_failing_until_retries_run_out_fails_the_run_cleanly_and_keeps_its_trace(
    fake_anthropic: FakeAnthropic, workplace: dict[str, str], memento_home: Path
) -> None:
    fake_anthropic.enqueue(server_error(500), server_error(500))
    done = memento(workplace, fake_anthropic, "run", "Anything at all?", "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "failed" and "sk-ant-test" not in done.stdout + done.stderr
    assert run_record(memento_home, result["run_id"])["status"] == "failed"


def test_without_a_key_the_run_stops_at_once_naming_the_variable(workplace: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in workplace.items() if k != "ANTHROPIC_API_KEY"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "memento.agent.cli", "run", "Anything?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1 and "ANTHROPIC_API_KEY" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 60  # no server was started (they take seconds)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_run_ends_it_cleanly_with_no_orphan_and_an_interrupted_trace(
    fake_anthropic: FakeAnthropic, workplace: dict[str, str], memento_home: Path, signum: int
) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Wait a long time"]})),
        answer(ToolUse("code__run_python", {"code": "import time; time.sleep(60)"})),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "memento.agent.cli", "run", "Wait", "--json"],
        env={**workplace, "ANTHROPIC_BASE_URL": fake_anthropic.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(fake_anthropic.requests) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert len(fake_anthropic.requests) == 2, "the run never reached its tool call"
        time.sleep(1.0)  # the sleep is now running in the sandbox
        family = [process.pid, *(child.pid for child in psutil.Process(process.pid).children(recursive=True))]
        assert len(family) > 3  # the CLI and its servers (and their workers)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 130 and "Interrupted" in stderr and "Traceback" not in stderr
    survivors = [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not survivors
    with sqlite3.connect(memento_home / "runs.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
