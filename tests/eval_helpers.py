"""A fake vendor that plays a whole eval: the planner answers from a table, graders grade by string match.

The eval runs tasks concurrently, so replies cannot come from a queue in order;
`EvalResponder` looks at each request instead: which tool it offers tells the
role (planner: submit_answer, LLM judge: submit_verdict, SimpleQA grader:
submit_grade), the text tells the task.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fake_llm import Answer, FakeAnthropic, ToolUse, answer

TASK = re.compile(r"Task:\n(.*?)(?:\n\n|$)", re.S)


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(block.get("text", "") for block in content or [] if isinstance(block, dict))


@dataclass
class EvalResponder:
    """Answers each planner with `answers[question]` (default "no idea"); graders compare case-insensitively."""

    answers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    planned: Counter[str] = field(default_factory=Counter)  # planner requests per task
    shown: dict[str, list[str]] = field(default_factory=dict)  # task -> the first user turns it was asked with
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: dict[str, Any]) -> Answer:
        tools = {tool["name"] for tool in body.get("tools", [])}
        first = _text(body["messages"][0])
        if "submit_answer" in tools:
            match = TASK.search(first)
            task = match.group(1).strip() if match else first
            with self._lock:
                self.planned[task] += 1
                self.shown.setdefault(task, []).append(first)
            if self.delay_s:
                time.sleep(self.delay_s)
            return answer(ToolUse("submit_answer", {"answer": self.answers.get(task, "no idea")}))
        case = json.loads(first[first.index("{") : first.rindex("}") + 1])
        predicted = str(case.get("predicted_answer", "")).strip().lower()
        truths = case.get("reference_answers") or case.get("gold_answers") or []
        truths = truths if isinstance(truths, list) else [truths]
        right = any(predicted == str(t).strip().lower() for t in truths)
        if "submit_verdict" in tools:
            return answer(ToolUse("submit_verdict", {"verdict": "correct" if right else "incorrect", "reason": "fake"}))
        if "submit_grade" in tools:
            grade = "correct" if right else ("not_attempted" if predicted in ("", "no idea") else "incorrect")
            return answer(ToolUse("submit_grade", {"grade": grade}))
        raise AssertionError(f"the fake does not know this request (tools {sorted(tools)})")


def eval_environment(
    folder: Path, memento_home: Path, fake_anthropic: FakeAnthropic, servers: tuple[str, ...] = ("documents",)
) -> dict[str, str]:
    """The environment of an eval run through the CLI: `servers` in folder/mcp.json, the fake vendor, a private home."""
    entries = {name: {"command": sys.executable, "args": ["-m", f"memento.servers.{name}"]} for name in servers}
    (folder / "mcp.json").write_text(json.dumps({"mcpServers": entries}))
    return {
        **os.environ,
        "MEMENTO_HOME": str(memento_home),
        "MEMENTO_MCP_CONFIG": str(folder / "mcp.json"),
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
        "MEMENTO_MODEL_RETRIES": "1",
    }
