"""The planner's side of an episode: its two tools, its prompt, and the cases it is shown.

The planner acts only by calling `submit_plan(subtasks)` or
`submit_answer(answer)`, so any tool-calling model can drive it and nothing
is parsed from free text. Past cases from the memory go into its first turn:
successes as plans to follow, failures as plans to avoid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .llm import ToolCall, ToolSpec
from .prompting import prompt

__all__ = ["ANSWER_TOOL", "PLAN_TOOL", "PlannerCall", "first_turn", "read_call", "system_prompt"]

MAX_SUBTASKS = 8

PLAN_TOOL = ToolSpec(
    name="submit_plan",
    description=(
        "Hand the next subtasks to the executor, in order. Each subtask is one self-contained instruction "
        "(what to find, check or compute, and what to report). You receive every subtask's result."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "subtasks": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "maxItems": MAX_SUBTASKS,
                "description": "One to five subtasks, in the order they should run.",
            }
        },
        "required": ["subtasks"],
    },
)

ANSWER_TOOL = ToolSpec(
    name="submit_answer",
    description="Give the final answer to the task, in the answer format of the instructions. This ends the task.",
    input_schema={
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "The answer alone: as few words as possible."}},
        "required": ["answer"],
    },
)


def system_prompt(max_cycles: int) -> str:
    """The planner's system prompt: stable for a run, so providers can cache it."""
    return prompt("planner", max_cycles=max_cycles, answer_rules=prompt("answer_rules"))


def _render_case(case: Any, *, with_answer: bool) -> str:
    steps = "\n".join(f"  {n}. {step}" for n, step in enumerate(case.plan, start=1)) or "  (answered without a plan)"
    text = f"- Task: {case.task}\n  Plan:\n{steps}"
    if with_answer and case.answer:
        text += f"\n  Answer: {case.answer}"
    return text


def first_turn(task: str, files: list[str], retrieval: Any | None) -> str:
    """The planner's first user turn: the task, its attachments, and the cases retrieved for it."""
    parts = [f"Task:\n{task}"]
    if files:
        parts.append("Attached files (the executor can read them):\n" + "\n".join(f"- {name}" for name in files))
    if retrieval is not None and (retrieval.positive or retrieval.negative):
        positive = ""
        if retrieval.positive:
            positive = "\nThese plans worked; follow what fits this task:\n" + "\n".join(
                _render_case(s.case, with_answer=True) for s in retrieval.positive
            )
        negative = ""
        if retrieval.negative:
            negative = "\nThese plans failed; avoid what made them fail:\n" + "\n".join(
                _render_case(s.case, with_answer=False) for s in retrieval.negative
            )
        parts.append(prompt("cases", positive=positive, negative=negative))
    return "\n\n".join(parts)


@dataclass
class PlannerCall:
    """One planner tool call read: a plan, an answer, or a mistake to report back to the model."""

    call: ToolCall
    kind: str  # plan | answer | invalid
    subtasks: list[str]
    answer: str
    problem: str = ""


def read_call(call: ToolCall, *, plan_allowed: bool) -> PlannerCall:
    """Check a planner tool call against its schema; say what is wrong in words the model can act on."""
    if call.name == ANSWER_TOOL.name:
        answer = call.arguments.get("answer")
        if isinstance(answer, str) and answer.strip():
            return PlannerCall(call, "answer", [], answer.strip())
        return PlannerCall(call, "invalid", [], "", "submit_answer needs a non-empty string `answer`.")
    if call.name == PLAN_TOOL.name:
        if not plan_allowed:
            return PlannerCall(call, "invalid", [], "", "No more plans are allowed: call submit_answer with your best answer now.")
        subtasks = call.arguments.get("subtasks")
        if isinstance(subtasks, str):  # some models send one string for a one-item list
            subtasks = [subtasks]
        if not isinstance(subtasks, list) or not subtasks or not all(isinstance(s, str) and s.strip() for s in subtasks):
            return PlannerCall(call, "invalid", [], "", "submit_plan needs `subtasks`: a list of one or more non-empty strings.")
        if len(subtasks) > MAX_SUBTASKS:
            return PlannerCall(call, "invalid", [], "", f"A plan has at most {MAX_SUBTASKS} subtasks; merge some or plan fewer steps now.")
        return PlannerCall(call, "plan", [s.strip() for s in subtasks], "")
    return PlannerCall(call, "invalid", [], "", f"There is no tool {call.name!r} here: call submit_plan or submit_answer.")
