"""Settings of the research agent: models, vendor credentials, budgets, tool limits.

Read once by the entry point (`memento run`, `memento chat`, the research
server) and passed down. The vendors' own variables (`ANTHROPIC_API_KEY`,
`ANTHROPIC_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_BASE_URL`) work as users
expect; a `MEMENTO_*` variable of the same meaning wins over them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field

from memento.core.settings import SECRET, MementoSettings

__all__ = ["VENDOR_VARIABLES", "AgentSettings", "Budgets"]

DEFAULT_MODEL = "anthropic:claude-sonnet-4-5"

# Small local models (llama.cpp through the local: provider) ramble: their replies are capped per role by default.
LOCAL_PREFIX = "local:"
LOCAL_MAX_TOKENS = {"planner": 768, "executor": 512}

# Field ← the vendor SDK's own variable, used when the MEMENTO_ one is unset.
VENDOR_VARIABLES = {
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "anthropic_base_url": "ANTHROPIC_BASE_URL",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
}


class Budgets(MementoSettings):
    """Limits of one run; the first one hit ends it with the best answer so far."""

    budget_cycles: int = Field(default=3, ge=1, le=50, description="Planner cycles (plan, execute, replan) per run.")
    budget_steps: int = Field(default=12, ge=1, le=200, description="Executor model calls per subtask.")
    budget_tool_calls: int = Field(default=60, ge=1, le=10_000, description="Tool calls per run, all subtasks together.")
    budget_tokens: int = Field(default=2_000_000, ge=1000, description="Model tokens per run, input and output together.")
    budget_seconds: float = Field(default=1800.0, gt=0, description="Wall time of one run, in seconds.")
    budget_cost_usd: float = Field(default=5.0, ge=0, description="Model cost of one run in US dollars (0: no cap).")


class AgentSettings(Budgets):
    """Everything `memento run` reads from the environment, besides the case memory's settings."""

    # Handed on to the tool servers the agent launches (agent/hosts.py): their MEMENTO_* settings, PATH to
    # find their commands, and the basics a Python server needs.
    passed_on = ("MEMENTO_*", "PATH", "PYTHONPATH", "HF_HUB_OFFLINE")

    planner_model: str = Field(
        default=DEFAULT_MODEL, description="Planner model as provider:model, e.g. anthropic:claude-sonnet-4-5 or openai:gpt-4.1."
    )
    executor_model: str = Field(default=DEFAULT_MODEL, description="Executor model (runs the tools) as provider:model, e.g. openai:o3.")
    judge_model: str = Field(
        default="",
        description=(
            "Model of the LLM judge that scores answers against a known truth, as provider:model (empty: the planner model, "
            "which then grades its own answers: memento eval warns)."
        ),
    )
    demo_model: str = Field(
        default="local:qwen2.5-1.5b",
        description="Model of `memento demo` (make run) when no hosted model is configured: local:qwen2.5-1.5b, or local:qwen2.5-0.5b (faster, weaker).",
    )
    anthropic_api_key: str = Field(
        default="", repr=False, json_schema_extra=SECRET, description="Anthropic API key (default: ANTHROPIC_API_KEY)."
    )
    anthropic_base_url: str = Field(
        default="", description="Anthropic API base URL, e.g. a proxy (default: ANTHROPIC_BASE_URL, else https://api.anthropic.com)."
    )
    openai_api_key: str = Field(
        default="", repr=False, json_schema_extra=SECRET, description="Key of the OpenAI-compatible endpoint (default: OPENAI_API_KEY)."
    )
    openai_base_url: str = Field(
        default="", description="Base URL of an OpenAI-compatible endpoint: vLLM, Ollama, llama.cpp, LiteLLM (default: OPENAI_BASE_URL)."
    )
    local_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description=(
            "CPU threads of a local: model (0: the machine's cores, at most 8). On a busy 2-core machine 1 thread can be "
            "faster than 2: measure with bench/local_model.py."
        ),
    )
    local_context_tokens: int = Field(
        default=8192, ge=512, le=131_072, description="Context window a local: model is loaded with, in tokens (more costs memory)."
    )
    local_temperature: float = Field(
        default=0.0,
        ge=0.0,
        le=2.0,
        description="Sampling temperature of a local: model (0: greedy, so the same request gets the same reply: runs and tests repeat).",
    )
    local_models_dir: Path | None = Field(
        default=None, description="Folder of the assembled local: model files (default: MEMENTO_HOME/models)."
    )
    executor_record_chars: int = Field(
        default=4000,
        ge=0,
        le=100_000,
        description="Characters of the episode so far (earlier subtasks and what each found) shown to the executor with each subtask (0: none).",
    )
    model_max_tokens: int = Field(default=8192, ge=256, description="Longest reply of one model call, in tokens.")
    planner_max_tokens: int = Field(
        default=0,
        ge=0,
        description="Longest planner reply, in tokens (0: model_max_tokens, or 768 for local: models, which otherwise write too much).",
    )
    executor_max_tokens: int = Field(
        default=0, ge=0, description="Longest executor reply, in tokens (0: model_max_tokens, or 512 for local: models)."
    )
    executor_tools: list[str] = Field(
        default_factory=list,
        description="Tools offered to the executor and listed to the planner, as server__tool names (empty: every tool of the started servers).",
    )
    executor_tools_in_order: bool = Field(
        default=False,
        description=(
            "With structured turns: step i of a subtask must call the i-th tool of executor_tools, alone on offer, and "
            "the step after the last tool replies (the offline demo: search, then read the page found, then answer)."
        ),
    )
    structured_turns: Literal["auto", "on", "off"] = Field(
        default="auto",
        description=(
            "Turns shaped for small models: where tools exist the planner's first turn may only plan, the first step of a "
            "subtask must call a tool and its last may only reply (auto: on for local: models only)."
        ),
    )
    model_retries: int = Field(
        default=4, ge=0, le=20, description="Retries of a model call answered 429, 529 or 5xx (honouring retry-after)."
    )
    model_timeout_s: float = Field(default=300.0, gt=0, description="Time limit of one model call, in seconds.")
    thinking_budget: int = Field(
        default=0, ge=0, description="Extended-thinking tokens per Anthropic call (0: off; at least 1024 to turn on)."
    )
    context_tokens: int = Field(
        default=0, ge=0, description="Context window assumed for compaction (0: the model's known window, else 128000)."
    )
    price_input_per_mtok: float = Field(
        default=3.0, ge=0, description="Price of a million input tokens for models missing from the price table, in USD."
    )
    price_output_per_mtok: float = Field(
        default=15.0, ge=0, description="Price of a million output tokens for models missing from the price table, in USD."
    )
    tool_timeout_s: float = Field(default=180.0, gt=0, description="Time limit of one tool call through MCP, in seconds.")
    tool_result_max_chars: int = Field(
        default=20_000, ge=1000, description="Longest tool result passed to a model; longer ones are cut with a note."
    )
    server_start_timeout_s: float = Field(default=60.0, gt=0, description="Time allowed for each MCP server to start and list its tools.")
    mcp_config: Path | None = Field(
        default=None, description="MCP host config naming the tool servers (default: ./mcp.json, else the project's)."
    )
    learn: bool = Field(default=True, description="Write each finished run to the case memory (false: read only).")
    self_assess: bool = Field(
        default=False,
        description="A run without a known truth has the judge check its answer against the sources it read; the case is "
        "stored with that self-assessed reward instead of as unrated (memento run --self-assess).",
    )
    episode_exclude: list[str] = Field(
        default_factory=lambda: ["research", "casebank"],
        description=(
            "Servers of the MCP config an episode does not start (by their config name): research is the agent itself, "
            "and casebank would let the executor read and write memory, which reaches an episode only through the "
            "planner's retrieved cases. An eval leaves both out whatever this says."
        ),
    )
    run_reads_workdir: bool = Field(
        default=True,
        description=(
            "memento run and chat may read files of the working folder with the documents tools, besides their --file "
            "attachments (false: the attachments only). Never in an eval: each task reads only its own attachments."
        ),
    )
    otel_endpoint: str = Field(
        default="",
        description="OTLP/HTTP collector to export each finished run to as a trace, e.g. http://127.0.0.1:4318 (empty: nothing is sent).",
    )
    otel_headers: str = Field(
        default="",
        repr=False,
        json_schema_extra=SECRET,
        description="Headers for the collector, as name=value pairs separated by commas (e.g. Authorization=Basic …); never logged.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """As `MementoSettings.from_env`, with the vendor SDKs' variables as fallbacks."""
        environ = os.environ if environ is None else environ
        fallbacks = {
            field: environ[variable].strip()
            for field, variable in VENDOR_VARIABLES.items()
            if field not in overrides and environ.get(variable, "").strip() and not environ.get(f"MEMENTO_{field.upper()}", "").strip()
        }
        return super().from_env(environ, **fallbacks, **overrides)

    @property
    def grader_model(self) -> str:
        """The model the judge runs on: `judge_model`, else the planner's own (self-grading)."""
        return self.judge_model or self.planner_model

    @property
    def model_specs(self) -> list[str]:
        """Each distinct model a run makes, once: planner, executor, judge."""
        return list(dict.fromkeys([self.planner_model, self.executor_model, self.grader_model]))

    def role_max_tokens(self, role: Literal["planner", "executor"]) -> int:
        """The reply cap of a role: its own setting, else a short one for a local model, else `model_max_tokens`."""
        own = self.planner_max_tokens if role == "planner" else self.executor_max_tokens
        spec = self.planner_model if role == "planner" else self.executor_model
        if not own and spec.startswith(LOCAL_PREFIX):
            own = LOCAL_MAX_TOKENS[role]
        return min(own, self.model_max_tokens) if own else self.model_max_tokens

    def structured(self, role: Literal["planner", "executor"]) -> bool:
        """Whether `structured_turns` shapes this role's turns (auto: when its model is a local one)."""
        if self.structured_turns != "auto":
            return self.structured_turns == "on"
        return (self.planner_model if role == "planner" else self.executor_model).startswith(LOCAL_PREFIX)

    @property
    def budgets(self) -> Budgets:
        """Only the budget fields, as one value to hand to an episode."""
        return Budgets(home=self.home, **{name: getattr(self, name) for name in Budgets.model_fields if name != "home"})
