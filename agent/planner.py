"""The planner's side of an episode: its two tools, its prompt, and the cases it is shown.

The planner acts only by calling `submit_plan(subtasks)` or
`submit_answer(answer, report?)`, so any tool-calling model can drive it and
nothing is parsed from free text. Past cases from the memory go into its first
turn: successes as plans to follow, failures (with why they failed) as plans to avoid.
It runs no tool and reads no clock: the date and the tool catalogue are handed in.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Literal

from .llm import ToolCall, ToolSpec
from .prompting import prompt

__all__ = [
    "ANSWER_TOOL",
    "MAX_SUBTASKS",
    "PLAN_TOOL",
    "REPORT_ANSWER_TOOL",
    "AnswerMode",
    "PlannerCall",
    "answer_tool",
    "first_turn",
    "read_call",
    "system_prompt",
    "tool_catalogue",
]

AnswerMode = Literal["short", "report"]  # short: the scorer's exact form (evals); report: answer, report and sources (people)

MAX_SUBTASKS = 5  # the one place the limit lives: the prompt states it and submit_plan's schema enforces it

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
                "description": f"One to {MAX_SUBTASKS} subtasks, in the order they should run.",
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

# The same tool for a person asking: a short answer, then an optional brief report citing the run's sources.
REPORT_ANSWER_TOOL = ToolSpec(
    name="submit_answer",
    description=(
        "Give the final answer to the task: a short answer, then a brief report citing the numbered sources "
        "of this run as [n]. This ends the task."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "answer": {"type": "string", "description": "The short answer: one phrase or sentence."},
            "report": {
                "type": "string",
                "description": "A brief report (at most about 200 words) supporting the answer; cite sources as [n] from the list given.",
            },
        },
        "required": ["answer"],
    },
)


def answer_tool(mode: AnswerMode) -> ToolSpec:
    return REPORT_ANSWER_TOOL if mode == "report" else ANSWER_TOOL


def tool_catalogue(specs: list[ToolSpec]) -> str:
    """One line per executor tool (`server__tool`: the first line of its description), grouped by server."""
    lines = []
    for spec in sorted(specs, key=lambda s: s.name):
        first = next((line.strip() for line in spec.description.splitlines() if line.strip()), "")
        lines.append(f"- {spec.name}: {first[:200]}")
    return "\n".join(lines) or "- (no tools: answer from the task text alone)"


def system_prompt(max_cycles: int, *, today: datetime.date, tools: str, mode: AnswerMode = "short") -> str:
    """The planner's system prompt: stable for a run, so providers can cache it."""
    rules = prompt("report_rules") if mode == "report" else prompt("answer_rules")
    return prompt(
        "planner",
        max_cycles=max_cycles,
        max_subtasks=MAX_SUBTASKS,
        today=today.isoformat(),
        tools=tools,
        answer_rules=rules,
    )


def _render_case(case: Any) -> str:
    steps = "\n".join(f"  {n}. {step}" for n, step in enumerate(case.plan, start=1)) or "  (answered without a plan)"
    text = f"- Task: {case.task}\n  Plan:\n{steps}"
    text += f"\n  Outcome: {'success' if case.outcome == 'positive' else 'failure'} (reward {float(case.reward):g})"
    if case.answer:
        text += f"\n  Answer given: {case.answer}"
    if case.summary:
        summary = "\n    ".join(line for line in str(case.summary).splitlines() if line.strip())
        text += f"\n  What happened:\n    {summary}"
    return text


def first_turn(task: str, files: list[str], retrieval: Any | None) -> str:
    """The planner's first user turn: the task, its attachments, and the cases retrieved for it."""
    parts = [f"Task:\n{task}"]
    if files:
        parts.append("Attached files (the executor can read them):\n" + "\n".join(f"- {name}" for name in files))
    if retrieval is not None and (retrieval.positive or retrieval.negative):
        positive = ""
        if retrieval.positive:
            positive = "\nThese plans worked; follow what fits this task:\n" + "\n".join(_render_case(s.case) for s in retrieval.positive)
        negative = ""
        if retrieval.negative:
            negative = "\nThese plans failed; avoid what made them fail:\n" + "\n".join(_render_case(s.case) for s in retrieval.negative)
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
    report: str = ""


def read_call(call: ToolCall, *, plan_allowed: bool) -> PlannerCall:
    """Check a planner tool call against its schema; say what is wrong in words the model can act on."""
    if call.name == ANSWER_TOOL.name:
        answer = call.arguments.get("answer")
        report = call.arguments.get("report")
        if isinstance(answer, str) and answer.strip():
            return PlannerCall(call, "answer", [], answer.strip(), report=report.strip() if isinstance(report, str) else "")
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
            return PlannerCall(
                call,
                "invalid",
                [],
                "",
                f"This plan has {len(subtasks)} subtasks but a plan has at most {MAX_SUBTASKS}; "
                "merge some, or plan the first steps now and the rest after their results. Nothing was run.",
            )
        return PlannerCall(call, "plan", [s.strip() for s in subtasks], "")
    return PlannerCall(call, "invalid", [], "", f"There is no tool {call.name!r} here: call submit_plan or submit_answer.")
