"""What `deep_research` returns: the answer first, then the report with its numbered sources, then how it was reached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from memento.servers.common.tooling import tool_result

if TYPE_CHECKING:  # the agent is imported by the first call, not by the server's start
    from memento.agent.episode import EpisodeResult

__all__ = ["Researched", "researched"]


class Researched(BaseModel):
    """The structured result of one research episode (the keys of `memento run --json`)."""

    run_id: str
    answer: str
    status: str = Field(description="answered, budget_exhausted, failed or interrupted")
    reward: float | None = Field(description="null until the answer is scored (memento feedback RUN_ID good|bad)")
    cases_shown: list[dict[str, Any]]
    case_id: str | None
    usage: dict[str, Any]
    plan: list[str]
    report: str = Field(default="", description="A brief report citing the sources as [n]; every citation names a source below.")
    sources: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The cited sources, each {n, url_or_path, title?}: URLs and files this run's tools read or returned.",
    )
    reward_kind: str | None = Field(
        default=None, description="verified, self-assessed, or unrated (remembered as 'outcome not verified' until rated)"
    )
    temperature: float | None = Field(default=None, description="the case memory's sampling temperature; null: greedy")
    q_version: int | str | None = Field(default=None, description="the learned policy's version the memory read used")


def researched(result: EpisodeResult) -> CallToolResult:
    """The reply: the answer, the plan followed and the run id to give feedback on."""
    lines = [result.answer or f"(no answer: the run ended {result.status})", ""]
    if result.report:
        lines += [result.report, ""]
    if result.sources:
        lines.append("Sources:")
        lines += [_source_line(source) for source in result.sources]
        lines.append("")
    if result.plan:
        lines.append("Plan followed:")
        lines += [f"{n}. {step}" for n, step in enumerate(result.plan, start=1)]
    lines.append(
        f"Run {result.run_id}: {result.status}; {result.usage.total_tokens:,} tokens, ${result.usage.cost_usd:.4f}; "
        f"{len(result.cases_shown)} past case(s) shown. Tell the user they can rate it with `memento feedback {result.run_id} good|bad`."
    )
    if result.error:
        lines.append(f"Error: {result.error}")
    return tool_result("\n".join(lines), Researched(**result.to_json()), is_error=result.status == "failed")


def _source_line(source: dict[str, Any]) -> str:
    title = f"{source['title']} — " if source.get("title") else ""
    return f"[{source['n']}] {title}{source['url_or_path']}"
