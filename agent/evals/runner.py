"""The eval loop: every task of a dataset through the agent, scored, written down as it finishes.

One set of tool servers and one case bank serve the whole eval; tasks run
`concurrency` at a time. Iterations run the same tasks again with the memory
learning in between (each finished task is written to the case bank with its
reward, as `memento run --truth` does); every iteration but the last is a training
one, whose memory reads explore (cases sampled at `explore`, the softmax temperature)
while the last reads greedily, as run and chat do; attempts repeat a task within an
iteration for avg@k / best@k. A result line is appended the moment its task
finishes, so an eval stopped in any way is continued with `--resume` without
repeating or losing a task.

The eval is sealed (docs/eval.md): each task runs on the hub confined to a
folder of its own holding copies of its attachments only (`task_inputs`), and
never recalls its own earlier case unless `self_recall` asks for the paper's protocol.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio

from memento.core.errors import MementoError
from memento.core.files import replace_file

from ..episode import Episode, EpisodeResult
from ..judge import self_grading
from ..llm import Usage
from ..session import RunOptions
from .datasets import Dataset, EvalTask
from .results import ResultLog, key_of, latest
from .scoring import Score, needs_model, score_answer

__all__ = [
    "CostCapReached",
    "EvalError",
    "EvalPlan",
    "auto_scorers",
    "find_seen",
    "finished",
    "prepare_folder",
    "report",
    "run_eval",
    "task_inputs",
]

PRIMARY_ORDER = ("gaia", "simpleqa", "llm", "em", "f1")  # the scorer that decides `correct`, when several run


class EvalError(MementoError):
    """The eval cannot start or continue as asked."""


class CostCapReached(MementoError):
    """The eval's cost cap stopped it before every task ran; the report covers what did."""

    def __init__(self, skipped: int, spent: float) -> None:
        super().__init__(
            f"The eval's cost cap was reached (${spent:.2f} spent); {skipped} task(s) did not run. "
            "Raise --max-eval-cost and continue with --resume."
        )
        self.skipped = skipped


@dataclass
class EvalPlan:
    """What one `memento eval` does: which tasks, how often, with which memory and scorers, into which folder."""

    dataset: Dataset
    tasks: list[EvalTask]
    out: Path
    options: RunOptions
    memory: str = "similarity"  # none | similarity | q
    iterations: int = 1
    attempts: int = 1
    concurrency: int = 2
    scorers: list[str] = field(default_factory=lambda: ["em", "f1"])
    exclude_seen: bool = False
    resume: bool = False
    retry_failed: bool = False
    max_cost_usd: float = 0.0  # the whole eval's spending cap: no task starts once it is reached (0: none)
    selection: dict[str, Any] = field(default_factory=dict)  # sample, seed, limit, shard, as given
    self_recall: bool = False  # the paper's protocol: a task may be shown its own earlier case
    explore: float = 0.0  # the temperature training iterations sample cases at (0: greedy in every iteration)
    inputs_root: Path | None = None  # the folder the servers were given, holding one folder per running task

    @property
    def primary(self) -> str:
        return next(name for name in PRIMARY_ORDER if name in self.scorers)

    def fingerprint(self) -> dict[str, Any]:
        """What must match for `--resume` to continue this eval rather than mix two."""
        return {
            "dataset_sha256": self.dataset.sha256,
            "memory": self.memory,
            "iterations": self.iterations,
            "attempts": self.attempts,
            "scorers": self.scorers,
            "selection": self.selection,
            "exclude_seen": self.exclude_seen,
            "self_recall": self.self_recall,
            # the temperature training iterations explore at; 0 when none does (one iteration, no memory, --explore 0)
            "training_temperature": self.explore if self.explores(1) else 0.0,
        }

    def explores(self, iteration: int) -> bool:
        """Whether an iteration's memory reads explore: a training one (not the last) of a learning memory."""
        return self.explore > 0 and iteration < self.iterations and self.memory != "none" and self.options.learn


# What a key missing from an older folder's fingerprint meant when it was made (evals before issue 21 self-recalled,
# and before issue 24 none explored).
FINGERPRINT_DEFAULTS: dict[str, Any] = {"self_recall": True, "training_temperature": 0.0}


def auto_scorers(dataset_format: str) -> list[str]:
    """`--scorer auto`: GAIA's rules, SimpleQA's grader, else EM and F1 plus the LLM judge's verdict."""
    return {"gaia": ["gaia"], "simpleqa": ["simpleqa"]}.get(dataset_format, ["em", "f1", "llm"])


