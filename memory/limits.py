"""Size limits of a case: refuse an oversized case on the way in, bound what a retrieval returns.

Writing checks every text field against the MEMENTO_MEMORY_MAX_* settings and
refuses with the field, its size and the limit. Reading cannot trust the bank
(cases imported or stored before the limits existed), so a retrieval clips any
field over its limit with a visible marker and stops adding cases once their
text passes MEMENTO_MEMORY_MAX_RETRIEVED_CHARS. Nothing here touches the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .cases import Case
from .settings import MemorySettings

__all__ = ["TOOL_NAME_CHARS", "CaseLimits", "case_chars"]

TOOL_NAME_CHARS = 200  # a tool's name, not its output: anything longer is not a name


def case_chars(case: Case) -> int:
    """How many characters of text a case carries (what a reader of it receives)."""
    return len(case.task) + len(case.answer) + len(case.summary) + sum(map(len, case.plan)) + sum(map(len, case.tools))


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f" … [{len(text) - limit:,} more characters not shown: over the memory's limit]"


@dataclass(frozen=True)
class CaseLimits:
    task_chars: int
    answer_chars: int
    summary_chars: int
    plan_steps: int
    plan_chars: int
    tools: int
    retrieved_chars: int

    @classmethod
    def of(cls, settings: MemorySettings) -> CaseLimits:
        return cls(
            settings.memory_max_task_chars,
            settings.memory_max_answer_chars,
            settings.memory_max_summary_chars,
            settings.memory_max_plan_steps,
            settings.memory_max_plan_chars,
            settings.memory_max_tools,
            settings.memory_max_retrieved_chars,
        )

    def problem(self, task: str, plan: Sequence[str], answer: str, summary: str, tools: Sequence[str]) -> tuple[str, str] | None:
        """The first field over its limit and why, or None when the case fits."""
        checks = [
            ("task", len(task), self.task_chars, "characters", "MEMENTO_MEMORY_MAX_TASK_CHARS"),
            ("answer", len(answer), self.answer_chars, "characters", "MEMENTO_MEMORY_MAX_ANSWER_CHARS"),
            ("summary", len(summary), self.summary_chars, "characters", "MEMENTO_MEMORY_MAX_SUMMARY_CHARS"),
            ("plan", len(plan), self.plan_steps, "steps", "MEMENTO_MEMORY_MAX_PLAN_STEPS"),
            ("plan", sum(map(len, plan)), self.plan_chars, "characters", "MEMENTO_MEMORY_MAX_PLAN_CHARS"),
            ("tools", len(tools), self.tools, "names", "MEMENTO_MEMORY_MAX_TOOLS"),
        ]
        for field, size, limit, unit, variable in checks:
            if size > limit:
                return field, f"is {size:,} {unit}, over the limit of {limit:,} ({variable}); store a shorter {field}"
        long_tool = next((name for name in tools if len(name) > TOOL_NAME_CHARS), None)
        if long_tool is not None:
            return "tools", f"holds a name of {len(long_tool):,} characters; a tool name has at most {TOOL_NAME_CHARS}"
        return None

    def clipped(self, case: Case) -> Case:
        """The case with every field over its limit cut short, saying so (for cases stored before the limits)."""
        case.task = _clip(case.task, self.task_chars)
        case.answer = _clip(case.answer, self.answer_chars)
        case.summary = _clip(case.summary, self.summary_chars)
        steps: list[str] = []
        used = 0
        for step in case.plan[: self.plan_steps]:
            if used >= self.plan_chars:
                break
            steps.append(_clip(step, self.plan_chars - used))
            used += len(step)
        if len(steps) < len(case.plan):
            steps.append(f"[{len(case.plan) - len(steps):,} more steps not shown: over the memory's limit]")
        case.plan = steps
        case.tools = [_clip(name, TOOL_NAME_CHARS) for name in case.tools[: self.tools]]
        return case
