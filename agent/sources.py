"""The sources of one run: the URLs and files its tools read or returned, numbered, and the check of a report's citations.

A source enters the list only from a tool result of the run (a fetched page, a
search hit, a document or file read), never from what a model writes; a report
may cite only those numbers. Nothing here calls a tool or a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hub import ToolOutcome

__all__ = ["CheckedReport", "Source", "Sources"]

RESULTS_PER_SEARCH = 5  # search hits listed per search call: the top ones are what a reader may open
_CITATION = re.compile(r"\[(\d+(?:\s*[,–-]\s*\d+)*)\]")
_URL = re.compile(r"https?://[^\s)\]>\"'`]+")
_READ_ARGUMENTS = ("url", "source", "path")  # what reading tools are given, when they return no structured content


@dataclass(frozen=True)
class Source:
    """One numbered source: a URL or a file path, with its title when a tool gave one."""

    n: int
    url_or_path: str
    title: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "url_or_path": self.url_or_path, **({"title": self.title} if self.title else {})}

    def line(self) -> str:
        return f"[{self.n}] {self.title} — {self.url_or_path}" if self.title else f"[{self.n}] {self.url_or_path}"


@dataclass
class CheckedReport:
    """A report whose citations all name sources of the run; `dropped` says what was removed and why."""

    text: str
    cited: list[Source]
    dropped: list[str] = field(default_factory=list)


@dataclass
class Sources:
    """The run's sources in the order tools first gave them; the same URL or file keeps its first number."""

    items: list[Source] = field(default_factory=list)

    def add(self, url_or_path: str, title: str = "") -> None:
        where = url_or_path.strip()
        if not where or len(where) > 2000:
            return
        for i, known in enumerate(self.items):
            if known.url_or_path == where:
                if title and not known.title:
                    self.items[i] = Source(known.n, where, title.strip()[:200])
                return
        self.items.append(Source(len(self.items) + 1, where, title.strip()[:200]))

    def add_outcome(self, tool: str, arguments: dict[str, Any], outcome: ToolOutcome) -> None:
        """Take what a tool result says it read or found; a failed call adds nothing."""
        if outcome.is_error:
            return
        data = outcome.structured or {}
        if isinstance(data.get("results"), list):  # a search: its top hits, by URL or file
            for hit in data["results"][:RESULTS_PER_SEARCH]:
                if isinstance(hit, dict):
                    self.add(str(hit.get("url") or hit.get("source") or ""), str(hit.get("title") or ""))
            return
        where = data.get("url") or data.get("source") or (data.get("path") if tool == "read_file" else None)
        if isinstance(where, str) and where:
            metadata = data.get("metadata")
            title = data.get("title") or (metadata.get("title") if isinstance(metadata, dict) else None)
            self.add(where, str(title or ""))
            return
        if outcome.structured is None and tool.startswith(("fetch", "read")):
            # A reading tool that gave only text: what it was asked to read is what it read.
            for name in _READ_ARGUMENTS:
                if isinstance(arguments.get(name), str):
                    self.add(arguments[name])
                    return

    def listing(self) -> str:
        """The numbered list the planner cites from."""
        if not self.items:
            return "Sources of this run so far: none (no tool has read or returned a URL or file yet)."
        return "Sources of this run so far (cite them as [n]):\n" + "\n".join(s.line() for s in self.items)

    def check(self, report: str) -> CheckedReport:
        """Keep the citations of `report` that number a source; remove the others and any URL no tool gave."""
        known = {s.n: s for s in self.items}
        by_place = {s.url_or_path: s for s in self.items}
        dropped: list[str] = []
        cited: dict[int, Source] = {}

        def citation(match: re.Match[str]) -> str:
            kept = []
            for n in _numbers(match.group(1)):
                if n in known:
                    kept.append(n)
                    cited[n] = known[n]
                else:
                    dropped.append(f"[{n}] is not a source of this run")
            return "[" + ", ".join(str(n) for n in kept) + "]" if kept else ""

        def url(match: re.Match[str]) -> str:
            found = match.group(0).rstrip(".,;:")
            tail = match.group(0)[len(found) :]
            if (source := by_place.get(found)) is not None:
                cited[source.n] = source
                return f"[{source.n}]{tail}"
            dropped.append(f"{found} was not read or returned by a tool of this run")
            return tail

        text = _CITATION.sub(citation, report)
        text = _URL.sub(url, text)
        text = re.sub(r"\(\s*[,;]?\s*\)", "", text)  # brackets left empty by a removed citation
        text = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
        return CheckedReport(text, [cited[n] for n in sorted(cited)], dropped)


def _numbers(spec: str) -> list[int]:
    """`1, 3-4` → [1, 3, 4] (a range of more than 20 numbers is read as its two ends)."""
    numbers: list[int] = []
    for part in spec.split(","):
        bounds = [int(b) for b in re.split(r"[–-]", part) if b.strip()]
        if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= 20:
            numbers += range(bounds[0], bounds[1] + 1)
        else:
            numbers += bounds
    return numbers
