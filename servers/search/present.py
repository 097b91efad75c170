"""The search tools' replies: numbered results a model reads first, and the same facts as structured content.

The text names the engine that answered, why others did not, and how to get
more (next page, or read a local file with the documents server). Nothing here searches.
"""

from __future__ import annotations

from collections.abc import Sequence

from mcp_types import CallToolResult

from memento.servers.common.tooling import tool_result

from .backends import BACKENDS
from .index.store import IndexMatch
from .model import (
    Attempt,
    BackendsReport,
    LocalResult,
    LocalSearchResult,
    MergedResult,
    QueryReport,
    SearchManyResult,
    SearchResult,
    WebSearchResult,
)
from .service import LocalOutcome, ManyOutcome, Outcome

__all__ = ["backends", "local", "many", "web"]


def web(outcome: Outcome) -> CallToolResult:
    """A web_search reply."""
    return tool_result(_web_text(outcome), _web_result(outcome))


def many(outcome: ManyOutcome) -> CallToolResult:
    """A search_many reply."""
    return tool_result(_many_text(outcome), _many_result(outcome))


def local(outcome: LocalOutcome) -> CallToolResult:
    """A search_local reply."""
    return tool_result(_local_text(outcome.query, outcome.matches), _local_result(outcome.query, outcome.matches))


def backends(report: BackendsReport) -> CallToolResult:
    """A list_search_backends reply: one line per backend, then the local index."""
    lines = [f"Active backends ({report.mode} mode): {', '.join(report.active)}", ""]
    for b in report.backends:
        state = "active" if b.active else "configured" if b.configured else BACKENDS[b.name].off_reason()
        rate = f"{b.rate_per_s:g} requests/s, bursts of {b.burst}" if b.rate_per_s > 0 else "no rate limit"
        lines.append(f"- {b.name}: {b.label}, {state}, {rate}")
    lines.append(f"Local index: {report.local_index} ({report.local_index_sections:,} sections)")
    return tool_result("\n".join(lines), report)


def _web_text(outcome: Outcome) -> str:
    query = outcome.query
    first = (query.page - 1) * query.max_results + 1
    filters = ", ".join(
        f"{name} {value}" for name, value in (("site", query.site), ("past", query.time_range), ("language", query.language)) if value
    )
    answered = [a.backend for a in outcome.attempts if a.status == "ok"]
    head = f'Web results for "{query.text}"' + (f" ({filters})" if filters else "") + f", page {query.page}"
    head += f", from {', '.join(answered)}:" if answered else ":"
    lines = [head, ""]
    lines += [_hit(first + i, hit) for i, hit in enumerate(outcome.hits)]
    if not outcome.hits:
        lines.append("No results. Try fewer or other words" + (", or drop site/time_range/language." if filters else "."))
    lines += _notes(outcome.attempts)
    if len(outcome.hits) >= query.max_results:
        lines.append(f"More: call web_search again with page={query.page + 1}.")
    return "\n".join(lines).rstrip()


def _many_text(outcome: ManyOutcome) -> str:
    lines = [f"{len(outcome.hits)} distinct results for {len(outcome.queries)} queries (merged, duplicates removed):"]
    lines += [f"  q{i + 1}: {text}" for i, text in enumerate(outcome.queries)]
    lines.append("")
    for rank, (hit, found_by) in enumerate(outcome.hits, start=1):
        lines.append(_hit(rank, hit, extra="found by " + ", ".join(f"q{i + 1}" for i in found_by)))
    if not outcome.hits:
        lines.append("No results for any query. Try other words.")
    for i, (result, error) in enumerate(zip(outcome.outcomes, outcome.errors, strict=True)):
        if error:
            lines.append(f"Note: q{i + 1} failed: {error}")
        elif result is not None:
            lines += [line.replace("Note: ", f"Note (q{i + 1}): ", 1) for line in _notes(result.attempts)]
    return "\n".join(lines).rstrip()


def _local_text(query: str, matches: Sequence[IndexMatch]) -> str:
    if not matches:
        return f"No document in the local index matches {query!r}. Try other or fewer words."
    lines = [f'Local documents matching "{query}":', ""]
    for rank, match in enumerate(matches, start=1):
        where = f" ({match.location})" if match.location != "text" else ""
        lines.append(f"{rank}. {match.title}{where}\n   {match.source}\n   {match.snippet}")
        if match.also:
            lines.append(f"   also matches: {', '.join(match.also)}")
        lines.append("")
    lines.append('Read one with the documents server: read_document(source=PATH), adding pages="N" for a page or slide.')
    return "\n".join(lines)


def _hit(rank: int, hit: SearchResult, extra: str = "") -> str:
    facts = [f for f in (f"published {hit.published}" if hit.published else "", "via " + ", ".join(hit.engines), extra) if f]
    text = f"{rank}. {hit.title}\n   {hit.url}"
    if hit.snippet:
        text += f"\n   {hit.snippet}"
    return text + f"\n   ({'; '.join(facts)})\n"


def _notes(attempts: Sequence[Attempt]) -> list[str]:
    notes = []
    for attempt in attempts:
        if attempt.status == "failed":
            notes.append(f"Note: {attempt.backend} failed: {attempt.reason}")
        elif attempt.status == "empty" and len(attempts) > 1:
            notes.append(f"Note: {attempt.backend} had no results.")
    return notes


def _web_result(outcome: Outcome) -> WebSearchResult:
    return WebSearchResult(query=outcome.query.text, page=outcome.query.page, results=outcome.hits, attempts=outcome.attempts)


def _many_result(outcome: ManyOutcome) -> SearchManyResult:
    results = [MergedResult(**hit.model_dump(), found_by=[outcome.queries[i] for i in found_by]) for hit, found_by in outcome.hits]
    reports = [
        QueryReport(
            query=text,
            results=len(result.hits) if result else 0,
            attempts=result.attempts if result else [],
            error=error,
        )
        for text, result, error in zip(outcome.queries, outcome.outcomes, outcome.errors, strict=True)
    ]
    return SearchManyResult(queries=outcome.queries, results=results, per_query=reports)


def _local_result(query: str, matches: Sequence[IndexMatch]) -> LocalSearchResult:
    return LocalSearchResult(query=query, results=[LocalResult(**vars(m)) for m in matches])
