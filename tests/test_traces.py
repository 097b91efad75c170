"""The run traces: the SQLite store the agent logs every run to (the commands that read it: test_runs_cli.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from memento.agent.llm import Usage
from memento.agent.traces import MIGRATIONS, RunStore, scrub_text
from memento.core.errors import RunNotFound
from tests.trace_helpers import SETTINGS, record_run


@pytest.fixture
def store(memento_home: Path) -> Any:
    with RunStore.open(memento_home) as opened:
        yield opened


# ---- the store ------------------------------------------------------------------------------


def test_migrations_are_applied_once_and_recorded_and_reopening_changes_nothing(memento_home: Path) -> None:
    with RunStore.open(memento_home) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        record_run(store)
    with RunStore.open(memento_home) as again:
        assert again.applied_migrations() == [name for name, _ in MIGRATIONS]
        assert len(again.list_runs()) == 1
    db = sqlite3.connect(memento_home / "runs.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_a_file_written_by_an_older_version_is_migrated_and_its_runs_read_back(memento_home: Path) -> None:
    # The file as the version before images and run owners wrote it: migrations m001..m004 only.
    memento_home.mkdir(parents=True)
    old = sqlite3.connect(memento_home / "runs.sqlite")
    try:
        old.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        for name, migration in MIGRATIONS[:4]:
            migration(old)
            old.execute("INSERT INTO migrations (name, applied) VALUES (?, ?)", (name, 1.0))
        old.execute(
            "INSERT INTO runs (id, task, source, planner, executor, settings, files, status, answer, reward, reward_source,"
            " input_tokens, output_tokens, cost_usd, started, finished, steps)"
            " VALUES ('run-0ld0ld0ld0ld', 'An old task', 'user', 'p', 'e', '{}', '[]', 'answered', 'Old answer', 1.0, 'judge',"
            " 10, 5, 0.01, 1000.0, 1002.5, 2)"
        )
        old.execute(
            "INSERT INTO tool_calls (run_id, seq, server, tool, arguments, result_chars, is_error, seconds, preview, truncated,"
            " restarted, created) VALUES ('run-0ld0ld0ld0ld', 1, 'search', 'web_search', '{\"query\": \"tea\"}', 10, 0, 0.5,"
            " 'ok', 0, 0, 1001.0)"
        )
        old.execute("INSERT INTO rewards (run_id, seq, reward, source, created) VALUES ('run-0ld0ld0ld0ld', 2, 1.0, 'judge', 1002.5)")
        old.commit()
    finally:
        old.close()
    with RunStore.open(memento_home) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        [listed] = store.list_runs()
        assert (listed.id, listed.status, listed.tokens, listed.seconds) == ("run-0ld0ld0ld0ld", "answered", 15, 2.5)
        run = store.get_run("0ld0")
        assert (run.task, run.answer, run.reward, run.case_pending) == ("An old task", "Old answer", 1.0, False)
        [call] = run.tool_calls
        assert (call.tool, call.arguments, call.images, call.step, call.offset_s) == ("web_search", {"query": "tea"}, [], 1, 1.0)
        assert [(r.reward, r.source) for r in run.rewards] == [(1.0, "judge")]
        # The migrated file takes new runs beside the old one.
        store.start_run("A new task", planner="p", executor="e", settings={})
        assert len(store.list_runs()) == 2


def test_a_run_as_json_has_exactly_the_keys_memento_runs_show_has_always_printed_then_the_reports(store: RunStore) -> None:
    run = store.get_run(record_run(store)).to_json()
    assert list(run) == [
        "id", "task", "source", "status", "planner", "executor", "settings", "files", "answer", "reward", "reward_source",
        "judgement", "case_id", "case_pending", "stopped_by", "error", "usage", "tokens", "cost_usd", "started", "finished",
        "seconds", "started_ts", "finished_ts", "cases_shown", "plans", "subtasks", "model_calls", "tool_calls", "rewards", "totals",
        # added with the report answer mode, after every earlier key
        "report", "sources", "sources_collected", "citations_removed", "reward_kind", "temperature", "q_version",
    ]  # fmt: skip
    assert (run["report"], run["sources"], run["sources_collected"], run["citations_removed"]) == ("", [], 0, 0)
    assert set(run["usage"]) == {"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "total_tokens", "cost_usd"}
    at = {"step", "offset_s"}
    assert set(run["cases_shown"][0]) == {"id", "task", "outcome", "score"} | at
    assert set(run["plans"][0]) == {"cycle", "subtasks"} | at
    assert set(run["subtasks"][0]) == {"cycle", "index", "subtask", "result", "status"} | at
    assert set(run["model_calls"][0]) == {"role", "model", "usage", "latency_s", "stop_reason", "error"} | at
    assert set(run["tool_calls"][0]) == {
        "server", "tool", "arguments", "result_chars", "is_error", "seconds", "preview", "truncated", "restarted", "images",
    } | at  # fmt: skip
    assert set(run["rewards"][0]) == {"reward", "source"} | at
    assert json.loads(json.dumps(run)) == run  # plain JSON all the way down
    [listed] = store.list_runs()
    assert list(listed.to_json()) == [
        "id",
        "task",
        "status",
        "answer",
        "reward",
        "planner",
        "executor",
        "tokens",
        "cost_usd",
        "seconds",
        "started",
    ]


def test_errors_and_results_that_quote_a_key_are_masked_in_the_trace(store: RunStore) -> None:
    run_id = store.start_run("Keys in errors", planner="p", executor="e", settings={})
    store.log_model_call(
        run_id, role="planner", model="p", usage=Usage(), latency_s=0.1, error="401: bad key sk-ant-api03-abcdefghijklmnop"
    )
    store.log_subtask(run_id, 1, 1, "read the config", "found OPENAI_API_KEY=sk-proj-0123456789abcdefABCDEF in .env", "done")
    store.finish_run(
        run_id, answer="", status="failed", reward=None, judgement=None, case_id=None, usage=Usage(),
        error="gave up: https://api.example.com/v1?api_key=abc123def456 refused",
    )  # fmt: skip
    run = store.get_run(run_id)
    assert run.model_calls[0].error == "401: bad key ***"
    assert run.subtasks[0].result == "found OPENAI_API_KEY=*** in .env"
    assert run.error == "gave up: https://api.example.com/v1?api_key=*** refused"


def test_a_whole_run_reads_back_in_the_order_it_was_logged_with_its_totals(store: RunStore) -> None:
    run_id = record_run(store)
    assert run_id.startswith("run-") and len(run_id) == len("run-") + 12
    run = store.get_run(run_id)
    assert run.task == "What is the capital of Australia?" and run.status == "answered"
    assert (run.planner, run.executor, run.files) == ("fake:planner", "fake:executor", ["notes.pdf"])
    assert run.settings == SETTINGS  # max_tokens is a count, not a secret
    assert run.answer == "Canberra" and run.reward == 1.0 and run.reward_source == "judge"
    assert run.judgement == {"correct": True} and run.case_id == "case-ccc"
    assert [c.id for c in run.cases_shown] == ["case-aaa", "case-bbb"]
    assert run.cases_shown[0].to_json() | {"offset_s": 0} == {
        "id": "case-aaa",
        "task": "What is the capital of Canada?",
        "outcome": "positive",
        "score": 0.91,
        "step": 1,
        "offset_s": 0,
    }
    assert [(p.cycle, p.subtasks) for p in run.plans] == [(1, ["search the capital", "check it"]), (2, ["check on another site"])]
    assert [(s.cycle, s.index, s.status) for s in run.subtasks] == [(1, 1, "done"), (1, 2, "failed"), (2, 1, "done")]
    assert [c.role for c in run.model_calls] == ["planner", "executor"]
    assert run.model_calls[1].usage.cache_read_tokens == 50
    assert [(c.tool, c.is_error) for c in run.tool_calls] == [("web_search", False), ("fetch_page", True)]
    assert run.tool_calls[1].preview == "FetchFailed: HTTP 503"
    kinds = ("cases_shown", "plans", "subtasks", "model_calls", "tool_calls", "rewards")
    every_step = sorted(((s.step, kind, s) for kind in kinds for s in getattr(run, kind)), key=lambda found: found[0])
    assert [kind for _, kind, _ in every_step] == [
        "cases_shown",
        "cases_shown",  # one step: shown together
        "model_calls",
        "plans",
        "model_calls",
        "tool_calls",
        "subtasks",
        "tool_calls",
        "subtasks",
        "plans",
        "subtasks",
        "rewards",
    ]
    assert run.seconds is not None and all(0 <= step.offset_s <= run.seconds + 0.001 for _, _, step in every_step)
    assert run.usage == Usage(300, 50, 50, cost_usd=0.003) and run.tokens == 400
    assert run.totals.to_json() == {
        "cycles": 2,
        "subtasks": 3,
        "model_calls": 2,
        "model_tokens": 400,
        "model_cost_usd": 0.003,
        "model_seconds": 1.2,
        "tool_calls": 2,
        "tool_errors": 1,
        "tool_seconds": 1.0,
    }
    assert [(r.reward, r.source) for r in run.rewards] == [(1.0, "judge")]


def test_a_running_run_shows_the_tokens_of_its_calls_so_far(store: RunStore) -> None:
    run_id = store.start_run("Still thinking", planner="p", executor="e", settings={})
    store.log_model_call(run_id, role="planner", model="p", usage=Usage(10, 5, cost_usd=0.5), latency_s=0.1)
    store.log_model_call(run_id, role="executor", model="e", usage=Usage(1, 1, cost_usd=0.25), latency_s=0.1, error="overloaded")
    [listed] = store.list_runs()
    assert (listed.status, listed.tokens, listed.cost_usd, listed.seconds) == ("running", 17, 0.75, None)
    assert store.get_run(run_id).model_calls[1].error == "overloaded"


def test_secrets_in_settings_and_tool_arguments_never_reach_the_database(store: RunStore, memento_home: Path) -> None:
    settings = {
        "api_key": "sk-settings-1",
        "Anthropic_ApiKey": "sk-settings-2",
        "max_tokens": 1000,
        "providers": [{"name": "openai", "headers": {"Authorization": "Bearer sk-settings-3", "X-Trace": "keep"}}],
        "nested": {"deeper": {"client_secret": "sk-settings-4", "db_password": "sk-settings-5", "hf_token": "sk-settings-6"}},
    }
    run_id = store.start_run("Secrets", planner="p", executor="e", settings=settings)
    arguments = {"url": "https://example.org", "auth": {"access_token": "sk-argument-1"}, "items": [{"PASSWORD": "sk-argument-2"}]}
    store.log_tool_call(run_id, server="browse", tool="fetch_page", arguments=arguments, result_chars=1, is_error=False, seconds=0.1)
    run = store.get_run(run_id)
    assert run.settings["api_key"] == run.settings["Anthropic_ApiKey"] == "***"
    assert run.settings["max_tokens"] == 1000
    assert run.settings["providers"][0]["headers"] == {"Authorization": "***", "X-Trace": "keep"}
    assert set(run.settings["nested"]["deeper"].values()) == {"***"}
    assert run.tool_calls[0].arguments == {
        "url": "https://example.org",
        "auth": {"access_token": "***"},
        "items": [{"PASSWORD": "***"}],
    }
    store.close()
    raw = b"".join(p.read_bytes() for p in memento_home.glob("runs.sqlite*"))
    assert b"sk-settings" not in raw and b"sk-argument" not in raw
    assert settings["api_key"] == "sk-settings-1"  # the caller's own dict is left alone


def test_credentials_in_tool_output_and_free_text_arguments_are_masked_by_their_shape(store: RunStore) -> None:
    run_id = store.start_run("Shapes", planner="p", executor="e", settings={})
    printed = "ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnop\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig\nghp_0123456789abcdefghijABCDEFGHIJ"
    store.log_tool_call(
        run_id, server="code", tool="run_shell", arguments={"command": "echo sk-proj-0123456789abcdefABCDEF"},
        result_chars=len(printed), is_error=False, seconds=0.1, preview=printed,
    )  # fmt: skip
    call = store.get_run(run_id).tool_calls[0]
    assert call.arguments == {"command": "echo ***"}
    assert "sk-ant" not in call.preview and "eyJhbGci" not in call.preview and "ghp_" not in call.preview
    assert call.preview.startswith("ANTHROPIC_API_KEY=***")
    assert scrub_text("max_tokens=4096, task-skim, a sketchy sk-") == "max_tokens=4096, task-skim, a sketchy sk-"  # no false alarms


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from memento.agent.llm import Usage
    from memento.agent.traces import RunStore

    home, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()  # every writer starts at once, on a file none has created yet
    with RunStore.open(home) as store:
        for n in range(count):
            run_id = store.start_run(f"{name} task {n}", planner="p", executor="e", settings={})
            store.log_plan(run_id, 1, ["one", "two"])
            store.log_model_call(run_id, role="planner", model="p", usage=Usage(1, 1), latency_s=0.0)
            store.log_tool_call(run_id, server="s", tool="t", arguments={"n": n}, result_chars=1, is_error=False, seconds=0.0)
            store.log_subtask(run_id, 1, 1, "one", "ok", "done")
            store.finish_run(run_id, answer="a", status="answered", reward=1.0, judgement=None, case_id=None, usage=Usage(1, 1))
    print("done", flush=True)
    """
)