# ---- the folder ------------------------------------------------------------------------------


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("memento-agent", "mcp", "openai", "chromadb", "httpx"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    from memento.agent.llm.messages_api import API_VERSION  # Claude is called over httpx: the API version it speaks

    versions["anthropic-api"] = API_VERSION
    return versions


def _config(plan: EvalPlan) -> dict[str, Any]:
    settings = plan.options.settings
    memory = plan.options.memory
    keep = ("model_max_tokens", "thinking_budget", "tool_timeout_s", "tool_result_max_chars")
    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "fingerprint": plan.fingerprint(),
        "dataset": {"path": str(plan.dataset.path), "format": plan.dataset.format, "sha256": plan.dataset.sha256, "tasks": len(plan.tasks)},
        "memory": plan.memory,
        "memory_k": plan.options.k,
        "memory_dir": str(memory.casebank_dir) if memory and not memory.chroma_url else None,
        "chroma_url": bool(memory and memory.chroma_url),
        "models": {
            "planner": settings.planner_model,
            "executor": settings.executor_model,
            "judge": settings.grader_model,
        },
        "judge_self_grading": self_grading(settings.planner_model, settings.judge_model) is not None,
        "settings": {name: getattr(settings, name) for name in keep} | settings.budgets.model_dump(mode="json", exclude={"home"}),
        "scorers": plan.scorers,
        "primary_scorer": plan.primary,
        "iterations": plan.iterations,
        "attempts": plan.attempts,
        "concurrency": plan.concurrency,
        "selection": plan.selection,
        "self_recall": plan.self_recall,
        "explore": {"temperature": plan.explore, "iterations": [i for i in range(1, plan.iterations + 1) if plan.explores(i)]},
        "sealed": {
            "inputs": "each task's own attachments only, in a folder of its own",
            "working_folder": False,
            "memory_tools": False,
            "own_case_recalled": plan.self_recall,
        },
        "versions": _versions(),
        "git_commit": _git_commit(),
        "resumed": [],
    }


