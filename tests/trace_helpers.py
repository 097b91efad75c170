"""A whole run written to a RunStore as the agent logs it, for the trace and the runs-command tests."""

from __future__ import annotations

from memento.agent.llm import Usage
from memento.agent.traces import RunStore

SETTINGS = {"planner": "fake:planner", "max_cycles": 3, "max_tokens": 4096}


def record_run(store: RunStore, task: str = "What is the capital of Australia?") -> str:
    """A whole run, as the agent logs it: cases shown, two plan cycles, model and tool calls, the end."""
    run_id = store.start_run(task, planner="fake:planner", executor="fake:executor", settings=SETTINGS, files=["notes.pdf"])
    store.log_cases_shown(
        run_id,
        [
            {"id": "case-aaa", "task": "What is the capital of Canada?", "outcome": "positive", "score": 0.91},
            {"id": "case-bbb", "task": "What is the capital of Peru?", "outcome": "negative", "score": 0.72},
        ],
    )
    store.log_model_call(run_id, role="planner", model="fake:planner", usage=Usage(100, 20, cost_usd=0.001), latency_s=0.5)
    store.log_plan(run_id, 1, ["search the capital", "check it"])
    store.log_model_call(run_id, role="executor", model="fake:executor", usage=Usage(200, 30, 50, cost_usd=0.002), latency_s=0.7)
    store.log_tool_call(
        run_id,
        server="search",
        tool="web_search",
        arguments={"query": "capital of Australia"},
        result_chars=1200,
        is_error=False,
        seconds=0.8,
    )
    store.log_subtask(run_id, 1, 1, "search the capital", "Canberra", "done")
    store.log_tool_call(
        run_id,
        server="browse",
        tool="fetch_page",
        arguments={"url": "https://example.org"},
        result_chars=40,
        is_error=True,
        seconds=0.2,
        preview="FetchFailed: HTTP 503",
    )
    store.log_subtask(run_id, 1, 2, "check it", "the page did not load", "failed")
    store.log_plan(run_id, 2, ["check on another site"])
    store.log_subtask(run_id, 2, 1, "check on another site", "Canberra again", "done")
    store.finish_run(
        run_id,
        answer="Canberra",
        status="answered",
        reward=1.0,
        judgement={"correct": True},
        case_id="case-ccc",
        usage=Usage(300, 50, 50, cost_usd=0.003),
    )
    return run_id
