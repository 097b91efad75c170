"""The casebank tools in memory (`Client(server)`): schema defaults from the settings, what a case shows,
what a save may set, and refusals. Real Chroma, a fast fake embedder; no subprocess, no port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from memento.memory import MemorySettings
from memento.servers.casebank.server import build
from memento.servers.common.settings import CommonSettings
from tests.memory_helpers import HashEmbedder

pytestmark = pytest.mark.anyio


def _server(home: Path, **memory: Any):
    settings = MemorySettings(home=home, memory_online_steps=0, **memory)
    return build(CommonSettings(home=home), settings, HashEmbedder())


async def test_retrieval_defaults_come_from_the_settings_and_the_schema_shows_them(tmp_path: Path) -> None:
    async with Client(_server(tmp_path, memory_k=7, memory_policy="q")) as client:
        schema = next(t for t in (await client.list_tools()).tools if t.name == "retrieve_cases").input_schema
        k, policy = schema["properties"]["k"], schema["properties"]["policy"]
        assert k["default"] == 7 and k["maximum"] == 64
        assert policy["default"] == "q" and policy["enum"] == ["similarity", "q"]
        for n in range(10):
            saved = await client.call_tool(
                "save_case", {"task": f"What is the capital of country {n}?", "plan": ["a"], "answer": "x", "reward": 1.0}
            )
            assert not saved.is_error, saved.content[0].text
        found = await client.call_tool("retrieve_cases", {"task": "What is the capital of country 3?"})
        assert not found.is_error and len(found.structured_content["successes"]) == 7
        assert found.structured_content["policy"] == "similarity"  # q asked by default, untrained: falls back
        many = await client.call_tool("retrieve_cases", {"task": "capital", "k": 64})
        assert not many.is_error and len(many.structured_content["successes"]) == 10
        assert (await client.call_tool("retrieve_cases", {"task": "capital", "k": 65})).is_error
        assert (await client.call_tool("retrieve_cases", {"task": "capital", "policy": "random"})).is_error


async def test_a_saved_case_comes_back_with_its_summary_tools_similarity_outcome_and_run_id(tmp_path: Path) -> None:
    async with Client(_server(tmp_path)) as client:
        saved = await client.call_tool(
            "save_case",
            {
                "task": "Which river flows through Budapest?",
                "plan": ["search the river", "confirm on a map"],
                "answer": "Danube",
                "reward": 1.0,
                "notes": "the first result named it",
                "tools": ["web_search", "fetch_page"],
                "outcome": "negative",  # right answer, but the host judged the way there a failure
                "run_id": "run-host-42",
            },
        )
        assert not saved.is_error, saved.content[0].text
        assert saved.structured_content["run_id"] == "run-host-42"
        found = (await client.call_tool("retrieve_cases", {"task": "Which river flows through Vienna?", "k": 1})).structured_content
        assert found["successes"] == [] and len(found["failures"]) == 1
        case = found["failures"][0]
        assert case["summary"] == "the first result named it" and case["tools"] == ["web_search", "fetch_page"]
        assert 0.0 < case["similarity"] <= 1.0
        fixed = await client.call_tool("give_feedback", {"case_id": "run-host-42", "reward": 0.0})
        assert not fixed.is_error and fixed.structured_content["cases"] == [case["id"]]
        assert (await client.call_tool("save_case", {"task": "t", "plan": [], "answer": "", "reward": 1, "run_id": "x; drop"})).is_error


async def test_refused_saves_say_why_and_store_nothing(tmp_path: Path) -> None:
    async with Client(_server(tmp_path)) as client:
        base = {"task": "How high is Mont Blanc?", "plan": ["search"], "answer": "4806 m", "reward": 1.0}
        unknown = await client.call_tool("save_case", {**base, "shown_case_ids": ["case-does-not-exist"]})
        assert unknown.is_error and "case-does-not-exist" in unknown.content[0].text
        oversized = await client.call_tool("save_case", {**base, "plan": [f"step {n}" for n in range(2_000)]})
        assert oversized.is_error and "MEMENTO_MEMORY_MAX_PLAN_STEPS" in oversized.content[0].text
        stats = (await client.call_tool("memory_stats", {})).structured_content
        assert stats["cases"] == 0 and stats["transitions"] == 0
