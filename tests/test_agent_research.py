"""How the agent researches: the record of the episode each subtask starts from, what the planner is told,
the subtask limit, and the user-facing report whose citations are only sources the run's tools gave.

The in-process tests run the real Anthropic SDK against the fake Messages API on loopback and assert on
the requests it received; the tools are a small hub with the real hub's interface. The last test runs
`memento run --json` end to end with the real browse server reading a page from a loopback site.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from memento.agent.episode import Episode
from memento.agent.events import Event, Reported
from memento.agent.hub import ToolOutcome
from memento.agent.llm import Model, ToolSpec
from memento.agent.planner import MAX_SUBTASKS, PLAN_TOOL, first_turn, read_call
from memento.agent.session import run_events
from memento.agent.settings import AgentSettings
from memento.agent.sources import Sources
from memento.agent.traces import RunStore
from tests.fake_llm import FakeAnthropic, Text, ToolUse, answer
from tests.scripted_model import ScriptedModel, call, tool_reply
from tests.test_agent_e2e import memento, run_record, site, workplace  # noqa: F401  (fixtures)
from tests.test_eval import eval_env, write_jsonl  # noqa: F401  (a fixture)

TODAY = datetime.date(2031, 5, 17)
PAGE_URL = "https://metals.example.org/refractory"


@dataclass
class Hub:
    """The hub's interface over functions returning ToolOutcomes: tools a planner can be told about."""

    tools: dict[str, Callable[[dict[str, Any]], ToolOutcome]]
    descriptions: dict[str, str] = field(default_factory=dict)

    def specs(self) -> list[ToolSpec]:
        schema = {"type": "object", "properties": {"q": {"type": "string"}, "url": {"type": "string"}}}
        return [ToolSpec(name, self.descriptions.get(name, f"The {name} tool."), schema) for name in self.tools]

    async def call(self, name: str, arguments: dict[str, Any], timeout_s: float | None = None, scope: str | None = None) -> ToolOutcome:
        outcome = self.tools[name](arguments)
        outcome.server, _, outcome.tool = name.partition("__")
        return outcome


def search(arguments: dict[str, Any]) -> ToolOutcome:
    hits = [{"title": "Refractory metals", "url": PAGE_URL, "snippet": "Tungsten melts at 3422 C"}]
    return ToolOutcome("1. Refractory metals — " + PAGE_URL, structured={"query": arguments.get("q", ""), "results": hits})


def fetch(arguments: dict[str, Any]) -> ToolOutcome:
    text = "# Refractory metals\nRhenium melts at 3186 degrees Celsius, second only to tungsten."
    return ToolOutcome(text, structured={"url": arguments["url"], "title": "Refractory metals", "requested_url": arguments["url"]})


HUB = Hub(
    {"search__web_search": search, "browse__fetch_page": fetch},
    {
        "search__web_search": "Search the web; returns ranked results with title, URL and snippet.\n\nMore lines.",
        "browse__fetch_page": "Read a web page as Markdown.",
    },
)


class Heard:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
async def claude(fake_anthropic: FakeAnthropic, memento_home: Path) -> AsyncIterator[Model]:
    from memento.agent.llm import make_model

    settings = AgentSettings(anthropic_api_key="sk-ant-test", anthropic_base_url=fake_anthropic.url, model_retries=0)
    model = make_model("anthropic:claude-sonnet-4-5", settings)
    try:
        yield model
    finally:
        await model.aclose()


def episode(model: Model, store: RunStore, heard: Heard | None = None, **settings: Any) -> Episode:
    agent_settings = AgentSettings(**settings)
    events = run_events(store, agent_settings, [heard] if heard else [])
    return Episode(
        planner=model,
        executor=model,
        hub=HUB,
        events=events,
        settings=agent_settings,
        judge=model,
        clock=lambda: TODAY,
    )


@pytest.fixture
def store(memento_home: Path) -> Any:
    with RunStore.open(memento_home) as opened:
        yield opened


def sent(fake: FakeAnthropic, index: int) -> str:
    return json.dumps(fake.requests[index].body, ensure_ascii=False)


