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
    "SMALL_PLAN_TOOL",
    "AnswerMode",
    "PlannerCall",
    "answer_tool",
    "first_turn",
    "numbered_cases",
    "plan_tool",
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
            },
            "follows": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "description": "The numbers of the past cases shown (Case 1, Case 2, …) whose plan this plan follows; "
                "[] when it follows none. Leave it out when no past cases were shown.",
            },
        },
        "required": ["subtasks"],
    },
)

SMALL_ANSWER_CHARS, SMALL_REPORT_CHARS = 200, 600  # a small model's answer and report (the 0.5B model rambled to its cap)

# Structured turns (small models): one subtask a plan (search, read, report), another plan if it fell short. A 0.5B
# model filled five places with one subtask, and two with near copies: each subtask costs it minutes on 2 busy cores.
SMALL_PLAN = 1
SMALL_PLAN_TOOL = ToolSpec(
    PLAN_TOOL.name,
    PLAN_TOOL.description,
    {
        **PLAN_TOOL.input_schema,
        # No `follows`: the 0.5B model named past cases where none were shown; left out, it is inferred from the plan.
        "properties": {"subtasks": {**PLAN_TOOL.input_schema["properties"]["subtasks"], "maxItems": SMALL_PLAN}},
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


def plan_tool(*, small: bool = False) -> ToolSpec:
    return SMALL_PLAN_TOOL if small else PLAN_TOOL


def answer_tool(mode: AnswerMode, *, small: bool = False) -> ToolSpec:
    """The answer tool of `mode`; `small` (structured turns) bounds its texts, which a small model may spin out to its cap."""
    tool = REPORT_ANSWER_TOOL if mode == "report" else ANSWER_TOOL
    if not small:
        return tool
    limits = {"answer": SMALL_ANSWER_CHARS, "report": SMALL_REPORT_CHARS}
    properties = {name: {**value, "maxLength": limits[name]} for name, value in tool.input_schema["properties"].items()}
    # The report is required of a small model: left optional, the 0.5B model answered the demo without one, citing nothing.
    return ToolSpec(tool.name, tool.description, {**tool.input_schema, "properties": properties, "required": list(properties)})


def tool_catalogue(specs: list[ToolSpec]) -> str:
    """One line per executor tool (`server__tool`: the first line of its description), grouped by server."""
    lines = []
    for spec in sorted(specs, key=lambda s: s.name):
        first = next((line.strip() for line in spec.description.splitlines() if line.strip()), "")
        lines.append(f"- {spec.name}: {first[:200]}")
    return "\n".join(lines) or "- (no tools: answer from the task text alone)"


def system_prompt(max_cycles: int, *, today: datetime.date, tools: str, mode: AnswerMode = "short", compact: bool = False) -> str:
    """The planner's system prompt: stable for a run, so providers can cache it. `compact`: the short one for small models."""
    rules = prompt("report_rules") if mode == "report" else prompt("answer_rules")
    return prompt(
        "planner_local" if compact else "planner",
        max_cycles=max_cycles,
        max_subtasks=SMALL_PLAN if compact else MAX_SUBTASKS,
        today=today.isoformat(),
        tools=tools,
        answer_rules=rules,
    )


def numbered_cases(retrieval: Any | None) -> list[Any]:
    """The retrieved cases in the order the planner's first turn numbers them (1, 2, …): successes, failures, unverified."""
    if retrieval is None:
        return []
    return [*retrieval.positive, *retrieval.negative, *getattr(retrieval, "unverified", [])]


def _outcome(case: Any) -> str:
    """How a case went, in words that never pass an unrated run off as a success."""
    if case.outcome not in ("positive", "negative"):  # unverified: no rated episode speaks for its plan yet
        return "not verified (nobody has rated this run; its answer may be wrong)"
    verdict = "success" if case.outcome == "positive" else "failure"
    credit = getattr(case, "credit", None)  # the plan's mean reward over the rated episodes that followed it
    reward = f"reward {round(float(case.reward if credit is None else credit), 2):g}"
    if getattr(case, "reward_kind", "verified") == "self-assessed":
        return f"{verdict} as self-assessed by the agent against its sources, not verified ({reward})"
    return f"{verdict} ({reward})"


def _render_case(number: int, case: Any) -> str:
    steps = "\n".join(f"  {n}. {step}" for n, step in enumerate(case.plan, start=1)) or "  (answered without a plan)"
    text = f"- Case {number}. Task: {case.task}\n  Plan:\n{steps}"
    text += f"\n  Outcome: {_outcome(case)}"
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
    cases = numbered_cases(retrieval)
    if cases:
        numbers = {id(scored): n for n, scored in enumerate(cases, start=1)}
        heads = (
            ("positive", "These plans worked; follow what fits this task:"),
            ("negative", "These plans failed; avoid what made them fail:"),
            ("unverified", "These runs were never rated (outcome not verified); weigh them below rated ones:"),
        )
        sections = [
            f"{head}\n" + "\n".join(_render_case(numbers[id(s)], s.case) for s in group)
            for name, head in heads
            if (group := getattr(retrieval, name, []))
        ]
        parts.append(prompt("cases", cases="\n\n".join(sections)))
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
    follows: list[int] | None = None  # submit_plan's case numbers (1 = the first case shown); None: not said


def _follows(value: Any, cases: int) -> tuple[list[int] | None, str]:
    """submit_plan's `follows` read against the number of cases shown: (numbers, "") or (None, what is wrong)."""
    if value is None:
        return None, ""
    items = value if isinstance(value, list) else [value]
    numbers = [int(v) for v in items if isinstance(v, int | str) and not isinstance(v, bool) and str(v).strip().isdigit()]
    if len(numbers) != len(items):
        return None, "`follows` must be a list of case numbers such as [1, 3]. Nothing was run."
    if not cases and numbers:
        return None, "No past cases were shown, so `follows` must be [] or left out. Nothing was run."
    wrong = [n for n in numbers if not 1 <= n <= cases]
    if wrong:
        return None, (
            f"`follows` names case {', '.join(map(str, wrong))}, but the cases shown are numbered 1 to {cases}; "
            "give only those numbers, or []. Nothing was run."
        )
    return list(dict.fromkeys(numbers)), ""


def read_call(call: ToolCall, *, plan_allowed: bool, cases: int = 0) -> PlannerCall:
    """Check a planner tool call against its schema; say what is wrong in words the model can act on.

    `cases`: how many past cases the planner was shown (the numbers submit_plan's `follows` may name).
    """
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
        follows, problem = _follows(call.arguments.get("follows"), cases)
        if problem:
            return PlannerCall(call, "invalid", [], "", problem)
        return PlannerCall(call, "plan", list(dict.fromkeys(s.strip() for s in subtasks)), "", follows=follows)  # once each
    return PlannerCall(call, "invalid", [], "", f"There is no tool {call.name!r} here: call submit_plan or submit_answer.")
