"""A user-facing run's report in the trace: kept with its numbered sources, read back by `memento runs show`
(text and `--json`) and the web UI's run page, and an older traces file migrated to hold it; `--judge` too.

The run is a real episode in report mode on scripted models and a small in-process hub whose fetch tool
returns a page's URL and title, the way the browse server does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from memento.agent.cli.options import agent_options, run_options
from memento.agent.cli.root import cli
from memento.agent.cli.runs import runs
from memento.agent.episode import Episode
from memento.agent.hub import ToolOutcome
from memento.agent.llm import ToolSpec, Usage
from memento.agent.session import run_events
from memento.agent.settings import AgentSettings
from memento.agent.traces import MIGRATIONS, RunStore
from memento.agent.ui.app import UIConfig, build_app
from tests.scripted_model import ScriptedModel, call, text_reply, tool_reply

PAGE_URL = "https://metals.example.org/refractory"
REPORT = (
    "Rhenium melts at 3186 °C, second to tungsten [1]. A handbook agrees [4] (https://invented.example/handbook). "
    "The same page lists the other refractory metals [1]."
)


@dataclass
class PageHub:
    """The hub's interface with one reading tool, `browse__fetch_page`, that gives a page's URL and title."""

    def specs(self) -> list[ToolSpec]:
        return [ToolSpec("browse__fetch_page", "Read a web page.", {"type": "object", "properties": {"url": {"type": "string"}}})]

    async def call(self, name: str, arguments: dict[str, Any], timeout_s: float | None = None, scope: str | None = None) -> ToolOutcome:
        text = "# Refractory metals\nRhenium melts at 3186 degrees Celsius, second only to tungsten."
        structured = {"url": arguments["url"], "title": "Refractory metals"}
        return ToolOutcome(text, structured=structured, server="browse", tool="fetch_page", seconds=0.01)


@pytest.fixture
def store(memento_home: Path) -> Iterator[RunStore]:
    with RunStore.open(memento_home) as opened:
        yield opened


async def research(store: RunStore, report: str = REPORT) -> dict[str, Any]:
    """One report-mode run, as `memento run` makes it; what `memento run --json` prints for it."""
    planner = ScriptedModel(
        [
            tool_reply(call("submit_plan", subtasks=["Read the page on refractory metals"])),
            tool_reply(call("submit_answer", answer="Rhenium, 3186 °C", report=report), usage=Usage(100, 20)),
        ]
    )
    executor = ScriptedModel([tool_reply(call("browse__fetch_page", url=PAGE_URL)), text_reply("Rhenium melts at 3186 C (the page).")])
    settings = AgentSettings()
    episode = Episode(
        planner=planner, executor=executor, hub=PageHub(), events=run_events(store, settings), settings=settings, judge=planner
    )  # type: ignore[arg-type]
    result = await episode.run("Which element melts second hottest?", policy="none", answer_mode="report")
    return result.to_json()


def shown(*args: str) -> str:
    done = CliRunner().invoke(runs, ["show", *args], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.anyio
async def test_runs_show_json_holds_the_same_report_and_sources_that_memento_run_json_printed(store: RunStore) -> None:
    printed = await research(store)
    assert printed["sources"] == [{"n": 1, "url_or_path": PAGE_URL, "title": "Refractory metals"}]
    assert "[4]" not in printed["report"] and "invented.example" not in printed["report"]
    kept = json.loads(shown(printed["run_id"], "--json"))
    assert (kept["answer"], kept["report"], kept["sources"]) == (printed["answer"], printed["report"], printed["sources"])
    assert (kept["sources_collected"], kept["citations_removed"]) == (1, 2)  # [4] and the invented URL
    assert kept["status"] == "answered" and kept["totals"]["tool_calls"] == 1  # every earlier key still there


@pytest.mark.anyio
async def test_runs_show_prints_the_report_then_its_numbered_sources_and_what_was_removed(store: RunStore) -> None:
    printed = await research(store)
    text = shown(printed["run_id"])
    answer_at, report_at, sources_at = text.index("answer\n"), text.index("report\n"), text.index("sources (cited 1 of the run's 1)")
    assert answer_at < report_at < sources_at
    assert "  Rhenium melts at 3186 °C, second to tungsten [1]." in text
    assert f"  [1] Refractory metals — {PAGE_URL}" in text
    assert "2 citations without a source removed" in text


@pytest.mark.anyio
async def test_a_report_with_markup_prints_as_written_on_the_terminal(store: RunStore) -> None:
    printed = await research(store, report="Tungsten is [bold]first[/bold] [1].")
    assert "Tungsten is [bold]first[/bold] [1]." in shown(printed["run_id"])


@pytest.mark.anyio
async def test_a_short_answer_run_has_no_report_in_the_trace(store: RunStore) -> None:
    planner = ScriptedModel([tool_reply(call("submit_answer", answer="4"))])
    settings = AgentSettings()
    episode = Episode(
        planner=planner, executor=ScriptedModel(), hub=PageHub(), events=run_events(store, settings), settings=settings, judge=planner
    )  # type: ignore[arg-type]
    result = await episode.run("What is 2 + 2?", policy="none", answer_mode="short")
    run = store.get_run(result.run_id)
    assert run.report is None
    assert (run.to_json()["report"], run.to_json()["sources"]) == ("", [])
    assert "report\n" not in shown(result.run_id)


def test_a_traces_file_at_the_previous_schema_version_opens_reads_and_then_keeps_reports(memento_home: Path) -> None:
    before = [name for name, _ in MIGRATIONS].index("m007_reports")
    memento_home.mkdir(parents=True)
    old = sqlite3.connect(memento_home / "runs.sqlite")
    try:
        old.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        for name, migration in MIGRATIONS[:before]:
            migration(old)
            old.execute("INSERT INTO migrations (name, applied) VALUES (?, ?)", (name, 1.0))
        old.execute(
            "INSERT INTO runs (id, task, source, planner, executor, settings, files, status, answer, started, finished, steps)"
            " VALUES ('run-0ld0ld0ld0ld', 'An old task', 'user', 'p', 'e', '{}', '[]', 'answered', 'Old answer', 1000.0, 1002.0, 0)"
        )
        old.commit()
    finally:
        old.close()
    with RunStore.open(memento_home) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        run = store.get_run("0ld0")
        assert (run.answer, run.report) == ("Old answer", None)
        assert (run.to_json()["report"], run.to_json()["sources"], run.to_json()["citations_removed"]) == ("", [], 0)
        new = store.start_run("A new task", planner="p", executor="e", settings={})
        store.log_report(new, report="Cited [1].", sources=[{"n": 1, "url_or_path": PAGE_URL}], collected=3, citations_removed=1)
        report = store.get_run(new).report
        assert report is not None
        assert (report.text, report.sources, report.sources_collected, report.citations_removed) == (
            "Cited [1].",
            [{"n": 1, "url_or_path": PAGE_URL}],
            3,
            1,
        )


def test_a_key_in_a_report_or_a_source_url_is_masked_in_the_trace(store: RunStore) -> None:
    run_id = store.start_run("Keys", planner="p", executor="e", settings={})
    source = {"n": 1, "url_or_path": "https://api.example.org/data?key=abcdef123456&q=tea"}
    store.log_report(run_id, report="Found with sk-ant-api03-abcdefghijklmnop [1].", sources=[source], collected=1)
    kept = store.get_run(run_id).to_json()
    assert "abcdefghijklmnop" not in kept["report"] and "abcdef123456" not in json.dumps(kept["sources"])
    assert kept["sources"][0]["url_or_path"].endswith("&q=tea")


# ---- the web UI's run page --------------------------------------------------------------------


@pytest.fixture
def ui(memento_home: Path) -> Iterator[TestClient]:
    with TestClient(build_app(UIConfig(home=memento_home, host="testserver"))) as client:
        yield client


def reported_run(home: Path, report: str, sources: list[dict[str, Any]], removed: int = 0) -> str:
    with RunStore.open(home) as store:
        run_id = store.start_run("Which element melts second hottest?", planner="p", executor="e", settings={})
        store.log_report(run_id, report=report, sources=sources, collected=len(sources) + 2, citations_removed=removed)
        store.finish_run(run_id, answer="Rhenium", status="answered", reward=None, judgement=None, case_id=None, usage=Usage())
    return run_id


def test_the_run_page_shows_the_report_with_citations_linked_to_its_numbered_sources(ui: TestClient, memento_home: Path) -> None:
    sources = [{"n": 1, "url_or_path": PAGE_URL, "title": "Refractory metals"}, {"n": 3, "url_or_path": "/inputs/notes.pdf"}]
    run_id = reported_run(memento_home, "Rhenium melts at 3186 °C [1], as the notes say [1, 3].\nSecond line [9].", sources, removed=2)
    page = ui.get(f"/runs/{run_id}")
    assert page.status_code == 200
    html = page.text
    assert '[<a href="#source-1">1</a>]' in html and '[<a href="#source-1">1</a>, <a href="#source-3">3</a>]' in html
    assert "Second line [9]." in html  # a number the list does not hold is no link
    assert f'<li id="source-1" value="1"><a href="{PAGE_URL}" target="_blank" rel="noopener noreferrer">Refractory metals</a>' in html
    assert '<li id="source-3" value="3"><code>/inputs/notes.pdf</code></li>' in html  # a file is shown, not linked
    assert "Cited 2 of the run's 4 source(s)" in html and "2 citation(s) without a source were removed" in html
    assert html.index('id="answer-h"') < html.index('id="report-h"') < html.index('id="timeline-h"')
    assert "cites 2 of 4 source(s)" in ui.get(f"/runs/{run_id}/timeline").text


def test_the_run_page_escapes_a_report_and_sources_and_links_no_other_scheme(ui: TestClient, memento_home: Path) -> None:
    sources = [
        {"n": 1, "url_or_path": 'https://example.org/"><script>alert(2)</script>', "title": "<img src=x onerror=alert(3)>"},
        {"n": 2, "url_or_path": "javascript:alert(4)"},
    ]
    report = 'Look <script>alert(1)</script> and <a href="https://evil.example">here</a> [1] [2].'
    html = ui.get(f"/runs/{reported_run(memento_home, report, sources)}").text
    assert "<script>alert" not in html and "<img src=x" not in html and 'href="https://evil.example"' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(3)&gt;" in html
    assert 'href="javascript:' not in html and "<code>javascript:alert(4)</code>" in html


def test_a_run_without_a_report_has_no_report_section(ui: TestClient, memento_home: Path) -> None:
    with RunStore.open(memento_home) as store:
        run_id = store.start_run("What is 2 + 2?", planner="p", executor="e", settings={})
    assert 'id="report-h"' not in ui.get(f"/runs/{run_id}").text


# ---- --judge ----------------------------------------------------------------------------------


def test_judge_reaches_the_settings_and_without_it_the_environment_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    @agent_options
    def probe(**flags: Any) -> None:
        click.echo(run_options(**flags).settings.judge_model or "(the planner)")

    assert CliRunner().invoke(probe, ["--judge", "openai:gpt-4.1"]).output.strip() == "openai:gpt-4.1"
    assert CliRunner().invoke(probe, []).output.strip() == "(the planner)"
    monkeypatch.setenv("MEMENTO_JUDGE_MODEL", "anthropic:claude-haiku-4-5")
    assert CliRunner().invoke(probe, []).output.strip() == "anthropic:claude-haiku-4-5"
    assert CliRunner().invoke(probe, ["--judge", "openai:o3"]).output.strip() == "openai:o3"


@pytest.mark.parametrize("command", ["run", "chat", "eval"])
def test_every_agent_command_offers_judge(command: str) -> None:
    args = [command, "--help"] if command != "eval" else ["eval", "run", "--help"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert "--judge" in done.output and "MEMENTO_JUDGE_MODEL" in done.output
