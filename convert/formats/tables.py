"""Markdown tables with a bounded number of rows and a note counting the rest."""

from __future__ import annotations


def markdown_table(rows: list[list[str]], max_rows: int) -> str:
    """A Markdown table; the first row is the header; rows past `max_rows` are counted, not shown."""
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    cells = [[_cell(c) for c in r] + [""] * (width - len(r)) for r in rows]
    header, body = cells[0], cells[1:]
    shown = body[:max_rows]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * width]
    out += ["| " + " | ".join(r) + " |" for r in shown]
    if len(body) > len(shown):
        out.append(f"\n[{len(body) - len(shown)} more rows not shown: {len(body)} in all, limit {max_rows}]")
    return "\n".join(out)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")
