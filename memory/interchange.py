"""Import and export of case banks as JSON Lines.

Three formats:
- `memento` (ours, lossless): one object per line, `{"kind": "case", ...every field}` or
  `{"kind": "transition", ...}`; export then import gives back the same bank.
- `memory` (the reference memory.jsonl): `{"case", "plan", "case_label"}`, where `plan` is
  a JSON string `{"plan": [{"id", "description"}, ...]}`.
- `training` (the reference training_data.jsonl): `{"query", "case", "case_label", "plan",
  "truth_label"}`: each row is a transition (query shown case → truth) and names a case.
Import reads and checks the whole file first: a malformed line stops it with the line
number and field, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from .cases import SUCCESS, Case, Transition, case_id_for
from .errors import CaseMemoryError, ImportFormatError
from .limits import CaseLimits

__all__ = ["FORMATS", "detect_format", "export_jsonl", "import_jsonl", "parse_plan", "plan_json", "read_rows"]

FORMATS = ("memento", "memory", "training")
_CASE_FIELDS = {f.name for f in fields(Case)}


def parse_plan(raw: Any) -> list[str]:
    """The steps of a plan given as a list, or as the reference's JSON string."""
    if isinstance(raw, list):
        return [str(step.get("description", step)) if isinstance(step, dict) else str(step) for step in raw]
    if not isinstance(raw, str) or not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw.strip()]
    if isinstance(value, dict) and isinstance(value.get("plan"), list):
        return parse_plan(value["plan"])
    if isinstance(value, list):
        return parse_plan(value)
    return [raw.strip()]


