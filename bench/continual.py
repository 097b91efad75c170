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

Usage: python bench/continual.py [--tasks 60] [--held-out 60] [--iterations 5] [--seeds 3] [--k 4] [--out PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import print_header

from memento.memory import CaseBank, MemorySettings
from memento.memory.casebank import Retrieval
from memento.memory.embeddings import TextEmbedder, make_embedder

DESIGNS = ("none", "similarity", "q")
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "continual.png"
NOTICE = "simulation of the learning loop with a synthetic executor; not a model benchmark"

# ---- the task family ------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskType:
    name: str
    template: tuple[str, ...]  # the plan that solves every task of this type
    phrasings: tuple[str, ...]  # str.format patterns over the ENTITIES slots


TYPES = (
    TaskType(
        "unit conversion",
        (
            "Identify the quantity, its unit and the unit asked for",
            "Look up the exact conversion factor between the two units",
            "Multiply in Python and round sensibly",
            "Answer with the number and the unit",
        ),
        ("Convert {n} {unit} to {unit_to}.", "How many {unit_to} are there in {n} {unit}?", "What is {n} {unit} expressed in {unit_to}?"),
    ),
    TaskType(
        "date arithmetic",
        (
            "Parse both dates from the question",
            "Compute the difference with Python's datetime module",
            "Answer with the number of days",
        ),
        (
            "How many days are there between {date} and {date2}?",
            "How many days passed from {date} to {date2}?",
            "What is the number of days from {date} until {date2}?",
        ),
    ),
    TaskType(
        "population",
        (
            "Search the web for the city's census results",
            "Open the national statistics office page or an encyclopedia entry",
            "Read the population for the year asked",
            "Answer with the figure and cite the source",
        ),
        (
            "What was the population of {city} in {year}?",
            "How many people lived in {city} in {year}?",
            "How many inhabitants did {city} have according to the {year} census?",
        ),
    ),
    TaskType(
        "distance",
        (
            "Look up the coordinates of both cities",
            "Compute the great-circle distance with the haversine formula in Python",
            "Convert the distance to the unit asked for",
        ),
        (
            "How many {road_unit} is it from {city} to {city2}?",
            "What is the distance between {city} and {city2} in {road_unit}?",
            "How far is {city} from {city2} in {road_unit}?",
        ),
    ),
    TaskType(
        "molar mass",
        (
            "Find the chemical formula of the compound",
            "Look up the standard atomic weight of each element",
            "Sum the atomic weights times their counts in Python",
            "Answer in grams per mole",
        ),
        (
            "How many grams does one mole of {compound} weigh?",
            "What is the molar mass of {compound}?",
            "What is the mass in grams of a mole of {compound}?",
        ),
    ),
    TaskType(
        "founding year",
        (
            "Search for the city's history page",
            "Find the year the city was founded in two independent sources",
            "Answer with the year, noting any disagreement",
        ),
        ("In which year was {city} founded?", "How many years ago was {city} founded?", "When was the city of {city} established?"),
    ),
)
# A plausible plan no type is solved by: the agent may improvise it too.
GENERIC = ("Search the web for the question", "Answer from the first result's snippet")
TEMPLATES = [t.template for t in TYPES] + [GENERIC]

CITIES = (
    "Lyon", "Porto", "Krakow", "Utrecht", "Bergen", "Graz", "Seville", "Turin", "Ghent", "Aarhus",
    "Tampere", "Brno", "Leipzig", "Bilbao", "Cork", "Malmo", "Lille", "Basel", "Split", "Riga",
)  # fmt: skip
UNITS = (
    ("miles", "kilometres"), ("kilometres", "miles"), ("pounds", "kilograms"), ("ounces", "grams"),
    ("grams", "ounces"), ("feet", "metres"), ("gallons", "litres"), ("acres", "hectares"),
)  # fmt: skip
COMPOUNDS = (
    "water", "ethanol", "glucose", "sodium chloride", "calcium carbonate", "sulfuric acid",
    "acetone", "methane", "ammonia", "caffeine", "aspirin", "benzene",
)  # fmt: skip
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")


@dataclass(frozen=True)
class Task:
    text: str
    kind: int  # index into TYPES


def _entities(rng: np.random.Generator) -> dict[str, str]:
    city, city2 = rng.choice(len(CITIES), size=2, replace=False)
    unit, unit_to = UNITS[int(rng.integers(len(UNITS)))]
    years = sorted(int(y) for y in rng.integers(1950, 2024, size=2))

    def date(year: int) -> str:
        return f"{int(rng.integers(1, 29))} {MONTHS[int(rng.integers(12))]} {year}"

    return {
        "city": CITIES[city],
        "city2": CITIES[city2],
        "unit": unit,
        "unit_to": unit_to,
        "road_unit": ("kilometres", "miles", "nautical miles")[int(rng.integers(3))],
        "n": str(int(rng.integers(2, 500))),
        "year": str(int(rng.integers(19, 203)) * 10),
        "date": date(years[0]),
        "date2": date(years[1] + 1),
        "compound": COMPOUNDS[int(rng.integers(len(COMPOUNDS)))],
    }


def make_tasks(rng: np.random.Generator, count: int, taken: set[str]) -> list[Task]:
    """`count` new tasks, types balanced and shuffled, none of whose texts is in `taken` (which grows)."""
    kinds = rng.permutation(np.arange(count) % len(TYPES))
    tasks = []
    for kind in kinds:
        phrasings = TYPES[kind].phrasings
        for _ in range(1000):
            text = phrasings[int(rng.integers(len(phrasings)))].format(**_entities(rng))
            if text.lower() not in taken:
                break
        else:  # "founding year" has only 60 distinct texts (3 phrasings x 20 cities)
            raise SystemExit(f"Too many tasks: the family has run out of new {TYPES[kind].name} tasks; ask for fewer.")
        taken.add(text.lower())
        tasks.append(Task(text, int(kind)))
    return tasks


# ---- the simulated agent --------------------------------------------------------------------


@dataclass
class Executor:
    """Success depends only on the plan followed: the right template of the task's type, or not."""

    p_right: float = 0.8
    p_wrong: float = 0.1

    def plan(self, retrieval: Retrieval | None, rng: np.random.Generator) -> tuple[int, bool]:
        """(template index, whether it came from a shown case): the best positive case's plan, else a guess."""
        if retrieval is not None and retrieval.positive:
            return TEMPLATES.index(tuple(retrieval.positive[0].case.plan)), True
        avoid = {tuple(s.case.plan) for s in retrieval.negative} if retrieval is not None else set()
        allowed = [i for i, t in enumerate(TEMPLATES) if t not in avoid] or list(range(len(TEMPLATES)))
        return allowed[int(rng.integers(len(allowed)))], False

    def reward(self, task: Task, template: int, draw: float) -> float:
        return float(draw < (self.p_right if template == task.kind else self.p_wrong))


# ---- one design, one seed ---------------------------------------------------------------------


@dataclass
class Run:
    """One design on one seed: a value per pass over the training tasks."""

    held_out: list[float] = field(default_factory=list)  # success rate on the held-out tasks after the pass
    training: list[float] = field(default_factory=list)  # success rate of the pass's recorded episodes
    guided: list[float] = field(default_factory=list)  # held-out tasks that followed a shown case with the right template
    q_active: list[float] = field(default_factory=list)  # training retrievals the Q policy actually ranked
    misleading: list[float] = field(default_factory=list)  # positive cases in the bank whose plan is wrong for their type
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


@dataclass(frozen=True)
class World:
    """What one seed fixes for every design: tasks, training orders and the executor's luck."""

    seed: int
    training: list[Task]
    held_out: list[Task]
    orders: list[np.ndarray]  # per pass, the order of the training tasks
    train_draws: np.ndarray  # (passes, tasks): uniform draws deciding success
    held_draws: np.ndarray  # (passes, held-out tasks)

    @classmethod
    def make(cls, seed: int, tasks: int, held_out: int, iterations: int) -> World:
        rng = np.random.default_rng(seed)
        taken: set[str] = set()
        training, held = make_tasks(rng, tasks, taken), make_tasks(rng, held_out, taken)
        orders = [rng.permutation(tasks) for _ in range(iterations)]
        return cls(seed, training, held, orders, rng.random((iterations, tasks)), rng.random((iterations, held_out)))

    def guess_rng(self, phase: int, iteration: int, index: int) -> np.random.Generator:
        """One episode's random stream (phase 0: training guess, 1: held-out guess, 2: exploration), whichever design asks."""
        return np.random.default_rng([self.seed, phase, iteration, index])


def run_design(
    design: str,
    world: World,
    settings: MemorySettings,
    embedder: TextEmbedder,
    vectors: dict[str, np.ndarray],
    executor: Executor,
    explore: bool,
) -> Run:
    """Passes over the training tasks, each episode recorded as the agent does, then the held-out tasks, unrecorded."""
    run = Run()
    policy = "similarity" if design == "none" else design
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
                    found = bank.retrieve(task.text, k, policy, explore, vectors[task.text], explorer)
                    ranked_by_q += found.policy == "q"
                template, _ = executor.plan(found, world.guess_rng(0, iteration, index))
                reward = executor.reward(task, template, world.train_draws[iteration, index])
                bank.record_episode(
                    task.text, list(TEMPLATES[template]), f"simulated answer ({TYPES[task.kind].name})", reward,
                    shown_case_ids=found.ids if found else [], summary="continual-learning simulation",
                    source="continual-sim", run_id=f"sim-{world.seed}-{iteration}-{index}",
                )  # fmt: skip
                rewards.append(reward)
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
                right.append(float(followed and template == task.kind))
            run.held_out.append(float(np.mean(scores)))
            run.guided.append(float(np.mean(right)))
            # A lucky success with a wrong plan makes a positive case whose plan later episodes copy.
            wrong = [TEMPLATES.index(tuple(c.plan)) != kinds[c.task] for c in bank.iter_cases() if c.outcome == "positive"]
            run.misleading.append(float(np.mean(wrong)) if wrong else 0.0)
        model = bank.q._load()  # the version the last online update saved
        run.q_weights = model.weights if model is not None else {}
    return run


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
) -> dict[str, Curves]:
    """Run every design on every seed, each in a fresh bank under `workdir` (a temporary folder if None)."""
    base = settings or MemorySettings()
    embedder = embedder or make_embedder(base.embedding_model, base.embedding_base_url, base.embedding_api_key, base.embedding_dimension)
    executor = executor or Executor()
    worlds = [World.make(seed, tasks, held_out, iterations) for seed in seeds]
    texts = [t.text for w in worlds for t in w.training + w.held_out]
    vectors = dict(zip(texts, embedder.embed(texts)))  # once; the embedder's memo serves record_episode too
    curves = {design: Curves() for design in DESIGNS}
    with tempfile.TemporaryDirectory(prefix="memento-continual-", dir=workdir) as tmp:
        for world in worlds:
            for design in DESIGNS:
                settings_here = base.model_copy(update={"home": Path(tmp) / f"{design}-seed{world.seed}", "memory_k": k})
                started = time.perf_counter()
                run = run_design(design, world, settings_here, embedder, vectors, executor, explore)
                curves[design].runs.append(run)
                curves[design].seconds += time.perf_counter() - started
                if progress:
                    print(f"  seed {world.seed} {design:<10} held-out " + " ".join(f"{v:.2f}" for v in run.held_out), flush=True)
    return curves


