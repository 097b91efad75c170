"""One episode of the memory-augmented planner–executor: read memory, plan, execute, answer, reward, write memory.

    task ─► CaseBank.retrieve ─► planner ⇄ submit_plan / submit_answer
                                    │ subtasks (each with the record of the ones before)
                                    ▼
                                 executor ⇄ MCP tools (hub) ─► the run's sources
    answer (+ report citing those sources) ─► judge (truth known, or --self-assess) ─► CaseBank.record_episode

Two answer modes: `short`, the exact form a scorer expects (evals), and `report`,
a short answer then a brief report whose citations are checked against the
sources the run's tools gave (people: run, chat, deep_research).

Every step is stated once, as an event (events.py), as it happens; the
listeners wired from outside (trace, terminal, host progress, OTLP export) make
of it what they keep, so a crash, a spent budget or Ctrl-C leaves a readable record. A run without a truth is
stored unrated (or self-assessed: learning.py), shown to later planners as not verified, and `memento feedback`
rates it later; a truth whose verdict failed holds the case until feedback, so nothing unrewarded is learned as rewarded.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio

from memento.core.errors import AgentError, MementoError

from .budget import BudgetExhausted, Spending
from .context import episode_record
from .events import (
    Answered,
    CasesShown,
    EventStream,
    Judged,
    Note,
    PlanMade,
    Reported,
    RunFinished,
    RunStarted,
    SubtaskDone,
    SubtaskStarted,
)
from .executor import Executor
from .judge import Judgement, assess_answer, judge_answer
from .learning import RewardKind, case_summary, followed, reward_kind, sampling, write_case
from .llm import Message, Model, Reply, TextPart, ToolResultPart, Usage
from .metered import Meter, MeteredModel
from .planner import AnswerMode, answer_tool, first_turn, numbered_cases, plan_tool, read_call, system_prompt, tool_catalogue
from .settings import AgentSettings
from .sources import Sources

if TYPE_CHECKING:
    from memento.memory import CaseBank, Retrieval

    from .hub import ToolHub

__all__ = ["Episode", "EpisodeResult"]

log = logging.getLogger("memento.agent")

HARD_BUDGETS = ("tokens", "cost", "seconds")  # no further model call once one of these is spent
MAX_NUDGES = 2  # planner turns without a valid tool call before the run fails


@dataclass(kw_only=True)
class EpisodeResult:
    """What `memento run --json` prints, plus the details a caller may want."""

    run_id: str
    answer: str
    status: str  # answered | budget_exhausted | failed | interrupted
    reward: float | None
    cases_shown: list[dict[str, Any]]
    case_id: str | None
    usage: Usage
    plan: list[str]
    plans: list[list[str]] = field(default_factory=list)
    judgement: Judgement | None = None
    stopped_by: str | None = None
    error: str | None = None
    report: str = ""  # answer mode `report`: the brief report, its citations checked
    sources: list[dict[str, Any]] = field(default_factory=list)  # the sources it cites: {n, url_or_path, title?}
    dropped_citations: list[str] = field(default_factory=list)  # what was removed from the report, and why
    reward_kind: RewardKind | None = None  # verified | self-assessed | unrated (no reward); None: a truth without a verdict
    temperature: float | None = None  # the memory read's sampling temperature; None: greedy (or memory not read)
    q_version: int | str | None = None  # the Q-function version the memory read used, when it used one

    def to_json(self) -> dict[str, Any]:
        """The agreed keys of `memento run --json`, in order (`report` and `sources` came last, later)."""
        return {
            "run_id": self.run_id,
            "answer": self.answer,
            "status": self.status,
            "reward": self.reward,
            "cases_shown": self.cases_shown,
            "case_id": self.case_id,
            "usage": self.usage.to_json(),
            "plan": self.plan,
            "report": self.report,
            "sources": self.sources,
            "reward_kind": self.reward_kind,
            "temperature": self.temperature,
            "q_version": self.q_version,
        }


class _Failed(AgentError):
    """Internal: the planner could not be brought to use its tools."""


@dataclass(kw_only=True)
class Episode:
    """The parts an episode runs with; `run(task)` runs one. What it does goes to `events`' listeners."""

    planner: Model
    executor: Model
    hub: ToolHub
    events: EventStream
    settings: AgentSettings
    bank: CaseBank | None = None
    judge: Model | None = None
    clock: Callable[[], datetime.date] = datetime.date.today  # today's date for the prompts; tests pass a fixed one
    recall_own_task: bool = True  # False (an eval's default): a task's own earlier case is never shown to it
    # Awaited before a plan's subtasks run, so the executor is offered the tools of servers that are up (or known
    # to have failed), not a cached listing: open_episode passes the hub's `started`; None when the hub is ready.
    tools_ready: Callable[[], Awaitable[None]] | None = None

    async def run(
        self,
        task: str,
        *,
        files: list[str] | None = None,
        truth: str | list[str] | None = None,
        policy: str = "similarity",
        k: int | None = None,
        learn: bool = True,
        source: str = "user",
        answer_mode: AnswerMode = "short",
        explore: bool = False,
        temperature: float | None = None,
        self_assess: bool | None = None,
    ) -> EpisodeResult:
        """Run one task to its end; never raises for the run's own failures (they are its status).

        `answer_mode` `short` answers in the exact form a scorer expects; `report` adds a brief report
        citing the run's sources (what a person asking should get). `explore` samples the cases shown
        (softmax at `temperature`, None: the memory's default) instead of the best ones. `self_assess`
        (None: the setting) has the judge check an answer without a truth against what the run found.
        """
        files = files or []
        run_id = "run-" + uuid.uuid4().hex[:12]
        self.events.emit(
            RunStarted(
                run_id=run_id,
                task=task,
                planner=self.planner.name,
                executor=self.executor.name,
                settings=self._settings_snapshot(policy, learn) | {"answer_mode": answer_mode, "explore": explore},
                files=tuple(files),
                source=source,
            )
        )
        state = _State(meter=Meter(events=self.events, run_id=run_id, spending=Spending(self.settings.budgets)), mode=answer_mode)
        try:
            retrieval = self._read_memory(task, policy, k, state, explore, temperature)
            await self._plan_and_execute(task, files, retrieval, state)
        except BudgetExhausted as spent:
            state.stopped_by = spent.name
            state.status = "budget_exhausted"
            self._note(state, f"budget spent: {spent.name}")
        except MementoError as exc:  # _Failed among them
            state.status, state.error = "failed", str(exc)
            self._note(state, f"failed: {exc}")
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                self._finish(state, status="interrupted")
            raise
        except KeyboardInterrupt:
            self._finish(state, status="interrupted")
            raise
        if state.status == "budget_exhausted" and not state.answer:
            await self._answer_when_spent(state)
        if state.mode == "report" and state.answer:
            self._check_report(state)
        if state.status != "failed" and truth is not None:
            judge = MeteredModel(model=self.judge, role="judge", meter=state.meter) if self.judge else None
            state.judgement = await judge_answer(task, state.answer, truth, judge)
            self.events.emit(Judged(run_id=run_id, judgement=state.judgement))
        elif state.status != "failed" and state.answer and (self.settings.self_assess if self_assess is None else self_assess):
            judge = MeteredModel(model=self.judge, role="judge", meter=state.meter) if self.judge else None
            state.judgement = await assess_answer(task, state.answer, state.findings, state.sources.listing(), judge)
            self.events.emit(Judged(run_id=run_id, judgement=state.judgement))
        case_id = self._write_memory(task, state, learn, source) if state.status != "failed" else None
        result = self._finish(state, case_id=case_id)
        await self.events.flush()  # listeners that act once a run has ended (the OTLP export) do it now
        return result

    def _note(self, state: _State, text: str) -> None:
        self.events.emit(Note(run_id=state.run_id, text=text))

    def _answered(self, state: _State, answer: str, how: Literal["planner", "guess"], report: str = "") -> None:
        state.answer, state.report = answer, report
        self.events.emit(Answered(run_id=state.run_id, answer=answer, how=how))

    def _check_report(self, state: _State) -> None:
        """Keep only the report's citations that number a source a tool of this run gave; say what was dropped."""
        checked = state.sources.check(state.report)
        state.report, state.cited, state.dropped = checked.text, [s.to_json() for s in checked.cited], checked.dropped
        if checked.dropped:  # the reader learns that something was cited without a source, not what it was
            state.report += f"\n\n(Removed: {len(checked.dropped)} citation(s) of sources no tool of this run read or returned.)"
        for problem in checked.dropped:
            self._note(state, f"citation dropped from the report: {problem}")
        self.events.emit(
            Reported(
                run_id=state.run_id,
                report=state.report,
                sources=tuple(state.cited),
                collected=len(state.sources.items),
                dropped=tuple(state.dropped),
            )
        )

    # ---- the steps ----------------------------------------------------------------------------

    def _read_memory(self, task: str, policy: str, k: int | None, state: _State, explore: bool, temp: float | None) -> Retrieval | None:
        if policy == "none" or self.bank is None:
            self.events.emit(CasesShown(run_id=state.run_id, cases=(), policy="none"))
            return None
        from memento.memory.cases import case_id_for  # one case per task text: its id names the task's own case

        exclude = () if self.recall_own_task else (case_id_for(task),)
        retrieval = self.bank.retrieve(task, k=k, policy=policy, exclude=exclude, **sampling(explore, temp))
        state.shown_ids, state.numbered = retrieval.ids, [s.case.id for s in numbered_cases(retrieval)]
        state.temperature = getattr(retrieval, "temperature", temp if explore else None)
        state.q_version = getattr(retrieval, "q_version", None)
        state.cases_shown = [
            {"id": s.case.id, "task": s.case.task, "outcome": s.case.outcome, "score": round(float(s.score), 4)} for s in retrieval.cases
        ]
        self.events.emit(
            CasesShown(
                run_id=state.run_id, cases=tuple(state.cases_shown), policy=policy, temperature=state.temperature, q_version=state.q_version
            )
        )
        return retrieval

    async def _plan_and_execute(self, task: str, files: list[str], retrieval: Retrieval | None, state: _State) -> None:
        max_cycles = self.settings.budget_cycles
        today = self.clock()
        executor = Executor.from_settings(
            self.settings, model=self.executor, hub=self.hub, meter=state.meter, task=task, files=files, today=today, sources=state.sources
        )
        tools, compact = tool_catalogue(executor.specs()), self.settings.structured("planner")
        state.system = system = system_prompt(max_cycles, today=today, tools=tools, mode=state.mode, compact=compact)
        state.messages = [Message.user(first_turn(task, files, retrieval))]
        nudges = 0
        while True:
            state.spending.check()
            plan_allowed = len(state.plans) < max_cycles
            reply = await self._ask_planner(system, state, plan_allowed)
            calls = [read_call(call, plan_allowed=plan_allowed, cases=len(state.numbered)) for call in reply.tool_calls]
            answer = next((c for c in calls if c.kind == "answer"), None)
            if answer is not None:
                state.status = "answered"
                self._answered(state, answer.answer, "planner", answer.report)
                return
            plan = next((c for c in calls if c.kind == "plan"), None)
            results: list[ToolResultPart] = [
                ToolResultPart(c.call.id, c.problem or "Only one plan at a time: this one was not run.", is_error=True)
                for c in calls
                if c is not plan
            ]
            if plan is None:
                # In the trace: what a (small) model sent instead of a usable plan or answer.
                said = "; ".join(f"{c.call.name}: {c.problem}" for c in calls) or f"no tool call ({reply.text.strip()[:200]!r})"
                self._note(state, f"planner turn not usable: {said}")
                nudges += 1
                if nudges > MAX_NUDGES:
                    raise _Failed("the planner did not call submit_plan or submit_answer")
                note = (
                    "Act only by calling submit_plan or submit_answer." if plan_allowed else "Call submit_answer with your best answer now."
                )
                state.messages.append(Message("user", [*results, TextPart(note)]) if results else Message.user(note))
                continue
            nudges = 0
            state.plans.append(plan.subtasks)
            if plan.follows is not None:  # the cases this plan follows, by the numbers the planner saw them under
                state.follows = [*(state.follows or []), *plan.follows]
            self.events.emit(PlanMade(run_id=state.run_id, cycle=len(state.plans), subtasks=tuple(plan.subtasks)))
            state.pending_plan_call = plan.call.id
            state.pending_results = results
            report = await self._execute_plan(executor, plan.subtasks, state)
            results.insert(0, ToolResultPart(plan.call.id, report))
            state.pending_plan_call = None
            state.messages.append(Message("user", [*results]))

    async def _ask_planner(self, system: str, state: _State, plan_allowed: bool) -> Reply:
        small = self.settings.structured("planner")
        planning, answering = plan_tool(small=small), answer_tool(state.mode, small=small)
        tools = [planning, answering] if plan_allowed else [answering]
        if plan_allowed and not state.plans and small and self.hub.specs():
            tools = [planning]  # a small model answers from its own weights when it may: where tools exist, it first plans
        reply = await state.meter.call(
            self.planner,
            "planner",
            system=system,
            messages=state.messages,
            tools=tools,
            tool_choice="any",
            max_tokens=self.settings.role_max_tokens("planner"),
        )
        state.messages.append(reply.message)
        return reply

    async def _execute_plan(self, executor: Executor, subtasks: list[str], state: _State) -> str:
        if self.tools_ready is not None:
            await self.tools_ready()
        cycle = len(state.plans)
        lines = []
        run_id = state.run_id
        for index, subtask in enumerate(subtasks, start=1):
            self.events.emit(SubtaskStarted(run_id=run_id, cycle=cycle, index=index, total=len(subtasks), subtask=subtask))
            record = episode_record(state.findings, self.settings.executor_record_chars)
            try:
                result = await executor.run(subtask, record)
            except BudgetExhausted:
                stopped = "(stopped: a budget of the run was spent)"
                self.events.emit(SubtaskDone(run_id=run_id, cycle=cycle, index=index, subtask=subtask, result=stopped, status="budget"))
                raise
            state.tools += [t for t in result.tools if t not in state.tools]
            state.findings.append((subtask, result.text))
            self.events.emit(
                SubtaskDone(run_id=run_id, cycle=cycle, index=index, subtask=subtask, result=result.text, status=result.status)
            )
            lines.append(f"Subtask {index}: {subtask}\nResult ({result.status}):\n{result.text}")
        if state.mode == "report":
            lines.append(state.sources.listing())
        return "\n\n".join(lines)

    async def _answer_when_spent(self, state: _State) -> None:
        """A budget ended the run: ask the planner once more for its best answer, unless the budget was a hard one."""
        if state.stopped_by in HARD_BUDGETS or not state.messages:
            self._answered(state, _best_guess(state), "guess")
            return
        closing: list[ToolResultPart | TextPart] = []
        if state.pending_plan_call is not None:
            done = "\n\n".join(f"Subtask: {s}\nResult:\n{r}" for s, r in state.findings[-3:])
            closing.append(ToolResultPart(state.pending_plan_call, f"Stopped early: the {state.stopped_by} budget is spent.\n\n{done}"))
            closing += state.pending_results
        listing = f"\n\n{state.sources.listing()}" if state.mode == "report" else ""
        closing.append(TextPart(f"The {state.stopped_by} budget is spent. Call submit_answer with your best answer now.{listing}"))
        if state.messages[-1].role == "assistant":
            state.messages.append(Message("user", list(closing)))
        try:
            reply = await self._ask_planner(state.system, state, plan_allowed=False)
            read = [c for c in (read_call(x, plan_allowed=False) for x in reply.tool_calls) if c.kind == "answer"]
            answer, report = (read[0].answer, read[0].report) if read else ("", "")
        except MementoError as exc:
            log.warning("no closing answer after the %s budget: %s", state.stopped_by, exc)
            answer, report = "", ""
        if answer:
            self._answered(state, answer, "planner", report)
        else:
            self._answered(state, _best_guess(state), "guess")

    def _write_memory(self, task: str, state: _State, learn: bool, source: str) -> str | None:
        if not learn or self.bank is None or not state.answer:
            return None
        record: dict[str, Any] = {
            "task": task,
            "plan": [step for steps in state.plans for step in steps],
            "answer": state.answer,
            "shown_case_ids": state.shown_ids,
            "summary": case_summary(state.findings, state.tools, state.judgement),
            "tools": state.tools,
            "source": source,
            "run_id": state.run_id,
        }
        follows = None if state.follows is None else followed(state.follows, state.numbered)
        case_id, problem = write_case(self.bank, self.events, record, state.judgement, follows)
        if problem:  # e.g. an answer over the memory's size limits: the run stands, unlearned
            self._note(state, problem)
            state.error = state.error or problem
        return case_id

    def _finish(self, state: _State, *, status: str | None = None, case_id: str | None = None) -> EpisodeResult:
        status = status or state.status or "answered"
        reward = state.judgement.reward if state.judgement else None
        self.events.emit(
            RunFinished(
                run_id=state.run_id,
                answer=state.answer,
                status=status,
                reward=reward,
                judgement=state.judgement,
                case_id=case_id,
                usage=state.spending.usage,
                stopped_by=state.stopped_by,
                error=state.error,
                reward_kind=reward_kind(state.judgement),
            )
        )
        return EpisodeResult(
            run_id=state.run_id,
            answer=state.answer,
            status=status,
            reward=reward,
            cases_shown=state.cases_shown,
            case_id=case_id,
            usage=state.spending.usage,
            plan=state.plans[-1] if state.plans else [],
            plans=state.plans,
            judgement=state.judgement,
            stopped_by=state.stopped_by,
            error=state.error,
            report=state.report,
            sources=state.cited,
            dropped_citations=state.dropped,
            reward_kind=reward_kind(state.judgement),
            temperature=state.temperature,
            q_version=state.q_version,
        )

    def _settings_snapshot(self, policy: str, learn: bool) -> dict[str, Any]:
        # Only what explains a run; keys and other secrets are never part of it.
        keep = (
            "planner_model",
            "executor_model",
            "judge_model",
            "model_max_tokens",
            "thinking_budget",
            "tool_timeout_s",
            "tool_result_max_chars",
            "executor_record_chars",
        )
        snapshot: dict[str, Any] = {name: getattr(self.settings, name) for name in keep}
        snapshot.update(self.settings.budgets.model_dump(exclude={"home"}))
        snapshot.update(policy=policy, learn=learn)
        return snapshot


