"""The offline demo's ground (agent/cli/demo_setup.py): the bundled corpus, its index and the demo's MCP config.

The index is built by the real `memento index build` process and searched by the
real search server; the documents server reads the page found. The model here is
the fake Anthropic API (the real local model drives the same ground in
test_real_model.py), so these tests check the ground, not a model's skill.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from memento.agent.cli.demo_setup import CORPUS_PAGES, LOCAL_TASK, LOCAL_TRUTH, corpus_digest, prepare
from memento.agent.settings import AgentSettings
from tests.fake_llm import FakeAnthropic, Text, ToolUse, answer
from tests.test_agent_more import memento

pytestmark = pytest.mark.integration


def test_the_corpus_alone_holds_the_demo_answer_and_says_its_license() -> None:
    pages = {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS_PAGES.glob("*.md"))}
    assert len(pages) >= 10
    assert [name for name, text in pages.items() if LOCAL_TRUTH in text and "first keeper" in text] == ["lighthouse.md", "museum.md"]
    assert "MIT" in (CORPUS_PAGES.parent / "LICENSE").read_text(encoding="utf-8")
    assert "invented" in (CORPUS_PAGES.parent / "README.md").read_text(encoding="utf-8")


def test_the_demo_index_is_built_once_and_again_only_when_a_page_changes(tmp_path: Path, memento_home: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(CORPUS_PAGES, pages)
    said: list[str] = []
    settings = AgentSettings.from_env({"MEMENTO_HOME": str(memento_home)})
    first = prepare(settings, said.append, pages=pages)
    assert first.built and (first.index_dir / "manifest.json").is_file() and len(said) == 1
    assert not prepare(settings, said.append, pages=pages).built and len(said) == 1
    before = corpus_digest(pages)
    (pages / "cheese.md").write_text("# Graumel cheese\n\nGraumel is now ripened for ten months.\n", encoding="utf-8")
    assert corpus_digest(pages) != before and prepare(settings, said.append, pages=pages).built
    config = json.loads(first.config.read_text(encoding="utf-8"))["mcpServers"]
    assert set(config) == {"search", "documents"}
    assert config["search"]["env"] == {"MEMENTO_SEARCH_BACKENDS": "local", "MEMENTO_SEARCH_INDEX_DIR": str(first.index_dir)}
    assert config["documents"]["env"] == {"MEMENTO_DOCUMENTS_ROOTS": str(pages)}


def test_a_run_on_the_demo_ground_finds_reads_and_cites_the_page_then_the_next_run_recalls_the_case(
    fake_anthropic: FakeAnthropic, memento_home: Path
) -> None:
    ground = prepare(AgentSettings.from_env({"MEMENTO_HOME": str(memento_home)}), lambda line: None)
    page = str(CORPUS_PAGES / "lighthouse.md")
    fake_anthropic.enqueue(
        answer(ToolUse("submit_plan", {"subtasks": ["Search the Vellmark notes for the first keeper of Skarra Head lighthouse"]})),
        answer(ToolUse("search__search_local", {"query": "Skarra Head lighthouse first keeper"})),
        answer(ToolUse("documents__read_document", {"source": page})),
        answer(Text(f"The first keeper was Ilse Marrow ({page}).")),
        answer(ToolUse("submit_answer", {"answer": "Ilse Marrow", "report": "Ilse Marrow kept the light for 31 years [1]."})),
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MEMENTO_HOME": str(memento_home),
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
        "MEMENTO_MODEL_RETRIES": "0",
    }
    done = memento(env, "run", LOCAL_TASK, "--truth", LOCAL_TRUTH, "--config", str(ground.config), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "Ilse Marrow" and result["reward"] == 1.0 and result["case_id"]
    assert result["sources"] and result["sources"][0]["url_or_path"].endswith("lighthouse.md")
    bodies = [json.dumps(seen.body) for seen in fake_anthropic.requests]
    assert "first keeper was Ilse Marrow" in bodies[2]  # the search server found the page in the demo index
    assert "thirty-one years" in bodies[3]  # the documents server read it from the corpus folder

    fake_anthropic.enqueue(answer(ToolUse("submit_answer", {"answer": "Ilse Marrow"})))
    again = memento(env, "run", LOCAL_TASK, "--truth", LOCAL_TRUTH, "--config", str(ground.config), "--json")
    assert again.returncode == 0, again.stderr
    assert [case["id"] for case in json.loads(again.stdout)["cases_shown"]] == [result["case_id"]]