# ---- report -----------------------------------------------------------------------------------


def cell(values: np.ndarray) -> str:
    """Mean ± sample standard deviation of one column (over seeds)."""
    spread = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return f"{float(values.mean()):.3f} ± {spread:.3f}"


def print_table(title: str, curves: dict[str, Curves], metric: str) -> None:
    print(title)
    print(f"{'pass':>5}  " + "  ".join(f"{d:>15}" for d in DESIGNS))
    tables = {d: curves[d].values(metric) for d in DESIGNS}
    for i in range(tables[DESIGNS[0]].shape[1]):
        print(f"{i + 1:>5}  " + "  ".join(f"{cell(tables[d][:, i]):>15}" for d in DESIGNS))
    print()


def plot(curves: dict[str, Curves], out: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, metric, label in (
        (axes[0], "held_out", "held-out tasks (never recorded)"),
        (axes[1], "training", "training tasks (recorded each pass)"),
    ):
        for design in DESIGNS:
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
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1: task sets, orders and executor luck")
    parser.add_argument("--k", type=int, default=4, help="cases retrieved per task")
    parser.add_argument("--p-right", type=float, default=0.8, help="success probability with the right template")
    parser.add_argument("--p-wrong", type=float, default=0.1, help="success probability with a wrong template")
    parser.add_argument(
        "--explore",
        action="store_true",
        help="q's training retrievals draw k of its candidates from softmax(score / α) (similarity fetches only k, so it is unchanged)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the PNG of the curves goes")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the temporary banks (default: the system's)")
    args = parser.parse_args(argv)

    print_header(f"continual learning through the case bank: a {NOTICE}")
    settings = MemorySettings.from_env(chroma_url="", memory_k=args.k)  # MEMENTO_MEMORY_* apply; each bank gets its own home
    executor = Executor(args.p_right, args.p_wrong)
    guess = (executor.p_right + executor.p_wrong * (len(TEMPLATES) - 1)) / len(TEMPLATES)
    print(
        f"{len(TYPES)} task types, {len(TEMPLATES)} plan templates; {args.tasks} training + {args.held_out} held-out tasks per seed; "
        f"{args.iterations} passes; seeds 0..{args.seeds - 1}; k={args.k}\n"
        f"executor: right template succeeds with p={executor.p_right}, wrong with p={executor.p_wrong} "
        f"(a blind guess: {guess:.3f}); training retrieval {'explores' if args.explore else 'is greedy, as the agent'}\n"
        f"memory: real CaseBank and Q policy, fresh embedded bank per design and seed; online steps {settings.memory_online_steps}, "
        f"Q candidates {settings.memory_candidates}, Q ranks once it has learned from {settings.memory_min_transitions} transitions\n"
    )
    started = time.perf_counter()
    curves = simulate(
        args.tasks, args.held_out, args.iterations, range(args.seeds), args.k, args.workdir, settings,
        executor=executor, explore=args.explore, progress=True,
    )  # fmt: skip
    total = time.perf_counter() - started
    print()
    print_table("held-out tasks, success rate after each pass (mean ± sd over seeds):", curves, "held_out")
    print_table("held-out tasks that followed a shown case with the right template:", curves, "guided")
    print_table("training tasks, success rate during each pass (recorded episodes):", curves, "training")
    print_table("positive cases in the bank whose plan is the wrong template (lucky successes):", curves, "misleading")
    paired = curves["q"].values("held_out") - curves["similarity"].values("held_out")
    print(
        "q − similarity on held-out tasks, paired by seed (same tasks and luck), per pass: "
        + ", ".join(cell(paired[:, i]) for i in range(paired.shape[1]))
    )
    per_seed = paired.mean(axis=1)
    print(
        f"  mean over all passes and seeds: {paired.mean():+.3f}; over the passes, q is higher on {int((per_seed > 0).sum())}, "
        f"equal on {int((per_seed == 0).sum())} and lower on {int((per_seed < 0).sum())} of {len(per_seed)} seeds\n"
    )
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
    print("wall time per design (all seeds): " + ", ".join(f"{d} {curves[d].seconds:.1f} s" for d in DESIGNS) + f"; total {total:.1f} s")
    plot(curves, args.out, f"{args.tasks} training + {args.held_out} held-out tasks, {len(TYPES)} types, k={args.k}, {args.seeds} seeds")
    print(f"curves: {args.out}")
    print("\nNo model ran: these figures show the case memory's learning machinery driving a synthetic executor.")
    print("They say nothing about how well any language model or the agent answers real questions.")
    return curves


if __name__ == "__main__":
    main()