@pytest.mark.slow  # starts four interpreters
def test_several_processes_write_runs_at_once_without_losing_any(memento_home: Path) -> None:
    writers, count = 4, 40
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(memento_home), f"writer{i}", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for proc, (out, err) in zip(procs, outcomes):
        assert proc.returncode == 0 and out.strip() == "done", err
        assert "locked" not in err
    with RunStore.open(memento_home) as store:
        found = store.list_runs(limit=1000)
        assert len(found) == writers * count
        assert all(r.status == "answered" for r in found)
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        for run in found[:: count // 2]:
            steps = store.get_run(run.id)
            assert (len(steps.plans), len(steps.subtasks), len(steps.model_calls), len(steps.tool_calls)) == (1, 1, 1, 1)


def test_images_a_tool_returned_are_kept_as_files_and_found_only_by_their_names(store: RunStore) -> None:
    run_id = record_run(store)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    store.log_tool_call(
        run_id, server="browse", tool="screenshot", arguments={}, result_chars=0, is_error=False, seconds=0.1,
        images=[("image/png", png), ("text/html", b"<b>not an image</b>"), ("image/jpeg", b"")],
    )  # fmt: skip
    [name] = store.get_run(run_id).tool_calls[-1].images
    path = store.image_path(run_id, name)
    assert path is not None and path.read_bytes() == png and name.endswith(".png")
    assert store.image_path(run_id, "../../runs.sqlite") is None
    assert store.image_path("../" + run_id, name) is None
    assert store.image_path(run_id, "0123456789abcdef.png") is None  # well formed, but no such image


def test_a_run_is_found_by_a_unique_prefix_of_its_id(store: RunStore) -> None:
    first = store.start_run("one", planner="p", executor="e", settings={}, run_id="run-aaa111")
    store.start_run("two", planner="p", executor="e", settings={}, run_id="run-aaa222")
    assert store.get_run("run-aaa1").id == first
    assert store.get_run("aaa1").id == first  # "run-" may be left off
    with pytest.raises(RunNotFound, match="several runs"):
        store.get_run("run-aaa")


def test_an_unknown_run_is_run_not_found_for_reads_and_writes(store: RunStore) -> None:
    with pytest.raises(RunNotFound, match="memento runs list"):
        store.get_run("run-nothere")
    with pytest.raises(RunNotFound):
        store.set_reward("run-nothere", 1.0)
    with pytest.raises(RunNotFound):
        store.log_plan("run-nothere", 1, ["x"])
    with pytest.raises(RunNotFound):
        store.finish_run("run-nothere", answer="", status="failed", reward=None, judgement=None, case_id=None, usage=Usage())
    assert store.list_runs() == []


def test_listing_filters_by_status_and_text_newest_first(store: RunStore) -> None:
    answered = record_run(store, "Who wrote Frankenstein?")
    running = store.start_run("How tall is K2? 100%", planner="p", executor="e", settings={})
    assert [r.id for r in store.list_runs()] == [running, answered]
    assert [r.id for r in store.list_runs(status="answered")] == [answered]
    assert [r.id for r in store.list_runs(search="frankenstein")] == [answered]
    assert [r.id for r in store.list_runs(search="canberra")] == [answered]  # the answer is searched too
    assert [r.id for r in store.list_runs(search="100%")] == [running]
    assert [r.id for r in store.list_runs(search="_")] == []  # LIKE wildcards are taken literally
    assert len(store.list_runs(limit=1)) == 1


def test_a_later_reward_replaces_the_run_reward_and_keeps_the_history(store: RunStore) -> None:
    run_id = record_run(store)
    store.set_reward(run_id, 0.0)
    run = store.get_run(run_id)
    assert (run.reward, run.reward_source) == (0.0, "feedback")
    assert [(r.reward, r.source) for r in run.rewards] == [(1.0, "judge"), (0.0, "feedback")]


def test_a_run_whose_process_was_killed_reads_as_interrupted_not_running(memento_home: Path) -> None:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from memento.agent.traces import RunStore\n"
        "store = RunStore.open(Path(sys.argv[1]))\n"
        "print(store.start_run('Killed mid-run', planner='p', executor='e', settings={}), flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(memento_home)], stdout=subprocess.PIPE, text=True)
    try:
        run_id = process.stdout.readline().strip()
        with RunStore.open(memento_home) as store:
            assert store.get_run(run_id).status == "running"  # its process is alive: it is running
            process.kill()
            process.wait(30)
            run = store.get_run(run_id)
            assert run.status == "interrupted" and "ended before it finished" in (run.error or "")
            assert store.list_runs(status="running") == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        process.stdout.close()
