"""The casebank MCP server as hosts use it: real stdio, real Chroma, the packaged MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from memento.agent.cli import cli
from tests.mcp_servers import http_client_for, stdio_client_for

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"


async def test_a_host_saves_retrieves_and_corrects_cases_over_stdio(memento_home: Path) -> None:
    async with stdio_client_for("casebank", env={"MEMENTO_HOME": str(memento_home)}) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {"retrieve_cases", "save_case", "give_feedback", "memory_stats"}

        saved = await client.call_tool(
            "save_case",
            {"task": "What is the capital of Australia?", "plan": ["search the capital", "check it"], "answer": "Canberra", "reward": 1.0},
        )
        assert not saved.is_error, saved.content[0].text
        first = saved.structured_content
        failed = await client.call_tool(
            "save_case",
            {
                "task": "What is the capital of Canada?",
                "plan": ["guess"],
                "answer": "Toronto",
                "reward": 0.0,
                "shown_case_ids": [first["case_id"]],
            },
        )
        assert not failed.is_error

        found = await client.call_tool("retrieve_cases", {"task": "What is the capital of New Zealand?", "k": 2})
        assert not found.is_error
        result = found.structured_content
        assert [c["task"] for c in result["successes"]] == ["What is the capital of Australia?"]
        assert [c["task"] for c in result["failures"]] == ["What is the capital of Canada?"]
        assert result["successes"][0]["plan"] == ["search the capital", "check it"]
        assert result["successes"][0]["times_shown"] == 1

        fixed = await client.call_tool("give_feedback", {"case_id": failed.structured_content["run_id"], "reward": 1.0})
        assert not fixed.is_error
        stats = (await client.call_tool("memory_stats", {})).structured_content
        assert stats["cases"] == 2 and stats["positive"] == 2 and stats["transitions"] == 1

        missing = await client.call_tool("give_feedback", {"case_id": "case-0000", "reward": 1.0})
        assert missing.is_error and "No case" in missing.content[0].text
        bad = await client.call_tool("save_case", {"task": "x", "plan": [], "answer": "", "reward": 3})
        assert bad.is_error
        assert not (await client.call_tool("memory_stats", {})).is_error  # still serving


async def test_the_casebank_answers_over_streamable_http(memento_home: Path) -> None:
    async with http_client_for("casebank", env={"MEMENTO_HOME": str(memento_home)}) as client:
        stats = await client.call_tool("memory_stats", {})
        assert not stats.is_error and stats.structured_content["cases"] == 0


def test_the_memory_cli_imports_searches_exports_and_reports(memento_home: Path, tmp_path: Path) -> None:
    sample = tmp_path / "memory.jsonl"
    sample.write_text("\n".join((REFERENCE / "memory.jsonl").read_text().splitlines()[:60]) + "\n")

    def memento(*args: str) -> Result:  # in process; MEMENTO_HOME is the test's own (conftest)
        return CliRunner().invoke(cli, ["memory", *args], prog_name="memento")

    imported = memento("import", str(sample))
    assert imported.exit_code == 0, imported.stderr
    assert "imported 60 cases" in imported.stdout
    stats = json.loads(memento("stats", "--json").stdout)
    assert stats["cases"] == 60
    task = json.loads(sample.read_text().splitlines()[7])["case"]
    found = json.loads(memento("search", task, "--json").stdout)
    assert found["policy"] == "similarity" and found["cases"][0]["task"] == task
    out = tmp_path / "out.jsonl"
    exported = memento("export", str(out), "--format", "memory")
    assert exported.exit_code == 0 and len(out.read_text().splitlines()) == 60
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"case": "q", "case_label": "positive"}\n{"case": "", "case_label": "positive"}\n')
    refused = memento("import", str(broken))
    assert refused.exit_code == 1 and "line 2" in refused.stderr and "Traceback" not in refused.stderr
