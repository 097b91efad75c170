"""The case bank: remember episodes as cases, retrieve the ones that help, learn which do.

    bank = CaseBank.open(MemorySettings.from_env())
    found = bank.retrieve("What is the capital of Orotina Canton?", k=4, policy="q")
    run = bank.record_episode(task, plan, answer, reward=1.0, shown_case_ids=found.ids, followed_case_ids=[...])

Reading embeds the task once and asks Chroma for its nearest cases; the `q` policy re-ranks them with the
learned Q(s, c). Writing stores the case (one per task), one transition per shown case, credits the
followed ones (`credit.py`) and takes a few online steps of Q (`learning.py`); late rewards are
`corrections.py`'s. Nothing here reads the environment.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import numpy as np

from . import corrections
from .cases import SUCCESS, Case, Transition, case_id_for
from .credit import check_kind, followed_cases, kind_weight, plan_similarity
from .embeddings import TextEmbedder, make_embedder
from .errors import CaseMemoryError, CaseNotFound
from .learning import Example, QLearning
from .limits import CaseLimits
from .mirror import StatsMirror
from .policy import QPolicy, select
from .ranking import Ranking
from .retrieval import Recorded, Retrieval, ScoredCase, split_retrieved
from .settings import MemorySettings
from .snapshot import SCAN_ROWS
from .store import Store
from .versions import ChromaVersions

__all__ = ["CaseBank", "Recorded", "Retrieval", "ScoredCase"]

log = logging.getLogger("memento.memory")


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
        self.q = QPolicy(versions, settings.memory_min_transitions, Ranking.of(settings))
        self.learning = QLearning(self.store, self.q, settings, self._read_cases_with_vectors, self.rng, self.plan_vectors)
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
        with self.store.reading() as view:
            if view is not None:
                return view.live
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
        with self.store.reading() as view:
            if view is not None:
                slots = view.slots_of(ids)
                return [Case.from_store(*row) for row in view.rows_of([slots[i] for i in dict.fromkeys(ids) if i in slots])]
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
        temperature: float | None = None,
    ) -> Retrieval:
        """The k cases most likely to help with `task`: successes, failures and unverified cases apart.

        k: how many (default MEMENTO_MEMORY_K). policy: "similarity" (cosine) or "q" (the learned
        Q(s, c), which falls back to similarity until trained; default MEMENTO_MEMORY_POLICY).
        explore: draw k cases from softmax(score / temperature) (soft-Q, Boltzmann) instead of the top k,
        as during learning; temperature defaults to MEMENTO_MEMORY_TEMPERATURE. task_embedding: the
        task's vector when the caller already has it (saves one embedding). rng: the random generator
        exploration draws from, for reproducible runs. exclude: case ids never to return (an eval leaves
        out a task's own case); they are dropped from the candidates before the top k, so k cases still
        come when the bank holds k others.
        """
        k = k or self.settings.memory_k
        policy = policy or self.settings.memory_policy
        exclude = frozenset(exclude)
        if policy not in ("similarity", "q"):
            raise CaseMemoryError(f"Unknown policy {policy!r}: use 'similarity' or 'q'.")
        alpha = (temperature or self.settings.memory_temperature) if explore else None
        if alpha is not None and alpha <= 0:
            raise CaseMemoryError(f"temperature must be above 0, got {alpha}.")
        if not task.strip():
            return Retrieval(task, policy, temperature=alpha)
        vector = task_embedding if task_embedding is not None else self.embedder.embed([task])[0]
        use_q = policy == "q" and self.q.ready()
        if not use_q:  # k nearest, read whole: few rows, so the metadata costs little
            hits = self._nearest(vector, k, exclude, ["metadatas", "documents", "distances"])
            rows = [r for r in zip(hits["ids"], hits["documents"], hits["metadatas"], hits["distances"]) if r[0] not in exclude]
            cases = [Case.from_store(i, d, m) for i, d, m, _ in rows]
            similarity = 1.0 - np.asarray([r[3] for r in rows], dtype=np.float32)
            chosen = select(similarity, k, explore=explore, temperature=alpha or 1.0, rng=rng)
            found = Retrieval(task, "similarity", temperature=alpha)
            return split_retrieved(found, [cases[i] for i in chosen], similarity[chosen], similarity[chosen], self.limits)
        # Q: many candidates by ANN, ranked on vectors and mirrored statistics; read only the chosen cases.
        hits = self._nearest(vector, max(self.settings.memory_candidates, k), exclude, ["distances", "embeddings"])
        kept = [index for index, case_id in enumerate(hits["ids"]) if case_id not in exclude]
        ids = [hits["ids"][index] for index in kept]
        if not ids:
            return Retrieval(task, "q", temperature=alpha)
        similarity = 1.0 - np.asarray(hits["distances"], dtype=np.float32)[kept]
        embeddings = np.asarray(hits["embeddings"], dtype=np.float32)[kept]
        read = None  # the snapshot gives the candidates whole: statistics and cases come with them
        if "plans" in hits:
            read = {i: Case.from_store(i, d, m) for i, d, m in zip(hits["ids"], hits["documents"], hits["metadatas"])}
            plan_matrix, stats = np.asarray(hits["plans"], dtype=np.float32)[kept], [read[i].stats() for i in ids]
        else:
            plans = self.plan_vectors(ids)
            plan_matrix = np.stack([plans.get(i, np.zeros(embeddings.shape[1], np.float32)) for i in ids])
            stats = self.mirror.stats(ids)
        scores, version = self.q.score(vector, embeddings, stats, plan_matrix)
        chosen = select(scores, k, explore=explore, temperature=alpha or 1.0, rng=rng)
        by_id = read if read is not None else {c.id: c for c in self._read_cases([ids[i] for i in chosen])}
        keep = [i for i in chosen if ids[i] in by_id]  # a case deleted in between is skipped
        found = Retrieval(task, "q", temperature=alpha, q_version=version)
        return split_retrieved(found, [by_id[ids[i]] for i in keep], scores[keep], similarity[keep], self.limits)

    def _nearest(self, vector: np.ndarray, n: int, exclude: frozenset[str], include: list[str]) -> dict[str, Any]:
        """One query's fields for the n nearest cases (excluded ones may be among them): the snapshot's, else Chroma's."""
        with self.store.reading() as view:  # past SCAN_ROWS, Chroma's index beats the scan once Chroma is open
            if view is not None and (view.rows <= SCAN_ROWS or not self.store.is_open):
                return view.query(vector, n, exclude)
        hits = self.store.cases.query(query_embeddings=[vector.tolist()], n_results=n + len(exclude), include=include)
        return {key: value[0] for key, value in hits.items() if key in include or key == "ids"}

    def plan_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored plan embeddings of these cases (a case without a plan, or from an older bank, has none)."""
        if not ids:
            return {}
        got = self.store.plans.get(ids=list(dict.fromkeys(ids)), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"])}

    def _put_plans(self, cases: Sequence[Case], vectors: Sequence[np.ndarray | None] | None = None) -> None:
        """Store the plan embeddings of these cases (computed unless given); cases without a plan are skipped."""
        if vectors is None:
            with_plan = [c for c in cases if c.plan]
            vectors = list(self.embedder.embed([c.plan_text() for c in with_plan])) if with_plan else []
            cases = with_plan
        rows = [(c, v) for c, v in zip(cases, vectors) if v is not None and c.plan]
        if rows:
            self.store.plans.upsert(ids=[c.id for c, _ in rows], embeddings=[np.asarray(v).tolist() for _, v in rows])

    # ---- writing -------------------------------------------------------------------------

    def record_episode(
        self,
        task: str,
        plan: Sequence[str],
        answer: str,
        reward: float | None,
        shown_case_ids: Sequence[str] = (),
        summary: str = "",
        tools: Sequence[str] = (),
        source: str = "",
        run_id: str | None = None,
        outcome: str = "",
        followed_case_ids: Sequence[str] | None = None,
        reward_kind: str = "verified",
    ) -> Recorded:
        """Store the episode's case (one per task), a transition per shown case, credit the followed ones, update Q.

        reward: 0..1, or None for an unrated run (stored with outcome "unverified", teaching Q nothing until
        `feedback` rates it). reward_kind: "verified" (truth, grader, user), "self-assessed" (the judge
        against the run's own sources; weighs MEMENTO_MEMORY_SELF_ASSESSED_WEIGHT) or "unrated".
        followed_case_ids: the shown cases the plan follows, as the planner said; None (it did not say):
        those whose plan embedding is within MEMENTO_MEMORY_FOLLOW_THRESHOLD of this plan's; []: none.
        Only followed cases take the reward into their outcome (their plan's mean reward) and into Q.
        """
        if not task.strip():
            raise CaseMemoryError("The task is empty; a case needs the task text.")
        kind = check_kind(reward, reward_kind)
        rated, value, weight = kind != "unrated", float(reward or 0.0), kind_weight(kind, self.settings)
        too_big = self.limits.problem(task, plan, answer, summary, tools)
        if too_big is not None:
            raise CaseMemoryError(f"The case's {too_big[0]} {too_big[1]}. Nothing was saved.")
        run_id = run_id or "run-" + uuid.uuid4().hex[:16]
        plan_text = "\n".join(f"{i}. {step}" for i, step in enumerate(plan, start=1))
        embedded = self.embedder.embed([task, plan_text] if plan else [task])
        vector, plan_vector = embedded[0], (embedded[1] if plan else None)
        now = time.time()
        with self.store.writing():
            case_id = case_id_for(task)
            shown = [c for c in dict.fromkeys(shown_case_ids) if c != case_id]
            read = {c.id: c for c in self._read_cases([*shown, case_id])}  # one read for the case and those shown
            self._check_known(shown, held=read)  # before anything is written: a refused call leaves no trace
            existing = [read[case_id]] if case_id in read else []
            plans = self.plan_vectors([*shown, case_id])
            followed = followed_cases(shown, followed_case_ids, plan_vector, plans, self.settings.memory_follow_threshold)
            near, replaced, follows_own = None, False, False
            if existing:
                case = existing[0]
                case.attempts += 1
                held = case.credit
                if rated:
                    case.mean_reward += (value - case.mean_reward) / case.attempts
                    # A plan whose record (its own run and the runs that followed it) a new run beats gives way.
                    replaced = held is None or value > held or (value == held and bool(plan) and not case.plan)
                    if not replaced:
                        said_own = followed_case_ids is not None and case_id in followed_case_ids
                        similar = plan_similarity(plan_vector, plans.get(case_id)) >= self.settings.memory_follow_threshold
                        follows_own = said_own or (followed_case_ids is None and similar)
                if replaced:
                    case.plan, case.answer, case.summary, case.tools = list(plan), answer, summary, list(tools)
                    case.reward, case.plan_run_id, case.reward_kind = value, run_id, kind
                    case.credit_sum, case.credit_weight, case.follows = weight * value, weight, 0
                elif follows_own:
                    case.add_credit(value, weight)
                    case.follows += 1
                case.outcome = outcome or case.derived_outcome()
                case.updated = now
            else:
                near = self._near_duplicate(vector, case_id)
                case = Case(
                    task, list(plan), answer, value, outcome, summary, list(tools), source, created=now, updated=now,
                    reward_kind=kind, credit_sum=weight * value if rated else 0.0, credit_weight=weight if rated else 0.0,
                )  # fmt: skip
                case.plan_run_id = run_id
            case.run_id = run_id
            if rated:
                case.note_run(run_id, value)
            case.near_duplicate_of = case.near_duplicate_of or (near or "")
            # The shown cases count the use, the followed ones take the reward into their record; written with the
            # episode's own case in one call when it exists (its vector is stored already), else after adding it.
            touched = [read[c] for c in shown] if rated else []
            for other in touched:
                other.uses += 1
                other.successes = max(0, min(other.successes + int(value >= SUCCESS), other.uses))
                if other.id in followed:
                    other.add_credit(value, weight)
                    other.follows += 1
                other.updated = now  # other processes' mirrors pick changes up by this stamp
            if not existing:
                self.store.cases.upsert(ids=[case.id], embeddings=[vector.tolist()], documents=[case.task], metadatas=[case.to_metadata()])
            written = ([case] if existing else []) + touched
            if written:
                # Metadata only: Chroma would embed documents given without embeddings with its own model.
                self.store.cases.update(ids=[c.id for c in written], metadatas=[c.to_metadata() for c in written])
            if replaced or not existing:
                self._put_plans([case], [plan_vector])
            self.mirror.note([case, *touched])
            unfollowed = weight * self.settings.memory_unfollowed_weight
            transitions = [
                Transition(run_id, task, c, value, now, c in followed, weight if c in followed else unfollowed, kind) for c in shown
            ]
            if follows_own:  # the task's own stored plan, followed again: its record takes this run too
                transitions.append(Transition(run_id, task, case_id, value, now, True, weight, kind))
            if transitions:
                self.store.transitions.upsert(
                    ids=[t.id for t in transitions],
                    embeddings=[vector.tolist()] * len(transitions),
                    documents=[task] * len(transitions),
                    metadatas=[t.to_metadata() for t in transitions],
                )
            episode = (vector, plan_vector, value, weight) if rated and plan_vector is not None else None
            q_updated = self.learning.online_update(vector, transitions, episode)
        return Recorded(
            run_id,
            case.id,
            not existing,
            replaced or not existing,
            near,
            len(transitions),
            q_updated,
            followed + [case_id] * follows_own,
            kind,
        )

    def _credit(self, case_ids: Sequence[str], reward: float, weight: float, delta: int = 1) -> None:
        """Followed cases take the episode's reward into their plan's record (delta -1 takes an old one back out)."""
        cases = self._read_cases(case_ids)
        for case in cases:
            case.add_credit(reward, weight * delta)
            case.follows = max(0, case.follows + delta)
            case.updated = time.time()
        if cases:
            self.store.cases.update(ids=[c.id for c in cases], metadatas=[c.to_metadata() for c in cases])
            self.mirror.note(cases)

    def _check_known(self, case_ids: Sequence[str], held: Collection[str] | None = None) -> None:
        """Refuse shown case ids the bank does not hold (`held`, when the caller has just read them), naming them."""
        if not case_ids:
            return
        held = set(self.store.cases.get(ids=list(case_ids), include=[])["ids"]) if held is None else held
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
        """Set a verified reward that arrived later, for a run or for a case, and let everything it taught follow.

        It overrides a self-assessed reward or an unrated run (verified from then on). A run id (`run-…`): the
        run's transitions take the reward (shown cases' success counts and followed cases' records follow);
        its task's case corrects its mean reward, and takes the reward as its own only when its stored plan
        is that run's. A case id (`case-…`): the case takes the reward, and so does the run whose plan it
        holds, with that run's transitions.
        """
        return corrections.feedback(self, case_or_run_id, reward)

    # ---- learning and upkeep -------------------------------------------------------------

    def training_rows(self) -> list[Example]:
        """Every stored transition as (task vector, case vector, case statistics, reward), for training Q."""
        return self.learning.training_rows()

    def train(self) -> dict[str, Any]:
        """Retrain Q from every stored transition."""
        return self.learning.train()

    def stats(self) -> dict[str, Any]:
        positive = negative = unverified = uses = 0
        sources: dict[str, int] = {}
        for case in self.iter_cases():
            positive += case.outcome == "positive"
            unverified += case.outcome == "unverified"
            negative += case.outcome not in ("positive", "unverified")
            uses += case.uses
            sources[case.source or "-"] = sources.get(case.source or "-", 0) + 1
        return {
            "store": self.store.where,
            "embedder": self.embedder.name,
            "cases": positive + negative + unverified,
            "positive": positive,
            "negative": negative,
            "unverified": unverified,
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
                self._put_plans(part)
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
                    metadatas=[t.to_metadata() for t in part],
                )

    def iter_transitions(self, batch: int = 2000) -> Iterator[Transition]:
        offset = 0
        while True:
            got = self.store.transitions.get(limit=batch, offset=offset, include=["metadatas", "documents"])
            if not got["ids"]:
                return
            for task, meta in zip(got["documents"], got["metadatas"]):
                yield Transition.from_metadata(task, meta)
            offset += len(got["ids"])

    def delete(self, case_ids: Sequence[str]) -> None:
        with self.store.writing():
            if case_ids:
                self.store.cases.delete(ids=list(case_ids))
                self.store.plans.delete(ids=list(case_ids))
                self.mirror.forget(case_ids)
