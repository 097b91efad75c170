"""Continual learning without fine-tuning, simulated: does the case memory make a (simulated) agent better over time?

This SIMULATES THE LEARNING LOOP WITH A SYNTHETIC EXECUTOR; IT IS NOT A MODEL BENCHMARK. No language model
runs. Tasks come from a synthetic family of six types (unit conversion, date arithmetic, population, distance,
molar mass, founding year), each solved by one plan template; their texts share words and entities across
types, so the nearest case is not always of the right type. The simulated agent follows the plan of the best
positive case it is shown, else improvises a template (avoiding those of the failures it is shown); a right
template succeeds with probability p_right, a wrong one with p_wrong. Episodes go through the real
`CaseBank.retrieve` and `CaseBank.record_episode` (one case per task, a transition per shown case, online
updates of the real Q policy) in a fresh bank per design: none (no cases shown), similarity and q. Every
design sees the same tasks, orders and executor luck (common random numbers). After each pass over the
training tasks, new tasks of the same types (held out, never recorded) measure generalisation.
Every design gives the same figures for a seed every run: the bank's replay samples (what Q's online
updates rehearse) are drawn from a generator seeded by the world's seed.

Usage: python bench/continual.py [--tasks 60] [--held-out 60] [--iterations 5] [--seeds 3] [--k 4] [--designs q,similarity] [--jobs 2]
[--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import print_header
from continual_world import TEMPLATES, TYPES, Executor, World

from memento.memory import CaseBank, MemorySettings
from memento.memory.embeddings import TextEmbedder, make_embedder

DESIGNS = ("none", "similarity", "q")
# With --teacherless: q when, from the second pass on, half the training episodes have no truth. They are either
# not recorded (as a `memento run` without --truth did before), recorded unrated, or rated by a self-assessing
# judge that is right with probability JUDGE_ACCURACY.
TEACHERLESS = ("q, half unrecorded", "q, half unrated", "q, half self-assessed")
JUDGE_ACCURACY = 0.8
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "continual.png"
NOTICE = "simulation of the learning loop with a synthetic executor; not a model benchmark"

# ---- one design, one seed ---------------------------------------------------------------------


@dataclass
class Run:
    """One design on one seed: a value per pass over the training tasks."""

    held_out: list[float] = field(default_factory=list)  # success rate on the held-out tasks after the pass
    training: list[float] = field(default_factory=list)  # success rate of the pass's recorded episodes
    guided: list[float] = field(default_factory=list)  # held-out tasks that followed a shown case with the right template
    q_active: list[float] = field(default_factory=list)  # training retrievals the Q policy actually ranked
    misleading: list[float] = field(default_factory=list)  # positive cases in the bank whose plan is wrong for their type
    covered: list[float] = field(default_factory=list)  # held-out tasks whose type's template some positive case in the bank carries
    q_ready_after: int | None = None  # episodes recorded before Q took over from similarity
    q_weights: dict[str, float] = field(default_factory=dict)  # the Q-function's feature weights after the last pass


@dataclass
class Curves:
    """One design on every seed."""

    runs: list[Run] = field(default_factory=list)
    seconds: float = 0.0

    def values(self, metric: str) -> np.ndarray:
        """(seeds, passes)"""
        return np.array([getattr(run, metric) for run in self.runs], dtype=float)


def run_design(
    design: str,
    world: World,
    settings: MemorySettings,
    embedder: TextEmbedder,
    vectors: dict[str, np.ndarray],
    executor: Executor,
    explore: bool,
    temperature: float | None = None,
) -> Run:
    """Passes over the training tasks, each episode recorded as the agent does, then the held-out tasks, unrecorded."""
    run = Run()
    policy = "similarity" if design == "none" else "q" if design.startswith("q") else design
    k = settings.memory_k
    kinds = {task.text: task.kind for task in world.training}
    episodes = 0
    with CaseBank.open(settings, embedder, rng=np.random.default_rng([world.seed, 3])) as bank:
        for iteration, order in enumerate(world.orders):
            rewards, ranked_by_q = [], 0
            for index in (int(i) for i in order):
                task = world.training[index]
                found = None
                if design != "none":
                    explorer = world.guess_rng(2, iteration, index)
                    found = bank.retrieve(task.text, k, policy, explore, vectors[task.text], explorer, temperature=temperature)
                    ranked_by_q += found.policy == "q"
                template, followed = executor.plan(found, world.guess_rng(0, iteration, index))
                reward = executor.reward(task, template, world.train_draws[iteration, index])
                rewards.append(reward)
                rated, kind = _teacher(design, world, iteration, index, reward)
                if kind == "unrecorded":
                    continue
                bank.record_episode(
                    task.text, list(TEMPLATES[template]), f"simulated answer ({TYPES[task.kind].name})", rated,
                    shown_case_ids=found.ids if found else [], summary="continual-learning simulation",
                    source="continual-sim", run_id=f"sim-{world.seed}-{iteration}-{index}",
                    followed_case_ids=[followed] if followed else [], reward_kind=kind,
                )  # fmt: skip
                episodes += 1
                if design == "q" and run.q_ready_after is None and bank.q.ready():
                    run.q_ready_after = episodes
            run.training.append(float(np.mean(rewards)))
            run.q_active.append(ranked_by_q / len(order))
            scores, right = [], []
            for index, task in enumerate(world.held_out):  # evaluation: greedy, nothing recorded
                found = None if design == "none" else bank.retrieve(task.text, k, policy, task_embedding=vectors[task.text])
                template, followed = executor.plan(found, world.guess_rng(1, iteration, index))
                scores.append(executor.reward(task, template, world.held_draws[iteration, index]))
                right.append(float(followed is not None and template == task.kind))
            run.held_out.append(float(np.mean(scores)))
            run.guided.append(float(np.mean(right)))
            # A lucky success with a wrong plan makes a positive case whose plan later episodes copy.
            positive = [c for c in bank.iter_cases() if c.outcome == "positive"]
            wrong = [TEMPLATES.index(tuple(c.plan)) != kinds[c.task] for c in positive]
            run.misleading.append(float(np.mean(wrong)) if wrong else 0.0)
            # Guidance can only be right where the bank has a success with the right plan: its discovery, not ranking.
            offered = {TEMPLATES.index(tuple(c.plan)) for c in positive}
            run.covered.append(float(np.mean([task.kind in offered for task in world.held_out])))
        model = bank.q._load()  # the version the last online update saved
        run.q_weights = model.weights if model is not None else {}
    return run


def _teacher(design: str, world: World, iteration: int, index: int, reward: float) -> tuple[float | None, str]:
    """The reward an episode is recorded with, and its kind: every episode is verified, except in the teacherless designs."""
    if design not in TEACHERLESS or iteration == 0:
        return reward, "verified"
    luck = world.guess_rng(3, iteration, index).random(2)
    if luck[0] >= 0.5:  # the other half has a truth
        return reward, "verified"
    if design == TEACHERLESS[0]:
        return None, "unrecorded"
    if design == TEACHERLESS[1]:
        return None, "unrated"
    judged = reward if luck[1] < JUDGE_ACCURACY else 1.0 - reward
    return judged, "self-assessed"


def simulate(
    tasks: int = 60,
    held_out: int = 60,
    iterations: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    k: int = 4,
    workdir: Path | None = None,
    settings: MemorySettings | None = None,
    embedder: TextEmbedder | None = None,
    executor: Executor | None = None,
    explore: bool = False,
    progress: bool = False,
    designs: Sequence[str] = DESIGNS,
    temperature: float | None = None,
    jobs: int = 1,
) -> dict[str, Curves]:
    """Run every design on every seed, each in a fresh bank under `workdir` (a temporary folder if None, in
    memory where the system has one); `jobs` worker processes share the seeds (same figures as one process)."""
    base = settings or MemorySettings()
    executor = executor or Executor()
    job = _Job(tasks, held_out, iterations, tuple(seeds), k, base, executor, explore, progress, tuple(designs), temperature)
    curves = {design: Curves() for design in designs}
    with tempfile.TemporaryDirectory(prefix="memento-continual-", dir=workdir or _fast_folder()) as tmp:
        if jobs > 1 and len(job.seeds) > 1 and embedder is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # Seeds are independent: each worker embeds the same texts in the same batches as one process
            # would (so its vectors, and the figures, are identical), then runs whole seeds.
            context = multiprocessing.get_context("spawn")  # Chroma and BLAS threads do not survive a fork
            with ProcessPoolExecutor(max_workers=min(jobs, len(job.seeds)), mp_context=context) as pool:
                results = list(pool.map(_run_seed, [(job, seed, Path(tmp)) for seed in job.seeds]))
        else:
            embedder = embedder or _embedder(base)
            vectors = _vectors(job, embedder)
            results = [_run_seed((job, seed, Path(tmp)), embedder, vectors) for seed in job.seeds]
    for per_design in results:
        for design, (run, seconds) in per_design.items():
            curves[design].runs.append(run)
            curves[design].seconds += seconds
    return curves


@dataclass(frozen=True)
class _Job:
    """What every seed of one `simulate` call shares (picklable, for worker processes)."""

    tasks: int
    held_out: int
    iterations: int
    seeds: tuple[int, ...]
    k: int
    settings: MemorySettings
    executor: Executor
    explore: bool
    progress: bool
    designs: tuple[str, ...]
    temperature: float | None

    def worlds(self) -> list[World]:
        return [World.make(seed, self.tasks, self.held_out, self.iterations) for seed in self.seeds]


_WORKER: dict[str, object] = {}  # a worker process's embedder and task vectors, made once for all its seeds


def _embedder(settings: MemorySettings) -> TextEmbedder:
    return make_embedder(settings.embedding_model, settings.embedding_base_url, settings.embedding_api_key, settings.embedding_dimension)


def _vectors(job: _Job, embedder: TextEmbedder) -> dict[str, np.ndarray]:
    """Every world's task vectors, embedded at once (the embedder's memo then serves record_episode too)."""
    texts = [t.text for w in job.worlds() for t in w.training + w.held_out]
    return dict(zip(texts, embedder.embed(texts)))


def _run_seed(
    work: tuple[_Job, int, Path], embedder: TextEmbedder | None = None, vectors: dict[str, np.ndarray] | None = None
) -> dict[str, tuple[Run, float]]:
    """Every design on one seed, each in a fresh bank under the folder: {design: (run, seconds)}."""
    job, seed, folder = work
    if embedder is None or vectors is None:  # in a worker process
        if not _WORKER:
            _WORKER["embedder"] = _embedder(job.settings)
            _WORKER["vectors"] = _vectors(job, _WORKER["embedder"])  # type: ignore[arg-type]
        embedder, vectors = _WORKER["embedder"], _WORKER["vectors"]  # type: ignore[assignment]
    from threadpoolctl import threadpool_limits

    world = World.make(seed, job.tasks, job.held_out, job.iterations)
    done: dict[str, tuple[Run, float]] = {}
    for number, design in enumerate(job.designs):
        settings_here = job.settings.model_copy(update={"home": folder / f"design{number}-seed{seed}", "memory_k": job.k})
        started = time.perf_counter()
        # Q's matrices are small: BLAS threads only wait on each other (and on other processes on a busy machine).
        with threadpool_limits(limits=1, user_api="blas"):
            run = run_design(design, world, settings_here, embedder, vectors, job.executor, job.explore, job.temperature)  # type: ignore[arg-type]
        done[design] = (run, time.perf_counter() - started)
        if job.progress:
            print(f"  seed {seed} {design:<22} held-out " + " ".join(f"{v:.2f}" for v in run.held_out), flush=True)
    return done


def _fast_folder() -> Path | None:
    """A memory-backed folder for the temporary banks when there is one: Chroma syncs every write to disk,
    which costs more than the simulation itself and changes nothing in its figures."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


