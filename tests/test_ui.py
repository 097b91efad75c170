"""`memento ui` in a real browser: the Debian Chromium through Playwright, against the real command on loopback.

The test fills a traces database (a finished run with a plan, model and tool calls, a report
and a screenshot, a run that is still going, a run waiting for feedback), a real
case bank and an eval folder, starts `memento ui`, and reads the pages as a user
would: the runs table, a run's report and timeline, a case, an eval's curve, a live run
updating, and the feedback button whose reward lands in the case bank.
Set UI_SCREENSHOTS_DIR=DIR to keep the screenshots (the README's comes from here).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memento.agent.evals.results import ResultLog
from memento.agent.llm import Usage
from memento.agent.traces import RunStore
from memento.servers.browse.browser import CHROMIUM_ARGS
from memento.servers.browse.settings import BrowseSettings
from tests.mcp_servers import free_port, listening_process
from tests.sysdeps import needs

pytestmark = [pytest.mark.integration, needs(bool(BrowseSettings().chromium_path), "Chromium (apt-get install chromium)")]

# A 2×2 PNG (red, green / blue, white), as a plot or a screenshot would come back from a tool.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==")


def fill_traces(home: Path, case_id: str) -> dict[str, str]:
    """Three runs: finished (with everything, shown `case_id`), pending feedback, running."""
    ids: dict[str, str] = {"case": case_id}
    with RunStore.open(home) as store:
        done = store.start_run(
            "Which element has the highest melting point?", planner="anthropic:claude-sonnet-4-5", executor="openai:o3", settings={}
        )
        store.log_cases_shown(done, [{"id": case_id, "task": "Melting points of metals", "outcome": "positive", "score": 0.91}])
        store.log_plan(done, 1, ["Search for the highest melting point", "Check the runner-up"])
        store.log_model_call(
            done, role="planner", model="anthropic:claude-sonnet-4-5", usage=Usage(1200, 80, cost_usd=0.0048), latency_s=1.4
        )
        store.log_tool_call(
            done, server="browse", tool="screenshot", arguments={"url": "https://example.org/metals"}, result_chars=0,
            is_error=False, seconds=0.8, preview="(a screenshot)", images=[("image/png", PNG)],
        )  # fmt: skip
        store.log_tool_call(
            done,
            server="code",
            tool="run_python",
            arguments={"code": "3422 - 3186"},
            result_chars=3,
            is_error=False,
            seconds=0.05,
            preview="236",
        )
        store.log_subtask(done, 1, 0, "Search for the highest melting point", "Tungsten, 3422 C", "done")
        store.log_report(
            done,
            report="Tungsten melts hottest, at 3422 °C [1]; rhenium follows at 3186 °C [1, 2].\n<b>not bold</b>",
            sources=[
                {"n": 1, "url_or_path": "https://example.org/metals", "title": "Refractory metals"},
                {"n": 2, "url_or_path": "https://example.org/" + "a-very-long-path-segment-" * 8 + "tables"},
            ],
            collected=3,
            citations_removed=1,
        )
        store.finish_run(
            done, answer="Tungsten (3422 °C)", status="answered", reward=1.0, judgement=None, case_id=None,
            usage=Usage(1200, 80, cost_usd=0.0048), stopped_by=None, error=None,
        )  # fmt: skip
        ids["done"] = done

        pending = store.start_run(
            "What is the boiling point of tungsten?", planner="anthropic:claude-sonnet-4-5", executor="openai:o3", settings={}
        )
        store.finish_run(
            pending, answer="5930 °C", status="answered", reward=None, judgement=None, case_id=None,
            usage=Usage(900, 40), stopped_by=None, error=None,
        )  # fmt: skip
        record = {
            "task": "What is the boiling point of tungsten?",
            "plan": ["Look it up"],
            "answer": "5930 °C",
            "run_id": pending,
            "source": "user",
        }
        store.save_pending_case(pending, record)
        ids["pending"] = pending

        ids["running"] = store.start_run("A long research task", planner="anthropic:claude-sonnet-4-5", executor="openai:o3", settings={})
    return ids


def fill_memory(home: Path) -> str:
    from memento.memory import CaseBank, MemorySettings

    with CaseBank.open(MemorySettings.from_env(home=home)) as bank:
        recorded = bank.record_episode(
            task="Melting points of metals", plan=["Search a table of melting points", "Compare the top two"], answer="Tungsten", reward=1.0
        )
        others = [bank.record_episode(f"Boiling point of metal number {n}", ["Look it up"], "x", 1.0).case_id for n in range(2)]
        for n in range(11):  # 33 transitions: enough for the Q policy to train and keep versions
            shown = [recorded.case_id, *others]
            bank.record_episode(
                f"Density of alloy number {n}", ["Search"], "y", float(n % 2), shown_case_ids=shown, run_id=f"run-sim{n:04d}"
            )
    return recorded.case_id


def fill_eval(folder: Path) -> Path:
    out = folder / "trivia-q"
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps({"memory": "q", "dataset": {"path": "trivia.jsonl", "sha256": "abc"}, "models": {}}))
    log = ResultLog(out / "results.jsonl")
    for iteration, right in ((1, [True, False, False]), (2, [True, True, False]), (3, [True, True, True])):
        for n, correct in enumerate(right):
            log.append(
                {"id": f"t{n}", "question": f"Question {n}?", "truth": "x", "answer": "x" if correct else "y", "score": float(correct),
                 "correct": correct, "run_id": "", "iteration": iteration, "attempt": 1, "tokens": 10, "cost_usd": 0.001,
                 "seconds": 1.0, "status": "answered", "source": "nq"}
            )  # fmt: skip
    return out


@pytest.fixture
def ui(memento_home: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    ids = fill_traces(memento_home, fill_memory(memento_home))
    fill_eval(tmp_path / "evals")
    port = free_port()
    env = {**os.environ, "MEMENTO_HOME": str(memento_home)}
    command = [sys.executable, "-m", "memento.agent.cli", "ui", "--port", str(port), "--evals", str(tmp_path / "evals")]
    with (tmp_path / "ui.log").open("w") as log, listening_process(command, port, "memento ui", timeout_s=60, env=env, stderr=log):
        yield f"http://127.0.0.1:{port}", ids, memento_home


@pytest.fixture
def page() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BrowseSettings().chromium_path, args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


def shot(page, name: str) -> None:
    keep = os.environ.get("UI_SCREENSHOTS_DIR")
    data = page.screenshot(full_page=True, path=str(Path(keep) / name) if keep else None)
    assert data.startswith(b"\x89PNG")


def test_runs_timeline_case_and_eval_pages_read_as_a_user_sees_them(ui, page) -> None:
    base, ids, _ = ui
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(base) else outside.append(request.url))

    page.goto(base + "/")
    assert page.url == base + "/runs"
    rows = page.locator("table.runs tbody tr")
    assert rows.count() == 3
    assert "Which element has the highest melting point?" in rows.all_inner_texts()[-1]
    shot(page, "ui-runs.png")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    page.fill("input[name=q]", "boiling")
    page.click("form.filters button")
    assert page.locator("table.runs tbody tr").count() == 1

    page.goto(f"{base}/runs/{ids['done']}")
    timeline = page.locator("#timeline")
    for text in ("Plan 1", "planner", "browse · screenshot", "code · run_python", "Subtask 1"):
        assert text in timeline.inner_text()
    image = page.locator("img.shot")
    assert image.count() == 1 and page.evaluate("document.querySelector('img.shot').naturalWidth") == 2
    report = page.locator("div.report")
    assert "Tungsten melts hottest, at 3422 °C [1]" in report.inner_text() and "<b>not bold</b>" in report.inner_text()
    assert report.locator("b").count() == 0  # model output is text, never markup
    report.get_by_role("link", name="2").click()
    assert page.url.endswith("#source-2")
    source = page.get_by_role("link", name="Refractory metals")
    assert source.get_attribute("href") == "https://example.org/metals" and source.get_attribute("rel") == "noopener noreferrer"
    shot(page, "ui-run.png")

    page.get_by_role("link", name="Melting points of metals").click()
    assert "/memory/cases/" in page.url
    assert "Search a table of melting points" in page.inner_text("main")

    page.goto(base + "/memory?q=metal+melting&policy=similarity")
    assert "Melting points of metals" in page.inner_text("main")
    assert page.locator("table.history tbody tr").count() >= 1  # the Q policy's versions, newest first

    page.goto(base + "/evals")
    assert page.locator("figure.chart polyline").count() == 1
    points = page.get_attribute("figure.chart polyline", "points").split()
    heights = [float(p.split(",")[1]) for p in points]
    assert len(points) == 3 and heights[0] > heights[1] > heights[2]  # 33% → 67% → 100%: the line climbs
    page.get_by_role("link", name="trivia-q").click()
    assert "100.0%" in page.inner_text("main") or "66.7%" in page.inner_text("main")
    shot(page, "ui-eval.png")

    page.set_viewport_size({"width": 360, "height": 800})  # a narrow window: nothing wider than the screen
    page.goto(f"{base}/runs/{ids['done']}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 362
    assert not outside, f"the UI loaded something from elsewhere: {outside}"


def test_feedback_from_the_page_lands_in_the_case_bank(ui, page) -> None:
    base, ids, _ = ui
    page.goto(f"{base}/runs/{ids['pending']}")
    page.click("button[value=good]")
    page.wait_for_load_state()
    assert "Case memory learned the run" in page.inner_text("main")
    case_link = page.locator("dl.facts a[href^='/memory/cases/']")
    assert case_link.count() == 1
    case_link.click()
    text = page.inner_text("main")
    assert "What is the boiling point of tungsten?" in text and "positive" in text and "reward 1" in text


def test_a_form_from_another_site_or_a_foreign_host_is_refused(ui) -> None:
    import httpx

    base, ids, _ = ui
    forged = httpx.post(f"{base}/runs/{ids['pending']}/feedback", data={"reward": "good", "token": "guess"})
    assert forged.status_code == 403
    rebound = httpx.get(f"{base}/runs", headers={"Host": "attacker.example"})
    assert rebound.status_code == 400
    with RunStore.open(ui[2]) as store:
        assert store.get_run(ids["pending"]).reward is None


def test_a_running_run_updates_live_and_settles_when_it_ends(ui, page) -> None:
    base, ids, home = ui
    page.goto(f"{base}/runs/{ids['running']}")
    assert page.inner_text("#run-status") == "running"
    with RunStore.open(home) as store:
        store.log_plan(ids["running"], 1, ["Read the sources one by one"])
        page.wait_for_selector("text=Read the sources one by one", timeout=15_000)  # no reload: the stream brought it
        store.finish_run(
            ids["running"], answer="Done.", status="answered", reward=None, judgement=None, case_id=None,
            usage=Usage(10, 2), stopped_by=None, error=None,
        )  # fmt: skip
    deadline = time.monotonic() + 15
    while page.inner_text("#run-status") != "answered" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.inner_text("#run-status") == "answered" and "Done." in page.inner_text("main")
