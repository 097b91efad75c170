"""Find a text or a regular expression in a page's text and show each hit with its context.

Plain patterns match case-insensitively and ignore differences in white
space. Regular expressions run under a time limit (the `regex` module's
timeout), so a pathological pattern cannot hang the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from memento.servers.common.errors import InvalidInput, TimedOut

__all__ = ["PageMatch", "find_all"]

_MAX_PATTERN = 1000
_REGEX_TIMEOUT_S = 2.0
_MAX_PASSAGE = 2000  # matches close together share a passage, up to this span


@dataclass(frozen=True)
class PageMatch:
    """One passage of the page holding one or more matches, which `text` marks in bold."""

    start: int  # offset of the first match
    matches: int
    text: str


def _passage(text: str, spans: list[tuple[int, int]], context_chars: int) -> PageMatch:
    left = max(0, spans[0][0] - context_chars)
    right = min(len(text), spans[-1][1] + context_chars)
    pieces, cursor = [], left
    for start, end in spans:
        pieces += [text[cursor:start], f"**{text[start:end]}**"]
        cursor = end
    pieces.append(text[cursor:right])
    body = " ".join("".join(pieces).split())
    return PageMatch(spans[0][0], len(spans), ("…" if left else "") + body + ("…" if right < len(text) else ""))


def _compile(pattern: str, is_regex: bool):
    import regex

    if not pattern.strip():
        raise InvalidInput("pattern is empty: pass the words or the regular expression to look for.")
    if len(pattern) > _MAX_PATTERN:
        raise InvalidInput(f"pattern is {len(pattern)} characters; the limit is {_MAX_PATTERN}.")
    if not is_regex:
        words = [regex.escape(w) for w in pattern.split()]
        return regex.compile(r"\s+".join(words), regex.IGNORECASE)
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.MULTILINE)
    except regex.error as exc:
        raise InvalidInput(f"Malformed regular expression {pattern!r}: {exc}. Pass regex=false to search the plain text.") from exc


def find_all(
    text: str, pattern: str, *, is_regex: bool = False, context_chars: int = 200, limit: int = 500
) -> tuple[list[PageMatch], int, bool]:
    """(passages, matches, more): matches in page order, those whose contexts overlap joined in one passage.

    At most `limit` matches are gathered; `more` is True when there were further ones.
    """
    compiled = _compile(pattern, is_regex)
    spans: list[tuple[int, int]] = []
    more = False
    try:
        for found in compiled.finditer(text, timeout=_REGEX_TIMEOUT_S):
            if found.end() == found.start():
                continue  # an empty match shows nothing
            if len(spans) == limit:
                more = True
                break
            spans.append(found.span())
    except TimeoutError as exc:
        raise TimedOut(
            f"The regular expression {pattern!r} took over {_REGEX_TIMEOUT_S:g} s on this page; simplify it "
            "(avoid nested repetition such as (a+)+)."
        ) from exc
    groups: list[list[tuple[int, int]]] = []
    for span in spans:
        if groups and span[0] - groups[-1][-1][1] <= 2 * context_chars and span[1] - groups[-1][0][0] <= _MAX_PASSAGE:
            groups[-1].append(span)
        else:
            groups.append([span])
    return [_passage(text, group, context_chars) for group in groups], len(spans), more