# ---- report -----------------------------------------------------------------------------------


def cell(values: np.ndarray) -> str:
    """Mean ± sample standard deviation of one column (over seeds)."""
    spread = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return f"{float(values.mean()):.3f} ± {spread:.3f}"


def print_table(title: str, curves: dict[str, Curves], metric: str) -> None:
    print(title)
    print(f"{'pass':>5}  " + "  ".join(f"{d:>22}" for d in curves))
    tables = {d: curves[d].values(metric) for d in curves}
    for i in range(next(iter(tables.values())).shape[1]):
        print(f"{i + 1:>5}  " + "  ".join(f"{cell(tables[d][:, i]):>22}" for d in curves))
    print()


# Two-sided 95% quantiles of Student's t by degrees of freedom (beyond 30, the normal's).
_T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 15: 2.13, 20: 2.09, 30: 2.04}


def paired_interval(values: np.ndarray) -> str:
    """Mean of paired differences (over seeds) with its 95% confidence interval (Student's t)."""
    n = len(values)
    if n < 2:
        return f"{float(values.mean()):+.3f}"
    t = _T95.get(n - 1) or next((_T95[d] for d in sorted(_T95) if d >= n - 1), 1.96)
    half = t * float(values.std(ddof=1)) / np.sqrt(n)
    return f"{float(values.mean()):+.3f} [{float(values.mean()) - half:+.3f}, {float(values.mean()) + half:+.3f}]"


