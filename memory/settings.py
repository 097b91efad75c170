"""Settings of the case memory, read from `MEMENTO_*` variables by the entry points.

The memory package stands alone (servers and the agent depend on it, not the
other way round); like every area it builds on `memento.core.settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from memento.core.settings import SECRET, MementoSettings

__all__ = ["MemorySettings"]


class MemorySettings(MementoSettings):
    """Where the case bank lives, how it embeds, and how it reads and learns."""

    chroma_url: str = Field(
        default="",
        description="URL of a Chroma server (`chroma run`) shared by many agents; empty: an embedded store under MEMENTO_HOME/casebank.",
    )
    embedding_model: str = Field(
        default="",
        description="Embedding model: empty for the packaged all-MiniLM-L6-v2, a sentence-transformers folder, or openai:NAME.",
    )
    embedding_base_url: str = Field(default="", description="Base URL of an OpenAI-compatible embeddings endpoint (with openai:NAME).")
    embedding_api_key: str = Field(default="", description="API key of that endpoint (never logged).", repr=False, json_schema_extra=SECRET)
    embedding_dimension: int = Field(default=0, ge=0, description="Vector size of an endpoint model (openai:NAME needs it).")
    memory_k: int = Field(default=4, ge=1, le=64, description="Cases retrieved per task (the paper's best K is 4).")
    memory_candidates: int = Field(default=64, ge=1, le=1000, description="Nearest cases re-ranked by the Q policy.")
    memory_policy: Literal["similarity", "q"] = Field(default="similarity", description="Default retrieval policy: similarity or q.")
    memory_temperature: float = Field(
        default=0.1,
        gt=0,
        description="Softmax temperature α when the Q policy explores (scores are cosine-sized: at 0.5 the draw is close to uniform over the candidates).",
    )
    memory_duplicate_threshold: float = Field(
        default=0.95, gt=0, le=1, description="Cosine similarity above which two different tasks count as near-duplicates."
    )
    memory_max_cases: int = Field(default=5000, ge=1, description="Size `memento memory prune` keeps the bank to.")
    memory_online_steps: int = Field(
        default=5,
        ge=0,
        le=100,
        description="Online gradient steps of Q after each recorded episode, on its transitions plus a replay sample (0: off).",
    )

    memory_follow_threshold: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="When the planner does not say which cases its plan follows: cosine of the plan texts' embeddings at or above which it follows a shown case.",
    )
    memory_self_assessed_weight: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Weight of a self-assessed reward (the judge against the run's own sources) in Q and in case outcomes; verified rewards weigh 1.",
    )
    memory_unfollowed_weight: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Weight in Q of a case that was shown but not followed, relative to a followed one (0: it teaches nothing).",
    )
    memory_refit_every: int = Field(
        default=100,
        ge=0,
        description="Refit Q on every transition (as `memento memory train`) after this many new ones have arrived online (0: never).",
    )
    memory_bonus_weight: float = Field(
        default=0.3,
        ge=0,
        description="Q ranks by similarity plus this many cosine points per unit of (evidence-shrunk mean reward of the case's plan on tasks near this one - base rate).",
    )
    memory_bonus_prior: float = Field(
        default=0.1, gt=0, description="Pseudo-evidence at the base rate behind that mean (in kernel weight): thin evidence earns little."
    )
    memory_task_width: float = Field(
        default=0.1, gt=0, description="Width of the task kernel exp((cos - 1) / width) that decides which past tasks are near this one."
    )
    memory_warning_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A failed case is shown as a plan to avoid: the share of the correction it earns, the other way round.",
    )
    memory_plan_fit_weight: float = Field(
        default=1.0,
        ge=0,
        description="Cosine points per unit of plan fit: how well the case's plan matches the plan a ridge map from task to successful plan predicts here (0: off).",
    )
    memory_plan_fit_ridge: float = Field(
        default=1.0,
        gt=0,
        description="L2 penalty of that task-to-plan map: with few successes behind it, its predictions shrink to nothing.",
    )
    memory_plan_value_weight: float = Field(
        default=1.0,
        ge=0,
        description="Cosine points per unit of the case plan's predicted reward on this task minus the base rate (a linear model per plan, learned from its successes and failures; 0: off).",
    )
    memory_plan_value_prior: float = Field(
        default=0.1,
        gt=0,
        description="Prior variance of the constant of each plan's model (how far a plan's own success rate may move it).",
    )
    memory_plan_value_noise: float = Field(
        default=1.0, gt=0, description="Noise variance of each plan's model per unit of episode weight: more, and thin evidence earns less."
    )
    memory_min_transitions: int = Field(
        default=32,
        ge=1,
        description="Transitions Q must have learned from before `policy=q` uses it, and that `memento memory train` needs.",
    )
    memory_policy_refresh_s: float = Field(
        default=2.0,
        ge=0,
        description="With MEMENTO_CHROMA_URL: how often, in seconds, retrieval looks for a newer shared Q-policy version.",
    )
    memory_max_task_chars: int = Field(default=10_000, ge=100, description="Longest task text a case may hold, in characters.")
    memory_max_answer_chars: int = Field(default=20_000, ge=100, description="Longest final answer a case may hold, in characters.")
    memory_max_summary_chars: int = Field(
        default=4_000, ge=100, description="Longest trajectory summary (save_case's notes) a case may hold, in characters."
    )
    memory_max_plan_steps: int = Field(default=100, ge=1, description="Most plan steps a case may hold.")
    memory_max_plan_chars: int = Field(default=20_000, ge=100, description="Most characters of a case's plan, all steps together.")
    memory_max_tools: int = Field(default=100, ge=1, description="Most tool names a case may list (each at most 200 characters).")
    memory_max_retrieved_chars: int = Field(
        default=100_000,
        ge=1_000,
        description="Most characters of cases one retrieval returns; lower-ranked cases past it are left out, and say so.",
    )

    @property
    def casebank_dir(self) -> Path:
        return self.home.expanduser() / "casebank"