@pytest.mark.anyio
async def test_the_executor_of_subtask_two_receives_what_subtask_one_found(
    fake_anthropic: FakeAnthropic, claude: Model, store: RunStore
) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Find the element with the highest melting point", "Find its density"]})),
        answer(ToolUse("search__web_search", {"q": "highest melting point element"})),
        answer(Text("Tungsten has the highest melting point, 3422 C.")),
        answer(Text("Tungsten's density is 19.25 g/cm3.")),
        answer(ToolUse("submit_answer", {"answer": "19.25"})),
    )
    result = await episode(claude, store).run("How dense is the element that melts hottest?", policy="none")
    assert result.status == "answered" and result.answer == "19.25"
    first, second = fake_anthropic.requests[1].body, fake_anthropic.requests[3].body
    assert "Tungsten has the highest melting point" not in json.dumps(first["messages"])  # nothing was found yet
    opening = json.dumps(second["messages"][0], ensure_ascii=False)
    assert "Find the element with the highest melting point" in opening and "Tungsten has the highest melting point, 3422 C." in opening
    assert "Your subtask:\\nFind its density" in opening


@pytest.mark.anyio
async def test_the_planner_prompt_holds_the_date_the_tool_catalogue_and_the_subtask_limit_its_schema_enforces(
    fake_anthropic: FakeAnthropic, claude: Model, store: RunStore
) -> None:
    fake_anthropic.enqueue(answer(ToolUse("submit_answer", {"answer": "4"})))
    await episode(claude, store).run("What is 2 + 2?", policy="none")
    body = fake_anthropic.requests[0].body
    system = json.dumps(body["system"], ensure_ascii=False)
    assert "2031-05-17" in system
    assert "- search__web_search: Search the web; returns ranked results with title, URL and snippet." in system
    assert "- browse__fetch_page: Read a web page as Markdown." in system and "More lines." not in system
    assert f"at most\\n  {MAX_SUBTASKS} in one plan" in system or f"at most {MAX_SUBTASKS} in one plan" in system
    assert "second, independent source" in system  # the verification rule
    plan_tool = next(t for t in body["tools"] if t["name"] == "submit_plan")
    assert plan_tool["input_schema"]["properties"]["subtasks"]["maxItems"] == MAX_SUBTASKS


@pytest.mark.anyio
async def test_a_plan_with_too_many_subtasks_is_refused_with_an_error_the_planner_reads(store: RunStore) -> None:
    too_many = [f"step {n}" for n in range(MAX_SUBTASKS + 1)]
    planner = ScriptedModel([tool_reply(call("submit_plan", subtasks=too_many)), tool_reply(call("submit_answer", answer="done"))])
    executor = ScriptedModel()
    agent_settings = AgentSettings()
    run = Episode(planner=planner, executor=executor, hub=HUB, events=run_events(store, agent_settings), settings=agent_settings)
    result = await run.run("Plan big", policy="none")
    assert result.status == "answered" and result.plan == [] and not executor.calls  # nothing was run
    refusal = planner.calls[1].messages[-1].parts[0]
    assert refusal.is_error and f"at most {MAX_SUBTASKS}" in refusal.text and str(MAX_SUBTASKS + 1) in refusal.text
    assert PLAN_TOOL.input_schema["properties"]["subtasks"]["maxItems"] == MAX_SUBTASKS
    assert read_call(call("submit_plan", subtasks=too_many[:MAX_SUBTASKS]), plan_allowed=True).kind == "plan"