def plan_json(steps: list[str]) -> str:
    return json.dumps({"plan": [{"id": i, "description": s} for i, s in enumerate(steps, start=1)]}, ensure_ascii=False)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportFormatError(str(path), number, "(line)", f"not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ImportFormatError(str(path), number, "(line)", "not a JSON object")
            yield number, row


def detect_format(row: dict[str, Any]) -> str:
    if "kind" in row:
        return "memento"
    if "query" in row and "truth_label" in row:
        return "training"
    if "case" in row:
        return "memory"
    raise ValueError("unknown")


def _text(path: Path, number: int, row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ImportFormatError(str(path), number, name, "missing or not a non-empty string")
    return value


def _label(path: Path, number: int, row: dict[str, Any], name: str = "case_label") -> str:
    value = row.get(name)
    if value not in ("positive", "negative"):
        raise ImportFormatError(str(path), number, name, f"must be 'positive' or 'negative', got {value!r}")
    return value


def _truth(path: Path, number: int, row: dict[str, Any]) -> float:
    value = row.get("truth_label")
    if isinstance(value, bool) or value in (0, 1):
        return float(value)
    raise ImportFormatError(str(path), number, "truth_label", f"must be true/false or 0/1, got {value!r}")


def parse_file(
    path: Path, fmt: str | None = None, source: str = "", limits: CaseLimits | None = None
) -> tuple[list[Case], list[Transition], str]:
    """Every case and transition in the file, checked (against `limits` too, when given); raises on the first bad line."""
    cases: dict[str, Case] = {}
    transitions: dict[str, Transition] = {}
    source = source or path.name
    for number, row in read_rows(path):
        kind = fmt
        if kind is None:
            try:
                kind = fmt = detect_format(row)
            except ValueError:
                raise ImportFormatError(str(path), number, "(line)", "not a memento, memory.jsonl or training_data.jsonl row") from None
        if kind == "memento":
            item = _memento_row(path, number, row)
            if isinstance(item, Case):
                _fits(path, number, item, limits)
                cases[item.id] = item
            else:
                transitions[item.id] = item
            continue
        task = _text(path, number, row, "case")
        label = _label(path, number, row)
        plan = parse_plan(row.get("plan", ""))
        case = cases.get(case_id_for(task)) or Case(task, plan, reward=1.0 if label == "positive" else 0.0, outcome=label, source=source)
        _fits(path, number, case, limits)
        cases[case.id] = case
        if kind == "training":
            query = _text(path, number, row, "query")
            run = "ref-" + hashlib.sha256(query.encode()).hexdigest()[:16]
            transition = Transition(run, query, case.id, _truth(path, number, row))
            transitions[transition.id] = transition
    if fmt is None:
        fmt = "memento"
    return list(cases.values()), list(transitions.values()), fmt


def _fits(path: Path, number: int, case: Case, limits: CaseLimits | None) -> None:
    too_big = limits.problem(case.task, case.plan, case.answer, case.summary, case.tools) if limits else None
    if too_big is not None:
        raise ImportFormatError(str(path), number, too_big[0], too_big[1])


def _memento_row(path: Path, number: int, row: dict[str, Any]) -> Case | Transition:
    kind = row.get("kind")
    if kind == "case":
        _text(path, number, row, "task")
        data = {k: v for k, v in row.items() if k in _CASE_FIELDS}
        if not isinstance(data.get("plan", []), list):
            raise ImportFormatError(str(path), number, "plan", "must be a list of steps")
        reward = data.get("reward", 0.0)
        if not isinstance(reward, (int, float)) or not 0 <= reward <= 1:
            raise ImportFormatError(str(path), number, "reward", f"must be a number from 0 to 1, got {reward!r}")
        return Case(**data)
    if kind == "transition":
        for name in ("run_id", "task", "case_id"):
            _text(path, number, row, name)
        reward = row.get("reward")
        if not isinstance(reward, (int, float)) or not 0 <= reward <= 1:
            raise ImportFormatError(str(path), number, "reward", f"must be a number from 0 to 1, got {reward!r}")
        return Transition.from_metadata(
            row["task"],
            {**row, "reward": float(reward), "created": float(row.get("created", 0)), "kind": row.get("reward_kind", "verified")},
        )
    raise ImportFormatError(str(path), number, "kind", f"must be 'case' or 'transition', got {kind!r}")


def import_jsonl(bank: Any, path: Path, fmt: str | None = None) -> dict[str, Any]:
    """Check the whole file, then write its cases and transitions into `bank`."""
    cases, transitions, fmt = parse_file(path, fmt, limits=getattr(bank, "limits", None))
    bank.put_cases(cases)
    bank.put_transitions(transitions)
    return {"format": fmt, "cases": len(cases), "transitions": len(transitions)}


def export_jsonl(bank: Any, path: Path, fmt: str = "memento") -> dict[str, Any]:
    """Write the bank to `path` in one of FORMATS; returns what was written."""
    if fmt not in FORMATS:
        raise CaseMemoryError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    temporary = path.with_name(path.name + ".partial")
    counts = {"cases": 0, "transitions": 0}
    with temporary.open("w", encoding="utf-8") as out:
        if fmt in ("memento", "memory"):
            for case in bank.iter_cases():
                row = (
                    {"kind": "case", **case.to_json()}
                    if fmt == "memento"
                    else {"case": case.task, "plan": plan_json(case.plan), "case_label": case.outcome}
                )
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                counts["cases"] += 1
        if fmt in ("memento", "training"):
            cases = {c.id: c for c in bank.iter_cases()} if fmt == "training" else {}
            for t in bank.iter_transitions():
                if fmt == "memento":
                    meta = t.to_metadata()
                    meta["reward_kind"] = meta.pop("kind")  # "kind" names the row's kind in this format
                    row = {"kind": "transition", "task": t.task, **meta}
                elif t.case_id in cases:
                    case = cases[t.case_id]
                    row = {
                        "query": t.task,
                        "case": case.task,
                        "case_label": case.outcome,
                        "plan": plan_json(case.plan),
                        "truth_label": t.reward >= SUCCESS,
                    }
                else:
                    continue
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                counts["transitions"] += 1
    temporary.replace(path)
    return {"format": fmt, **counts}