@dataclass(kw_only=True)
class _State:
    """What an episode has so far; the steps fill it in."""

    meter: Meter  # the run's id, spending and event stream, for every metered call
    mode: AnswerMode = "short"
    system: str = ""  # the planner's system prompt, the same for every call of the run
    status: str = ""
    answer: str = ""
    report: str = ""
    sources: Sources = field(default_factory=Sources)  # every URL or file the run's tools read or returned
    cited: list[dict[str, Any]] = field(default_factory=list)  # the sources the checked report cites
    dropped: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    plans: list[list[str]] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)  # (subtask, result)
    tools: list[str] = field(default_factory=list)
    shown_ids: list[str] = field(default_factory=list)
    numbered: list[str] = field(default_factory=list)  # the ids of the cases shown, in the order the planner numbers them
    follows: list[int] | None = None  # the case numbers the plans said they follow; None: no plan said
    temperature: float | None = None
    q_version: int | str | None = None
    cases_shown: list[dict[str, Any]] = field(default_factory=list)
    judgement: Judgement | None = None
    stopped_by: str | None = None
    error: str | None = None
    pending_plan_call: str | None = None  # a submit_plan call whose subtasks are still running
    pending_results: list[ToolResultPart] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.meter.run_id

    @property
    def spending(self) -> Spending:
        return self.meter.spending


def _best_guess(state: _State) -> str:
    """The best answer without another model call: the latest finding's first line."""
    for _, text in reversed(state.findings):
        first = text.strip().splitlines()[0] if text.strip() else ""
        if first:
            return first[:300]
    return ""