@pytest.mark.anyio
async def test_a_report_cites_only_the_runs_sources_and_an_invented_citation_is_dropped(
    fake_anthropic: FakeAnthropic, claude: Model, store: RunStore
) -> None:
    report = (
        "Rhenium melts at 3186 °C [1], second to tungsten [1, 4]. "
        "A survey agrees [7] (https://invented.example/survey); see also " + PAGE_URL + "."
    )
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Read the page on refractory metals"]})),
        answer(ToolUse("browse__fetch_page", {"url": PAGE_URL})),
        answer(Text("Rhenium melts at 3186 C (the page).")),
        answer(ToolUse("submit_answer", {"answer": "Rhenium, 3186 °C", "report": report})),
    )
    heard = Heard()
    result = await episode(claude, store, heard).run("Which element melts second hottest?", policy="none", answer_mode="report")
    assert result.answer == "Rhenium, 3186 °C"
    assert result.sources == [{"n": 1, "url_or_path": PAGE_URL, "title": "Refractory metals"}]
    assert "[1]" in result.report and "[7]" not in result.report and "4]" not in result.report and "invented.example" not in result.report
    assert len(result.dropped_citations) == 3  # [4], [7] and the invented URL
    # the planner was given the numbered list before it answered, and could ask for a report
    assert f"[1] Refractory metals — {PAGE_URL}" in sent(fake_anthropic, 3)
    answer_tool = next(t for t in fake_anthropic.requests[3].body["tools"] if t["name"] == "submit_answer")
    assert "report" in answer_tool["input_schema"]["properties"] and answer_tool["input_schema"]["required"] == ["answer"]
    reported = [e for e in heard.events if isinstance(e, Reported)]
    assert len(reported) == 1 and reported[0].collected == 1 and len(reported[0].dropped) == 3


@pytest.mark.anyio
async def test_an_eval_run_answers_in_the_short_form_with_no_report_tool_and_no_source_list(
    fake_anthropic: FakeAnthropic, claude: Model, store: RunStore
) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Read the page"]})),
        answer(ToolUse("browse__fetch_page", {"url": PAGE_URL})),
        answer(Text("Rhenium, 3186 C.")),
        answer(ToolUse("submit_answer", {"answer": "Rhenium"})),
    )
    result = await episode(claude, store).run("Which element melts second hottest?", policy="none")
    assert result.answer == "Rhenium" and result.report == "" and result.sources == []
    assert "Sources of this run" not in sent(fake_anthropic, 3)
    assert "as few words as possible" in json.dumps(fake_anthropic.requests[0].body["system"])
    answer_tool = next(t for t in fake_anthropic.requests[0].body["tools"] if t["name"] == "submit_answer")
    assert list(answer_tool["input_schema"]["properties"]) == ["answer"]


def test_the_record_keeps_within_its_budget_and_says_what_it_left_out() -> None:
    from memento.agent.context import episode_record

    findings = [(f"subtask {n}", f"finding {n} " + "x" * 2000) for n in range(1, 7)]
    record = episode_record(findings, 1500)
    assert len(record) < 1500 + 200 and "finding 6" in record and "left out" in record
    assert episode_record(findings, 0) == "" and episode_record([], 4000) == ""


def test_search_hits_reads_and_files_become_numbered_sources_once_and_failures_none() -> None:
    sources = Sources()
    sources.add_outcome("web_search", {"q": "x"}, search({"q": "x"}))
    sources.add_outcome("fetch_page", {"url": PAGE_URL}, fetch({"url": PAGE_URL}))  # the same URL: the same number
    sources.add_outcome("read_document", {}, ToolOutcome("text", structured={"source": "/inputs/report.pdf", "metadata": {"title": "Q3"}}))
    sources.add_outcome("read_file", {"path": "notes.md"}, ToolOutcome("hello", structured={"path": "notes.md", "size": 5}))
    sources.add_outcome("fetch_page", {"url": "https://gone.example"}, ToolOutcome("404", is_error=True))
    assert [(s.n, s.url_or_path, s.title) for s in sources.items] == [
        (1, PAGE_URL, "Refractory metals"),
        (2, "/inputs/report.pdf", "Q3"),
        (3, "notes.md", ""),
    ]
    checked = sources.check("See [2-3] and [9].")
    assert (
        checked.text == "See [2, 3] and."
        and [s.n for s in checked.cited] == [2, 3]
        and checked.dropped == ["[9] is not a source of this run"]
    )


def test_cases_are_shown_with_their_outcome_answer_and_why_a_failure_failed() -> None:
    @dataclass
    class Case:
        task: str
        plan: list[str]
        answer: str
        outcome: str
        reward: float
        summary: str

    @dataclass
    class Shown:
        case: Case

    @dataclass
    class Retrieval:
        positive: list[Shown]
        negative: list[Shown]

    good = Case("Tallest mountain?", ["Search it"], "Everest", "positive", 1.0, "Search it → Everest, 8849 m")
    bad = Case("Longest river?", ["Guess"], "Amazon", "negative", 0.0, "why it failed (judge): the reference is the Nile\nGuess → Amazon")
    turn = first_turn("Deepest lake?", [], Retrieval([Shown(good)], [Shown(bad)]))
    assert "Answer given: Everest" in turn and "Outcome: success" in turn and "Everest, 8849 m" in turn
    assert "Answer given: Amazon" in turn and "Outcome: failure" in turn and "the reference is the Nile" in turn


