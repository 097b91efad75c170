"""A full episode driven by the real 0.5B local model: the demo corpus, the real servers over stdio, the real CLI.

The only test where no reply is scripted: `memento run` with `local:qwen2.5-0.5b`
as planner, executor and judge researches a fact that only the bundled Vellmark
corpus holds (it is invented), through the search and documents servers of the
demo's config. The weights come from the installed part packages (`make test`
installs them); a missing model fails this test, it never skips. Slow on 2 busy
cores (minutes), so the run is kept short: one plan, three steps, then the answer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memento.agent.cli.demo_setup import DEMO_TOOLS, prepare
from memento.agent.settings import AgentSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
MODEL = "local:qwen2.5-0.5b"
# In pages/cheese.md alone (and named in pages/language.md): no model knows it from its training.
TASK = "What is the name of the hard sheep's-milk cheese made on the island of Vellmark?"
TRUTH = "Graumel"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # Assembled once for the module from the part packages (half a gigabyte), not once per MEMENTO_HOME.
    yield tmp_path_factory.mktemp("models")


def demo_run(memento_home: Path, models_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The environment and model options of a `memento run` as the offline demo makes it: the corpus index built,
    the demo's config, the small model as planner, executor and judge, the executor offered search and read."""
    ground = prepare(AgentSettings.from_env({"MEMENTO_HOME": str(memento_home)}), lambda line: None)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MEMENTO_HOME": str(memento_home),
        "MEMENTO_LOCAL_MODELS_DIR": str(models_dir),
        "MEMENTO_EXECUTOR_TOOLS": ",".join(DEMO_TOOLS),  # as the demo: search the corpus, read the page found
    }
    return env, ["--planner", MODEL, "--executor", MODEL, "--judge", MODEL, "--config", str(ground.config)]


@pytest.mark.timeout(1800)  # the suite's 300 s is too short for a real model on 2 busy cores
def test_the_real_small_model_searches_the_corpus_through_the_servers_and_answers_what_only_it_holds(
    memento_home: Path, models_dir: Path
) -> None:
    env, args = demo_run(memento_home, models_dir)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "memento.agent.cli",
            "run",
            TASK,
            "--truth",
            TRUTH,
            "--max-cycles",
            "1",
            "--max-steps",
            "3",
            *args,
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    with sqlite3.connect(memento_home / "runs.sqlite") as db:
        calls = db.execute("SELECT server, tool, is_error FROM tool_calls WHERE run_id = ?", (result["run_id"],)).fetchall()
    print(f"real-model episode: {seconds:.0f} s, {len(calls)} tool calls {calls}, answer {result['answer']!r}")
    assert any(not is_error and server in ("search", "documents") for server, _, is_error in calls), calls
    assert result["status"] == "answered" and TRUTH.lower() in result["answer"].lower(), result