def prepare_folder(plan: EvalPlan) -> dict[str, Any]:
    """Create or reopen the folder (before any server starts): refuse to mix evals, cut a torn last line, record each resume."""
    log = ResultLog(plan.out / "results.jsonl")
    plan.out.mkdir(parents=True, exist_ok=True)
    config_path = plan.out / "config.json"
    has_results = log.path.exists() and log.path.stat().st_size > 0
    if config_path.exists() and (has_results or plan.resume):
        if not plan.resume:
            raise EvalError(f"{plan.out} already holds an eval; continue it with --resume, or choose another --out.")
        config = json.loads(config_path.read_text())
        before, now = config.get("fingerprint", {}), plan.fingerprint()
        differ = sorted(k for k in set(before) | set(now) if before.get(k, FINGERPRINT_DEFAULTS.get(k)) != now.get(k))
        if differ:
            raise EvalError(f"--resume: {plan.out} holds an eval with other {', '.join(differ)}; give the same arguments or another --out.")
        config["resumed"].append(datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
        log.repair()
    elif has_results:
        raise EvalError(f"{plan.out} holds results.jsonl but no config.json; choose another --out.")
    else:
        config = _config(plan)
    _write_json(config_path, config)
    return config


def _write_json(path: Path, value: Any) -> None:
    replace_file(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# ---- the leakage guard -------------------------------------------------------------------------


def find_seen(bank: Any, tasks: list[EvalTask], threshold: float, batch: int = 256) -> dict[str, dict[str, Any]]:
    """Tasks whose question (or a near duplicate, cosine ≥ threshold) is already a case: id → {case_id, similarity}."""
    from memento.memory.cases import case_id_for

    if not tasks or not bank.count():
        return {}
    seen: dict[str, dict[str, Any]] = {}
    for start in range(0, len(tasks), batch):
        chunk = tasks[start : start + batch]
        vectors = bank.embedder.embed([t.question for t in chunk])
        hits = bank.store.cases.query(query_embeddings=vectors.tolist(), n_results=1, include=["distances"])
        for task, ids, distances in zip(chunk, hits["ids"], hits["distances"]):
            if not ids:
                continue
            similarity = 1.0 - float(distances[0])
            if ids[0] == case_id_for(task.question) or similarity >= threshold:
                seen[task.id] = {"case_id": ids[0], "similarity": round(similarity, 4)}
    return seen


def _seen(plan: EvalPlan, episode: Episode) -> dict[str, dict[str, Any]]:
    """The guard's finding, computed once before the first task (later the eval's own cases would count)."""
    path = plan.out / "seen.json"
    if path.exists():
        return json.loads(path.read_text())["tasks"]
    bank = episode.bank
    seen = find_seen(bank, plan.tasks, bank.settings.memory_duplicate_threshold) if bank is not None else {}
    _write_json(path, {"checked": bank is not None, "tasks": seen})
    return seen


# ---- running -----------------------------------------------------------------------------------


def _finished_rows(plan: EvalPlan, log: ResultLog) -> list[dict[str, Any]]:
    """The latest line of each unit of work that counts as done (with --retry-failed, a failed run does not)."""
    return [r for r in latest(log.read()) if not (plan.retry_failed and r.get("status") == "failed")]


def _to_run(plan: EvalPlan, seen: dict[str, Any]) -> list[EvalTask]:
    """The plan's tasks, less those already in memory when --exclude-seen asks."""
    return [t for t in plan.tasks if not (plan.exclude_seen and t.id in seen)]


def _units(plan: EvalPlan, tasks: list[EvalTask]) -> list[tuple[str, int, int]]:
    """Every (task, iteration, attempt) the eval runs, in the order it runs them."""
    return [(t.id, i, a) for i in range(1, plan.iterations + 1) for a in range(1, plan.attempts + 1) for t in tasks]


def finished(plan: EvalPlan) -> bool:
    """Whether every task of the plan has its result already (a resume then only rewrites the report)."""
    path = plan.out / "seen.json"
    seen = json.loads(path.read_text())["tasks"] if path.exists() else {}
    done = {key_of(r) for r in _finished_rows(plan, ResultLog(plan.out / "results.jsonl"))}
    return all(unit in done for unit in _units(plan, _to_run(plan, seen)))


def report(plan: EvalPlan, config: dict[str, Any]) -> dict[str, Any]:
    """Write summary.json, report.md and the plots of the folder; return the summary."""
    from .report import Group, write_report

    rows = latest(ResultLog(plan.out / "results.jsonl").read())
    label = plan.memory + (" · self-recall" if plan.self_recall else "")
    return write_report(plan.out, [Group(label, config, [plan.out], rows)])


@dataclass
class Tally:
    """Running figures for the progress display."""

    total: int = 0
    done: int = 0
    scored: int = 0
    correct: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    skipped: int = 0  # tasks not started because the eval's cost cap was reached

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None

    def add(self, row: dict[str, Any]) -> None:
        self.done += 1
        self.tokens += int(row.get("tokens") or 0)
        self.cost_usd += float(row.get("cost_usd") or 0.0)
        if row.get("correct") is not None:
            self.scored += 1
            self.correct += bool(row["correct"])


Listener = Callable[[Tally, dict[str, Any] | None], None]


async def run_eval(plan: EvalPlan, episode: Episode, config: dict[str, Any], listen: Listener | None = None) -> dict[str, Any]:
    """Run what is not finished yet, append each result, and return the final summary (files written).

    `config` is what `prepare_folder` returned for this plan.
    """
    log = ResultLog(plan.out / "results.jsonl")
    seen = _seen(plan, episode) if plan.memory != "none" else {}
    tasks = {t.id: t for t in _to_run(plan, seen)}
    finished_rows = _finished_rows(plan, log)
    done = {key_of(r) for r in finished_rows}
    grader = episode.judge if any(needs_model(s) for s in plan.scorers) else None

    tally = Tally(total=len(tasks) * plan.iterations * plan.attempts)
    for row in finished_rows:
        tally.add(row)
    notify = listen or (lambda _tally, _row: None)
    notify(tally, None)

    limiter = anyio.CapacityLimiter(plan.concurrency)
    units = [unit for unit in _units(plan, list(tasks.values())) if unit not in done]
    for iteration in range(1, plan.iterations + 1):
        # An iteration starts when the one before has finished: its cases are in memory by then.
        async with anyio.create_task_group() as group:
            for task_id, unit_iteration, attempt in units:
                if unit_iteration == iteration:
                    group.start_soon(_one, plan, episode, grader, tasks[task_id], iteration, attempt, seen, log, limiter, tally, notify)

    summary = report(plan, config)
    if tally.skipped:
        raise CostCapReached(tally.skipped, tally.cost_usd)
    return summary


async def _one(
    plan: EvalPlan,
    episode: Episode,
    grader: Any,
    task: EvalTask,
    iteration: int,
    attempt: int,
    seen: dict[str, dict[str, Any]],
    log: ResultLog,
    limiter: anyio.CapacityLimiter,
    tally: Tally,
    notify: Listener,
) -> None:
    async with limiter:
        if plan.max_cost_usd and tally.cost_usd >= plan.max_cost_usd:
            tally.skipped += 1  # not written: --resume runs it once the cap is raised
            return
        started = time.monotonic()
        truth = list(task.truth) or None
        learn = plan.memory != "none" and plan.options.learn
        try:
            async with task_inputs(plan.inputs_root, task) as folder:
                sealed = dataclasses.replace(episode, hub=episode.hub.confined(folder), recall_own_task=plan.self_recall)
                result = await sealed.run(
                    task.question,
                    files=[str(folder / f.name) for f in task.files],
                    truth=truth,
                    policy=plan.memory,
                    k=plan.options.k,
                    learn=learn,
                    source="eval",
                    explore=plan.explores(iteration),
                    temperature=plan.explore if plan.explores(iteration) else None,
                )
        except Exception as exc:  # one task's crash is its result line, not the end of the eval
            result = EpisodeResult(
                run_id="",
                answer="",
                status="failed",
                reward=None,
                cases_shown=[],
                case_id=None,
                usage=Usage(),
                plan=[],
                error=f"{type(exc).__name__}: {exc}",
            )
        scores = await _score(plan, grader, task, result) if truth and result.status != "failed" else {}
        row = _row(plan, task, iteration, attempt, result, scores, time.monotonic() - started, seen.get(task.id))
        log.append(row)
        tally.add(row)
        notify(tally, row)


@asynccontextmanager
async def task_inputs(root: Path | None, task: EvalTask) -> AsyncIterator[Path]:
    """A new folder in `root` holding copies (hard links when possible) of `task`'s attachments alone; removed after.

    The folder and its files are readable by all (the code sandbox runs as another user); `root` itself stays
    private, so only a sandbox it is mounted into sees them.
    """
    base = root if root is not None else Path(tempfile.gettempdir())
    folder = Path(tempfile.mkdtemp(prefix=re.sub(r"[^A-Za-z0-9_-]", "_", task.id)[:40] + "-", dir=base))
    try:
        folder.chmod(0o755)
        for source in task.files:
            _place(source, folder / source.name)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _place(source: Path, target: Path) -> None:
    """A hard link when the file is readable by all already (a link shares the original's mode), else a copy."""
    if source.stat().st_mode & 0o004:
        try:
            os.link(source, target)  # free and instant; every mount of it is read-only
            return
        except OSError:
            pass  # another file system: copy
    shutil.copyfile(source, target)
    target.chmod(0o644)


async def _score(plan: EvalPlan, grader: Any, task: EvalTask, result: EpisodeResult) -> dict[str, Score]:
    names = list(plan.scorers)
    scores: dict[str, Score] = {}
    judged = result.judgement
    if "llm" in names and judged is not None and (judged.exact or judged.llm is not None):
        # The episode already asked the judge (or matched exactly) to learn from the run: reuse that verdict.
        names.remove("llm")
        verdict = "correct" if judged.exact else judged.llm
        value = {"correct": 1.0, "incorrect": 0.0}.get(verdict or "")
        scores["llm"] = Score("llm", value, None if value is None else value == 1.0, verdict, judged.reason or "exact match")
    scores |= await score_answer(names, task.question, result.answer, list(task.truth), grader)
    return scores


def _row(
    plan: EvalPlan,
    task: EvalTask,
    iteration: int,
    attempt: int,
    result: EpisodeResult,
    scores: dict[str, Score],
    seconds: float,
    seen: dict[str, Any] | None,
) -> dict[str, Any]:
    main = scores.get(plan.primary)
    correct = main.correct if main is not None else (False if task.truth and result.status == "failed" else None)
    usage = result.usage
    return {
        "id": task.id,
        "question": task.question,
        "truth": task.truth_text,
        "answer": result.answer,
        "score": main.score if main is not None else (0.0 if correct is False else None),
        "correct": correct,
        "run_id": result.run_id,
        "iteration": iteration,
        "attempt": attempt,
        "tokens": usage.total_tokens,
        "cost_usd": round(usage.cost_usd, 6),
        "seconds": round(seconds, 3),
        "status": result.status,
        "source": task.source,
        "level": task.level,
        "memory": plan.memory,
        "scores": {name: s.to_json() for name, s in scores.items()},
        "input_tokens": usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
        "output_tokens": usage.output_tokens,
        "cases_shown": [c["id"] for c in result.cases_shown],
        "case_id": result.case_id,
        "seen": seen is not None,
        "stopped_by": result.stopped_by,
        "error": result.error,
        "temperature": result.temperature,  # the memory read's sampling temperature (None: greedy)
        "q_version": result.q_version,
    }
