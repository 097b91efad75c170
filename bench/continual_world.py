"""The synthetic world of bench/continual.py: six task types, their plan templates, and a simulated executor.

A task type is solved by one plan template; texts share words and entities across types, so the nearest
case is not always of the right type. Only the case bank's learning is measured with it: nothing here is a
model, and nothing here touches the case bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memento.memory.retrieval import Retrieval

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

    def plan(self, retrieval: Retrieval | None, rng: np.random.Generator) -> tuple[int, str | None]:
        """(template index, the id of the shown case it follows, or None): the best positive case's plan, else a guess."""
        if retrieval is not None and retrieval.positive:
            best = retrieval.positive[0].case
            return TEMPLATES.index(tuple(best.plan)), best.id
        avoid = {tuple(s.case.plan) for s in retrieval.negative} if retrieval is not None else set()
        allowed = [i for i, t in enumerate(TEMPLATES) if t not in avoid] or list(range(len(TEMPLATES)))
        return allowed[int(rng.integers(len(allowed)))], None

    def reward(self, task: Task, template: int, draw: float) -> float:
        return float(draw < (self.p_right if template == task.kind else self.p_wrong))


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
        """One episode's random stream (phase 0: training guess, 1: held-out guess, 2: exploration, 3: rating), whichever design asks."""
        return np.random.default_rng([self.seed, phase, iteration, index])