def print_paired(curves: dict[str, Curves], first: str, second: str) -> np.ndarray:
    paired = curves[first].values("held_out") - curves[second].values("held_out")
    print(f"{first} − {second} on held-out tasks, paired by seed (same tasks and luck), mean [95% CI] per pass:")
    print("  " + "; ".join(f"pass {i + 1} {paired_interval(paired[:, i])}" for i in range(paired.shape[1])))
    per_seed = paired.mean(axis=1)
    print(
        f"  mean over all passes and seeds: {paired.mean():+.3f}; over the passes, {first} is higher on {int((per_seed > 0).sum())}, "
        f"equal on {int((per_seed == 0).sum())} and lower on {int((per_seed < 0).sum())} of {len(per_seed)} seeds\n"
    )
    return paired


def plot(curves: dict[str, Curves], out: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, metric, label in (
        (axes[0], "held_out", "held-out tasks (never recorded)"),
        (axes[1], "training", "training tasks (recorded each pass)"),
    ):
        for design in curves:
            values = curves[design].values(metric)
            passes = np.arange(1, values.shape[1] + 1)
            mean, spread = values.mean(axis=0), values.std(axis=0)
            axis.plot(passes, mean, marker="o", label=design)
            axis.fill_between(passes, mean - spread, mean + spread, alpha=0.15)
        axis.set_title(label, fontsize=10)
        axis.set_xlabel("pass over the training tasks")
        axis.set_xticks(passes)
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("success rate (mean ± sd over seeds)")
    axes[0].legend(title="case retrieval")
    figure.suptitle(f"Case memory: {NOTICE}\n{subtitle}", fontsize=10)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> dict[str, Curves]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=60, help="training tasks, recorded on every pass")
    parser.add_argument("--held-out", type=int, default=60, help="new tasks of the same types, evaluated after every pass")
    parser.add_argument("--iterations", type=int, default=5, help="passes over the training tasks")
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds (task sets, orders and executor luck)")
    parser.add_argument("--seed-start", type=int, default=0, help="the first seed: seeds N .. N+S-1")
    parser.add_argument("--k", type=int, default=4, help="cases retrieved per task")
    parser.add_argument("--p-right", type=float, default=0.8, help="success probability with the right template")
    parser.add_argument("--p-wrong", type=float, default=0.1, help="success probability with a wrong template")
    parser.add_argument(
        "--explore",
        action="store_true",
        help="q's training retrievals draw k of its candidates from softmax(score / α) (similarity fetches only k, so it is unchanged)",
    )
    parser.add_argument(
        "--temperature", type=float, default=None, help="softmax temperature α with --explore (default MEMENTO_MEMORY_TEMPERATURE)"
    )
    parser.add_argument(
        "--teacherless",
        action="store_true",
        help="add q designs where, from pass 2, half the episodes are unrecorded, unrated or self-assessed",
    )
    parser.add_argument(
        "--designs", default=",".join(DESIGNS), help="comma-separated designs to run (q must be among them; e.g. q,similarity)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the PNG of the curves goes")
    parser.add_argument("--json", type=Path, default=None, help="write the curves (per design, per seed, per pass) to this JSON file")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="folder for the temporary banks (default: /dev/shm when there is one, else the system's)"
    )
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes sharing the seeds (same figures; default 2)"
    )
    args = parser.parse_args(argv)

    print_header(f"continual learning through the case bank: a {NOTICE}")
    settings = MemorySettings.from_env(chroma_url="", memory_k=args.k)  # MEMENTO_MEMORY_* apply; each bank gets its own home
    executor = Executor(args.p_right, args.p_wrong)
    guess = (executor.p_right + executor.p_wrong * (len(TEMPLATES) - 1)) / len(TEMPLATES)
    print(
        f"{len(TYPES)} task types, {len(TEMPLATES)} plan templates; {args.tasks} training + {args.held_out} held-out tasks per seed; "
        f"{args.iterations} passes; seeds {args.seed_start}..{args.seed_start + args.seeds - 1}; k={args.k}\n"
        f"executor: right template succeeds with p={executor.p_right}, wrong with p={executor.p_wrong} "
        f"(a blind guess: {guess:.3f}); training retrieval {'explores' if args.explore else 'is greedy, as the agent'}\n"
        f"memory: real CaseBank and Q policy, fresh embedded bank per design and seed; online steps {settings.memory_online_steps}, "
        f"Q candidates {settings.memory_candidates}, Q ranks once it has learned from {settings.memory_min_transitions} transitions\n"
    )
    started = time.perf_counter()
    seeds = range(args.seed_start, args.seed_start + args.seeds)
    designs = tuple(d for d in args.designs.split(",") if d) + (TEACHERLESS if args.teacherless else ())
    if "q" not in designs or any(d not in DESIGNS + TEACHERLESS for d in designs):
        parser.error(f"--designs: choose among {', '.join(DESIGNS)} and include q")
    curves = simulate(
        args.tasks, args.held_out, args.iterations, seeds, args.k, args.workdir, settings,
        executor=executor, explore=args.explore, progress=True, designs=designs, temperature=args.temperature, jobs=args.jobs,
    )  # fmt: skip
    total = time.perf_counter() - started
    print()
    print_table("held-out tasks, success rate after each pass (mean ± sd over seeds):", curves, "held_out")
    print_table("held-out tasks that followed a shown case with the right template:", curves, "guided")
    print_table("training tasks, success rate during each pass (recorded episodes):", curves, "training")
    print_table("positive cases in the bank whose plan is the wrong template (lucky successes):", curves, "misleading")
    print_table("held-out tasks whose type's template is the plan of some positive case (discovered):", curves, "covered")
    if "similarity" in curves:
        print_paired(curves, "q", "similarity")
    for design in TEACHERLESS[1:] if args.teacherless else ():
        print_paired(curves, design, TEACHERLESS[0])
    q = curves["q"]
    ready = ", ".join(str(run.q_ready_after) for run in q.runs)
    active = " ".join(f"{v:.2f}" for v in q.values("q_active").mean(axis=0))
    print(f"Q policy took over from similarity after {ready} recorded episodes (per seed); share of the q design's training")
    print(f"retrievals ranked by Q, per pass: {active}")
    weights = {name: statistics.mean(run.q_weights.get(name, 0.0) for run in q.runs) for name in q.runs[0].q_weights}
    print(
        "Q's feature weights after the last pass (standardised features, mean over seeds): "
        + ", ".join(f"{n} {w:+.2f}" for n, w in weights.items())
    )
    print("wall time per design (all seeds): " + ", ".join(f"{d} {curves[d].seconds:.1f} s" for d in curves) + f"; total {total:.1f} s")
    plot(curves, args.out, f"{args.tasks} training + {args.held_out} held-out tasks, {len(TYPES)} types, k={args.k}, {args.seeds} seeds")
    print(f"curves: {args.out}")
    if args.json:
        write_json(args.json, curves, vars(args) | {"seeds": list(seeds)})
        print(f"curves as JSON: {args.json}")
    print("\nNo model ran: these figures show the case memory's learning machinery driving a synthetic executor.")
    print("They say nothing about how well any language model or the agent answers real questions.")
    return curves


def write_json(path: Path, curves: dict[str, Curves], arguments: dict[str, object]) -> None:
    """The curves, per design, per seed, per pass (held-out and training success and the rest), for reruns to compare."""
    data = {
        "notice": NOTICE,
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in arguments.items()},
        "designs": {
            design: [{"seed": seed, **{m: getattr(run, m) for m in ("held_out", "training", "guided", "misleading", "covered", "q_active")}}
                     for seed, run in zip(arguments["seeds"], found.runs)]  # type: ignore[call-overload]
            for design, found in curves.items()
        },
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