def test_memento_run_json_gives_a_report_whose_every_citation_is_a_url_a_tool_of_the_run_read(
    fake_anthropic: FakeAnthropic,
    workplace: dict[str, str],  # noqa: F811
    site: str,  # noqa: F811
    memento_home: Path,
) -> None:
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": [f"Read {site} and report the second highest melting point"]})),
        answer(ToolUse("browse__fetch_page", {"url": site})),
        answer(Text("Rhenium, 3186 degrees Celsius, second after tungsten (the page).")),
        answer(
            ToolUse(
                "submit_answer",
                {
                    "answer": "Rhenium, at 3186 °C",
                    "report": f"Rhenium melts at 3186 °C, second after tungsten [1]. A handbook agrees [2] (https://invented.example/handbook). Page: {site}",
                },
            )
        ),
    )
    done = memento(workplace, fake_anthropic, "run", "Which element has the second highest melting point?", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "Rhenium, at 3186 °C"
    assert result["sources"] == [{"n": 1, "url_or_path": site, "title": "Refractory metals"}]
    assert "[1]" in result["report"] and "[2]" not in result["report"] and "invented.example" not in result["report"]
    with_db = run_record(memento_home, result["run_id"])
    assert with_db["status"] == "answered"
    import sqlite3

    with sqlite3.connect(memento_home / "runs.sqlite") as db:
        fetched = [json.loads(a)["url"] for (a,) in db.execute("SELECT arguments FROM tool_calls WHERE run_id = ?", (result["run_id"],))]
    assert all(source["url_or_path"] in fetched for source in result["sources"])


@pytest.mark.integration
def test_an_eval_whose_judge_is_the_planners_model_warns_once_and_says_so_in_its_config_and_report(
    tmp_path: Path,
    eval_env: dict[str, str],  # noqa: F811
    fake_anthropic: FakeAnthropic,
) -> None:
    from tests.eval_helpers import EvalResponder
    from tests.test_agent_more import memento as memento_cli

    fake_anthropic.responder = EvalResponder({"What is the capital of France?": "Paris"})
    fake_anthropic.max_requests = 100
    dataset = write_jsonl(tmp_path / "one.jsonl", [{"qid": "q1", "q": "What is the capital of France?", "a": "Paris"}])
    fields = ("--question-field", "q", "--answer-field", "a", "--id-field", "qid", "--memory", "none")

    done = memento_cli(eval_env, "eval", str(dataset), *fields, "--out", str(tmp_path / "self"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("the judge is the planner's model") == 1 and "grades its own answers" in done.stderr
    assert json.loads((tmp_path / "self" / "config.json").read_text())["judge_self_grading"] is True
    assert "self-grading" in (tmp_path / "self" / "report.md").read_text()

    apart = {**eval_env, "MEMENTO_JUDGE_MODEL": "anthropic:claude-haiku-4-5"}
    done = memento_cli(apart, "eval", str(dataset), *fields, "--out", str(tmp_path / "apart"))
    assert done.returncode == 0, done.stderr
    assert "the judge is the planner's model" not in done.stderr
    assert json.loads((tmp_path / "apart" / "config.json").read_text())["judge_self_grading"] is False
    assert "not the planner's model" in (tmp_path / "apart" / "report.md").read_text()


def test_the_research_server_says_how_the_report_was_checked_in_a_progress_line() -> None:
    import anyio

    from memento.servers.research.service import ProgressLines

    send, receive = anyio.create_memory_object_stream[str](2)
    source = {"n": 1, "url_or_path": PAGE_URL}
    ProgressLines(send).handle(Reported(run_id="r", report="x [1]", sources=(source,), collected=4, dropped=("[9] is not a source",)))
    send.close()
    with receive:
        assert receive.receive_nowait() == "report: cites 1 of the run's 4 source(s); 1 citation(s) without a source removed"
