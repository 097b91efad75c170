"""The case bank: remember episodes as cases, retrieve the ones that help, learn which do.

    bank = CaseBank.open(MemorySettings.from_env())
    found = bank.retrieve("What is the capital of Orotina Canton?", k=4, policy="q")
    run = bank.record_episode(task, plan, answer, reward=1.0, shown_case_ids=found.ids)

Reading embeds the task once and asks Chroma for its nearest cases; the `q`
policy re-ranks those candidates with the learned Q(s, c). Writing stores the
case (or updates it: one case per task), one transition per case that was
shown, and takes a few online steps of Q (`learning.py` turns transitions into
what Q trains on). Nothing here reads the environment.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cases import SUCCESS, Case, Transition, case_id_for, outcome_for
from .embeddings import TextEmbedder, make_embedder
from .errors import CaseMemoryError, CaseNotFound
from .learning import Example, QLearning
from .limits import CaseLimits, case_chars
from .mirror import StatsMirror
from .policy import QPolicy, select
from .settings import MemorySettings
from .store import Store
from .versions import ChromaVersions

__all__ = ["CaseBank", "Recorded", "Retrieval", "ScoredCase"]

log = logging.getLogger("memento.memory")


@dataclass
class ScoredCase:
    """A retrieved case with the score its policy ranked it by."""

    case: Case
    score: float  # what the policy ranked by: cosine similarity, or Q(s, c)
    similarity: float


@dataclass
class Retrieval:
    """What `CaseBank.retrieve` found for a task: successes to imitate, failures to avoid."""

    task: str
    policy: str  # the policy actually used ("q" falls back to "similarity" while Q is untrained)
    positive: list[ScoredCase] = field(default_factory=list)
    negative: list[ScoredCase] = field(default_factory=list)
    omitted: int = 0  # lower-ranked cases left out because MEMENTO_MEMORY_MAX_RETRIEVED_CHARS was reached

    @property
    def cases(self) -> list[ScoredCase]:
        """Every retrieved case, best score first."""
        return sorted(self.positive + self.negative, key=lambda s: s.score, reverse=True)

    @property
    def ids(self) -> list[str]:
        """The ids of `cases`, in the same order (what an episode records as shown)."""
        return [s.case.id for s in self.cases]


@dataclass
class Recorded:
    """What `CaseBank.record_episode` stored."""

    run_id: str
    case_id: str
    created: bool  # False when the task already had a case, which was updated
    plan_replaced: bool
    near_duplicate_of: str | None
    transitions: int
    q_updated: bool


class CaseBank:
    """The case memory: one case per task in Chroma, the transitions Q learns from, and the Q policy.

    Read with `retrieve`, write with `record_episode`, correct a reward with `feedback`;
    `train` refits Q on every transition. Open it with `CaseBank.open(settings)` and close it
    (or use it as a context manager) to release Chroma's connections.
    """

    def __init__(self, settings: MemorySettings, embedder: TextEmbedder | None = None, rng: np.random.Generator | None = None) -> None:
        self.settings = settings
        self.rng = rng or np.random.default_rng()  # draws Q's replay samples: pass a seeded one for reproducible learning
        self.embedder = embedder or make_embedder(
            settings.embedding_model, settings.embedding_base_url, settings.embedding_api_key, settings.embedding_dimension
        )
        self.store = Store(
            None if settings.chroma_url else settings.casebank_dir,
            settings.chroma_url,
            self.embedder.name,
            self.embedder.dimension,
        )
        # The policy lives beside the cases: on a Chroma server every client shares it; embedded, a folder.
        versions = (
            ChromaVersions(self.store.policy, self.store.where, settings.memory_policy_refresh_s)
            if self.store.policy is not None
            else settings.casebank_dir / "policy"
        )
        self.q = QPolicy(versions, settings.memory_min_transitions)
        self.learning = QLearning(self.store, self.q, settings, self._read_cases_with_vectors, self.rng)
        self.mirror = StatsMirror(self.store.cases)
        self.limits = CaseLimits.of(settings)

    @classmethod
    def open(
        cls, settings: MemorySettings | None = None, embedder: TextEmbedder | None = None, rng: np.random.Generator | None = None
    ) -> CaseBank:
        """Open (or create) the bank the settings name: embedded under MEMENTO_HOME, or a Chroma server.

        `rng` draws the replay samples of Q's online updates; a seeded one makes learning reproducible."""
        return cls(settings or MemorySettings(), embedder, rng)

    def close(self) -> None:
        """Release the store's connections and handles."""
        self.store.close()

    def __enter__(self) -> CaseBank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading -------------------------------------------------------------------------

    def count(self) -> int:
        """How many cases the bank holds."""
        return self.store.cases.count()

    def get(self, case_id: str) -> Case:
        """The case with this id; `CaseNotFound` if there is none."""
        found = self._read_cases([case_id])
        if not found:
            raise CaseNotFound(f"No case with id {case_id!r} in the case bank at {self.store.where}.")
        return found[0]

    def _read_cases(self, ids: Sequence[str]) -> list[Case]:
        """The stored cases among `ids` (missing ones are left out)."""
        if not ids:
            return []
        got = self.store.cases.get(ids=list(ids), include=["metadatas", "documents"])
        return [Case.from_store(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]

    def _read_cases_with_vectors(self, ids: Sequence[str]) -> tuple[list[Case], np.ndarray]:
        """The stored cases among `ids` and their task embeddings, one row per case."""
        if not ids:
            return [], np.zeros((0, self.embedder.dimension), np.float32)
        got = self.store.cases.get(ids=list(ids), include=["metadatas", "documents", "embeddings"])
        cases = [Case.from_store(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        if not cases:  # none of them is stored (any more): an empty matrix of the right width
            return [], np.zeros((0, self.embedder.dimension), np.float32)
        return cases, np.asarray(got["embeddings"], dtype=np.float32).reshape(len(cases), -1)

    def iter_cases(self, batch: int = 500, with_embeddings: bool = False) -> Iterator[Any]:
        """Every case, in batches from the store (with its embedding when asked)."""
        offset = 0
        include = ["metadatas", "documents"] + (["embeddings"] if with_embeddings else [])
        while True:
            got = self.store.cases.get(limit=batch, offset=offset, include=include)
            if not got["ids"]:
                return
            for index, (i, d, m) in enumerate(zip(got["ids"], got["documents"], got["metadatas"])):
                case = Case.from_store(i, d, m)
                yield (case, np.asarray(got["embeddings"][index], dtype=np.float32)) if with_embeddings else case
            offset += len(got["ids"])

    def retrieve(
        self,
        task: str,
        k: int | None = None,
        policy: str | None = None,
        explore: bool = False,
        task_embedding: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        exclude: Collection[str] = (),
    ) -> Retrieval:
        """The k cases most likely to help with `task`, split into successes and failures.

        k: how many (default MEMENTO_MEMORY_K). policy: "similarity" (cosine) or "q" (the learned
        Q(s, c), which falls back to similarity until trained; default MEMENTO_MEMORY_POLICY).
        explore: draw k cases from softmax(score / MEMENTO_MEMORY_TEMPERATURE) instead of the top k,
        as during learning. task_embedding: the task's vector when the caller already has it (saves
        one embedding). rng: the random generator exploration draws from, for reproducible runs.
        exclude: case ids never to return (an eval leaves out a task's own case); they are dropped from the
        candidates before the top k, so k cases still come when the bank holds k others.
        """
        k = k or self.settings.memory_k
        policy = policy or self.settings.memory_policy
        exclude = frozenset(exclude)
        if policy not in ("similarity", "q"):
            raise CaseMemoryError(f"Unknown policy {policy!r}: use 'similarity' or 'q'.")
        if not task.strip():
            return Retrieval(task, policy)
        vector = task_embedding if task_embedding is not None else self.embedder.embed([task])[0]
        use_q = policy == "q" and self.q.ready()
        if not use_q:  # k nearest, read whole: few rows, so the metadata costs little
            hits = self.store.cases.query(
                query_embeddings=[vector.tolist()], n_results=k + len(exclude), include=["metadatas", "documents", "distances"]
            )
            rows = [r for r in zip(hits["ids"][0], hits["documents"][0], hits["metadatas"][0], hits["distances"][0]) if r[0] not in exclude]
            cases = [Case.from_store(i, d, m) for i, d, m, _ in rows]
            similarity = 1.0 - np.asarray([r[3] for r in rows], dtype=np.float32)
            chosen = select(similarity, k, explore=explore, temperature=self.settings.memory_temperature, rng=rng)
            return self._split(task, "similarity", [cases[i] for i in chosen], similarity[chosen], similarity[chosen], self.limits)
        # Q: many candidates by ANN, ranked on vectors and mirrored statistics; read only the chosen cases.
        hits = self.store.cases.query(
            query_embeddings=[vector.tolist()],
            n_results=max(self.settings.memory_candidates, k) + len(exclude),
            include=["distances", "embeddings"],
        )
        kept = [index for index, case_id in enumerate(hits["ids"][0]) if case_id not in exclude]
        ids = [hits["ids"][0][index] for index in kept]
        if not ids:
            return Retrieval(task, "q")
        similarity = 1.0 - np.asarray(hits["distances"][0], dtype=np.float32)[kept]
        embeddings = np.asarray(hits["embeddings"][0], dtype=np.float32)[kept]
        scores = self.q.score(vector, embeddings, self.mirror.stats(ids))
        chosen = select(scores, k, explore=explore, temperature=self.settings.memory_temperature, rng=rng)
        by_id = {c.id: c for c in self._read_cases([ids[i] for i in chosen])}
        keep = [i for i in chosen if ids[i] in by_id]  # a case deleted in between is skipped
        return self._split(task, "q", [by_id[ids[i]] for i in keep], scores[keep], similarity[keep], self.limits)

    @staticmethod
    def _split(task: str, policy: str, cases: list[Case], scores: np.ndarray, similarity: np.ndarray, limits: CaseLimits) -> Retrieval:
        """Successes and failures apart, in rank order, with the text they carry bounded by `limits`."""
        result = Retrieval(task, policy)
        total = 0
        for case, score, near in zip(cases, scores, similarity):
            case = limits.clipped(case)
            total += case_chars(case)
            if total > limits.retrieved_chars and (result.positive or result.negative):
                result.omitted += 1  # the best case always comes; after it, stop at the budget
                continue
            scored = ScoredCase(case, float(score), float(near))
            (result.positive if case.outcome == "positive" else result.negative).append(scored)
        return result

    # ---- writing -------------------------------------------------------------------------

    def record_episode(
        self,
        task: str,
        plan: Sequence[str],
        answer: str,
        reward: float,
        shown_case_ids: Sequence[str] = (),
        summary: str = "",
        tools: Sequence[str] = (),
        source: str = "",
        run_id: str | None = None,
        outcome: str = "",
    ) -> Recorded:
        """Store the episode's case (one per task), a transition per shown case, and update Q."""
        if not task.strip():
            raise CaseMemoryError("The task is empty; a case needs the task text.")
        if not 0.0 <= reward <= 1.0:
            raise CaseMemoryError(f"reward must be between 0 and 1, got {reward}.")
        too_big = self.limits.problem(task, plan, answer, summary, tools)
        if too_big is not None:
            raise CaseMemoryError(f"The case's {too_big[0]} {too_big[1]}. Nothing was saved.")
        run_id = run_id or "run-" + uuid.uuid4().hex[:16]
        vector = self.embedder.embed([task])[0]
        now = time.time()
        with self.store.writing():
            case_id = case_id_for(task)
            shown = [c for c in dict.fromkeys(shown_case_ids) if c != case_id]
            self._check_known(shown)  # before anything is written: a refused call leaves no trace
            existing = self._read_cases([case_id])
            near = None
            replaced = False
            if existing:
                case = existing[0]
                case.attempts += 1
                case.mean_reward += (reward - case.mean_reward) / case.attempts
                if reward > case.reward or (reward == case.reward and plan and not case.plan):
                    case.plan, case.answer, case.summary, case.tools = list(plan), answer, summary, list(tools)
                    case.reward, case.plan_run_id, replaced = reward, run_id, True
                case.outcome = outcome or outcome_for(case.reward)
                case.updated = now
            else:
                near = self._near_duplicate(vector, case_id)
                case = Case(task, list(plan), answer, reward, outcome, summary, list(tools), source, created=now, updated=now)
                case.plan_run_id = run_id
            case.run_id = run_id
            case.note_run(run_id, reward)
            case.near_duplicate_of = case.near_duplicate_of or (near or "")
            self.store.cases.upsert(ids=[case.id], embeddings=[vector.tolist()], documents=[case.task], metadatas=[case.to_metadata()])
            self.mirror.note([case])
            transitions = [Transition(run_id, task, c, reward, now) for c in shown]
            self._count_uses(shown, reward)
            if transitions:
                self.store.transitions.upsert(
                    ids=[t.id for t in transitions],
                    embeddings=[vector.tolist()] * len(transitions),
                    documents=[task] * len(transitions),
                    metadatas=[{"run_id": run_id, "case_id": t.case_id, "reward": reward, "created": now} for t in transitions],
                )
            q_updated = self.learning.online_update(vector, transitions)
        return Recorded(run_id, case.id, not existing, replaced or not existing, near, len(transitions), q_updated)

    def _check_known(self, case_ids: Sequence[str]) -> None:
        """Refuse shown case ids the bank does not hold, naming them."""
        if not case_ids:
            return
        held = set(self.store.cases.get(ids=list(case_ids), include=[])["ids"])
        unknown = [c for c in case_ids if c not in held]
        if unknown:
            named = ", ".join(repr(c) for c in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            raise CaseNotFound(
                f"shown_case_ids names {len(unknown)} case(s) the bank does not hold: {named}. Nothing was saved; "
                "pass only ids that retrieve_cases returned (a case may have been pruned since)."
            )

    def _near_duplicate(self, vector: np.ndarray, own_id: str) -> str | None:
        hit = self.store.cases.query(query_embeddings=[vector.tolist()], n_results=1, include=["distances"])
        if hit["ids"][0] and hit["ids"][0][0] != own_id:
            if 1.0 - hit["distances"][0][0] >= self.settings.memory_duplicate_threshold:
                return hit["ids"][0][0]
        return None

    def _count_uses(self, case_ids: Sequence[str], reward: float, delta_uses: int = 1, delta_success: int | None = None) -> None:
        cases = self._read_cases(case_ids)
        for case in cases:
            case.uses += delta_uses
            case.successes += delta_success if delta_success is not None else int(reward >= SUCCESS)
            case.successes = max(0, min(case.successes, case.uses))
            case.updated = time.time()  # other processes' mirrors pick changes up by this stamp
        if cases:
            self.store.cases.update(ids=[c.id for c in cases], metadatas=[c.to_metadata() for c in cases])
            self.mirror.note(cases)

    def feedback(self, case_or_run_id: str, reward: float) -> dict[str, Any]:
        """Set a reward that arrived later, for a run or for a case, and let everything it taught follow.

        A run id (`run-…`): the run's transitions take the reward (and the shown cases' success counts
        follow); its task's case corrects its mean reward, and takes the reward as its own only when
        its stored plan is that run's. A case id (`case-…`): the case takes the reward, and so does
        the run whose plan it holds, with that run's transitions.
        """
        if not 0.0 <= reward <= 1.0:
            raise CaseMemoryError(f"reward must be between 0 and 1, got {reward}.")
        with self.store.writing():
            if case_or_run_id.startswith("case-"):
                case = self.get(case_or_run_id)
                run = case.plan_run_id or (case.run_id if case.attempts == 1 else "")
                transitions = self._rescore_transitions(run, reward) if run else 0
                self._correct_case(case, run, reward, holds_plan=True)
                return {"cases": [case.id], "transitions": transitions}
            run = case_or_run_id
            owners = self.store.cases.get(where={"$or": [{"run_id": run}, {"plan_run_id": run}]}, include=["metadatas", "documents"])
            transitions = self._rescore_transitions(run, reward)
            if not transitions and not owners["ids"]:
                raise CaseNotFound(f"No run or case with id {run!r}.")
            for case in (Case.from_store(i, d, m) for i, d, m in zip(owners["ids"], owners["documents"], owners["metadatas"])):
                # Cases stored before plan_run_id existed: with one attempt, that run's plan is the stored one.
                holds_plan = case.plan_run_id == run if case.plan_run_id else case.attempts == 1
                self._correct_case(case, run, reward, holds_plan)
            return {"cases": list(owners["ids"]), "transitions": transitions}

    def _rescore_transitions(self, run_id: str, reward: float) -> int:
        """Give a run's transitions a new reward; the shown cases' success counts follow the outcome."""
        got = self.store.transitions.get(where={"run_id": run_id}, include=["metadatas"])
        for meta in got["metadatas"]:
            before, after = meta["reward"] >= SUCCESS, reward >= SUCCESS
            if before != after:
                self._count_uses([meta["case_id"]], reward, delta_uses=0, delta_success=1 if after else -1)
        if got["ids"]:
            self.store.transitions.update(ids=got["ids"], metadatas=[m | {"reward": reward} for m in got["metadatas"]])
        return len(got["ids"])

    def _correct_case(self, case: Case, run_id: str, reward: float, holds_plan: bool) -> None:
        old = case.run_rewards.get(run_id) if run_id else None
        if old is not None:
            case.mean_reward = min(1.0, max(0.0, case.mean_reward + (reward - old) / max(case.attempts, 1)))
            case.run_rewards[run_id] = reward
        elif case.attempts == 1:
            case.mean_reward = reward
        if holds_plan:
            case.reward, case.outcome = reward, outcome_for(reward)
        case.updated = time.time()
        self.store.cases.update(ids=[case.id], metadatas=[case.to_metadata()])
        self.mirror.note([case])

    # ---- learning and upkeep -------------------------------------------------------------

    def training_rows(self) -> list[Example]:
        """Every stored transition as (task vector, case vector, case statistics, reward), for training Q."""
        return self.learning.training_rows()

    def train(self) -> dict[str, Any]:
        """Retrain Q from every stored transition."""
        return self.learning.train()

    def stats(self) -> dict[str, Any]:
        positive = negative = uses = 0
        sources: dict[str, int] = {}
        for case in self.iter_cases():
            positive += case.outcome == "positive"
            negative += case.outcome != "positive"
            uses += case.uses
            sources[case.source or "-"] = sources.get(case.source or "-", 0) + 1
        return {
            "store": self.store.where,
            "embedder": self.embedder.name,
            "cases": positive + negative,
            "positive": positive,
            "negative": negative,
            "transitions": self.store.transitions.count(),
            "times_shown": uses,
            "sources": sources,
            "q_policy": self.q.describe(),
        }

    def put_cases(self, cases: Sequence[Case], batch: int = 256, embeddings: np.ndarray | None = None) -> None:
        """Store cases exactly as given (import, restore), statistics kept; vectors computed unless given."""
        if embeddings is not None and len(embeddings) != len(cases):
            raise CaseMemoryError(f"{len(cases)} cases but {len(embeddings)} embeddings.")
        with self.store.writing():
            for start in range(0, len(cases), batch):
                part = cases[start : start + batch]
                if embeddings is not None:
                    vectors = np.asarray(embeddings[start : start + batch], dtype=np.float32)
                else:
                    vectors = self.embedder.embed([c.task for c in part])
                self.store.cases.upsert(
                    ids=[c.id for c in part],
                    embeddings=vectors.tolist(),
                    documents=[c.task for c in part],
                    metadatas=[c.to_metadata() for c in part],
                )
                self.mirror.note(part)

    def put_transitions(self, transitions: Sequence[Transition], batch: int = 512) -> None:
        with self.store.writing():
            for start in range(0, len(transitions), batch):
                part = transitions[start : start + batch]
                vectors = self.embedder.embed([t.task for t in part])
                self.store.transitions.upsert(
                    ids=[t.id for t in part],
                    embeddings=vectors.tolist(),
                    documents=[t.task for t in part],
                    metadatas=[{"run_id": t.run_id, "case_id": t.case_id, "reward": t.reward, "created": t.created} for t in part],
                )

    def iter_transitions(self, batch: int = 2000) -> Iterator[Transition]:
        offset = 0
        while True:
            got = self.store.transitions.get(limit=batch, offset=offset, include=["metadatas", "documents"])
            if not got["ids"]:
                return
            for task, meta in zip(got["documents"], got["metadatas"]):
                yield Transition(meta["run_id"], task, meta["case_id"], float(meta["reward"]), float(meta["created"]))
            offset += len(got["ids"])

    def delete(self, case_ids: Sequence[str]) -> None:
        with self.store.writing():
            if case_ids:
                self.store.cases.delete(ids=list(case_ids))
                self.mirror.forget(case_ids)
