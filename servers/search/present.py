"""Readable text of the search tools' results: numbered hits, then what the model should know.

The structured content carries the same facts; this is what a model reads
first, so it names the engine that answered, why others did not, and how to get
more (next page, or read a local file with the documents server).
"""

from __future__ import annotations

from collections.abc import Sequence

from .index.store import LocalHit
from .model import Attempt, Hit, LocalResult, LocalSearchResult, ManyHit, QueryReport, SearchManyResult, WebSearchResult
from .service import ManyOutcome, Outcome

__all__ = ["local_result", "local_text", "many_result", "many_text", "web_result", "web_text"]


def web_text(outcome: Outcome) -> str:
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


def many_text(outcome: ManyOutcome) -> str:
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


def local_text(query: str, hits: Sequence[LocalHit]) -> str:
    if not hits:
        return f"No document in the local index matches {query!r}. Try other or fewer words."
    lines = [f'Local documents matching "{query}":', ""]
    for rank, hit in enumerate(hits, start=1):
        where = f" ({hit.location})" if hit.location != "text" else ""
        lines.append(f"{rank}. {hit.title}{where}\n   {hit.source}\n   {hit.snippet}")
        if hit.also:
            lines.append(f"   also matches: {', '.join(hit.also)}")
        lines.append("")
    lines.append('Read one with the documents server: read_document(source=PATH), adding pages="N" for a page or slide.')
    return "\n".join(lines)


def _hit(rank: int, hit: Hit, extra: str = "") -> str:
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


def web_result(outcome: Outcome) -> WebSearchResult:
    return WebSearchResult(query=outcome.query.text, page=outcome.query.page, results=outcome.hits, attempts=outcome.attempts)


def many_result(outcome: ManyOutcome) -> SearchManyResult:
    results = [ManyHit(**hit.model_dump(), found_by=[outcome.queries[i] for i in found_by]) for hit, found_by in outcome.hits]
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


def local_result(query: str, hits: Sequence[LocalHit]) -> LocalSearchResult:
    return LocalSearchResult(query=query, results=[LocalResult(**vars(h)) for h in hits])
