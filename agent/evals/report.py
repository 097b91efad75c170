"""From result lines to `summary.json`, `report.md` and PNG plots, for one eval folder or several side by side.

Folders whose `config.json` names the same dataset, memory design and self-recall (the
shards of one eval) merge into one group; other folders become groups of their
own, so `memento eval report none/ similarity/ q/` draws one curve per design.
Accuracy counts only scored results: a grader that could not decide (`unknown`)
and a task without a known answer are counted apart, never as wrong.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memento.core.files import replace_file

from .results import ResultLog, latest

__all__ = ["Group", "load_groups", "summarise", "write_report"]

PLOTS = ("accuracy_per_iteration.png", "accuracy_per_source.png")


@dataclass
class Group:
    """Results that belong together: one eval, possibly run as shards in several folders."""

    label: str
    config: dict[str, Any]
    dirs: list[Path] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def load_groups(dirs: Sequence[Path]) -> list[Group]:
    """Read each folder's config and results; shards of the same eval join one group."""
    groups: dict[tuple[str, str, str], Group] = {}
    for folder in dirs:
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"{folder} is not an eval folder (no config.json).")
        config = json.loads(config_path.read_text())
        recall = config.get("self_recall")  # None: a folder from before sealed evals
        key = (config.get("dataset", {}).get("sha256", ""), config.get("memory", ""), str(recall))
        group = groups.get(key)
        if group is None:
            label = str(config.get("memory", folder.name)) + (" · self-recall" if recall else "")
            group = groups[key] = Group(label, config)
        group.dirs.append(folder)
        group.rows += ResultLog(folder / "results.jsonl").read()
    named = list(groups.values())
    labels = Counter(g.label for g in named)
    for group in named:  # two datasets with the same design: say which is which
        if labels[group.label] > 1:
            group.label = f"{group.label} · {Path(group.config.get('dataset', {}).get('path', '?')).name}"
    for group in named:
        group.rows = latest(group.rows)
    return named


# ---- numbers -----------------------------------------------------------------------------------


def _rate(correct: int, scored: int) -> float | None:
    return round(correct / scored, 4) if scored else None


def _wilson(correct: int, scored: int, z: float = 1.96) -> list[float] | None:
    """The 95% Wilson interval of a proportion: honest about how few tasks a figure rests on."""
    if not scored:
        return None
    p = correct / scored
    centre = (p + z * z / (2 * scored)) / (1 + z * z / scored)
    half = z * math.sqrt(p * (1 - p) / scored + z * z / (4 * scored * scored)) / (1 + z * z / scored)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _tally(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    known = [r for r in rows if r.get("truth")]
    scored = [r for r in known if r.get("correct") is not None]
    correct = sum(1 for r in scored if r["correct"])
    return {
        "n": len(rows),
        "scored": len(scored),
        "correct": correct,
        "accuracy": _rate(correct, len(scored)),
        "unknown": len(known) - len(scored),
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _by(rows: list[dict[str, Any]], field_name: str) -> dict[str, dict[str, Any]]:
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        value = row.get(field_name)
        if value not in (None, ""):
            parts[str(value)].append(row)
    return {name: _tally(part) for name, part in sorted(parts.items())}


def _at_k(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per iteration: avg@k (mean correctness over a task's attempts) and best@k (any attempt correct)."""
    per: dict[int, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.get("correct") is not None:
            per[int(row["iteration"])][str(row["id"])].append(bool(row["correct"]))
    out: dict[str, dict[str, float | None]] = {}
    for iteration, tasks in sorted(per.items()):
        avg = [sum(v) / len(v) for v in tasks.values()]
        best = [float(any(v)) for v in tasks.values()]
        out[str(iteration)] = {"avg": _mean(avg), "best": _mean(best), "tasks": len(tasks)}
    return out


def _scorers(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from .scoring import simpleqa_metrics

    scores: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        for name, score in (row.get("scores") or {}).items():
            scores[name].append(score)
    out: dict[str, Any] = {}
    for name, items in sorted(scores.items()):
        known = [s for s in items if s.get("score") is not None]
        entry: dict[str, Any] = {"n": len(items), "unknown": len(items) - len(known), "mean": _mean([s["score"] for s in known])}
        if name == "simpleqa":
            entry |= simpleqa_metrics([s.get("grade") or "unknown" for s in items])
        out[name] = entry
    return out


def summarise(group: Group) -> dict[str, Any]:
    """The figures of one group: overall, per source, level and iteration, avg@k/best@k, scorers, spending."""
    rows = group.rows
    tally = _tally(rows)
    config = group.config
    seen_ids = {str(r["id"]) for r in rows if r.get("seen")}
    summary: dict[str, Any] = {
        "label": group.label,
        "dirs": [str(d) for d in group.dirs],
        "dataset": config.get("dataset", {}).get("path"),
        "memory": config.get("memory"),
        "self_recall": config.get("self_recall"),  # may a task be shown its own earlier case (None: not recorded)
        "models": config.get("models", {}),
        "tasks": len({str(r["id"]) for r in rows}),
        **tally,
        "accuracy_ci95": _wilson(tally["correct"], tally["scored"]),
        "unscored": sum(1 for r in rows if not r.get("truth")),
        "statuses": dict(Counter(str(r.get("status")) for r in rows)),
        "seen_in_memory": len(seen_ids),
        "per_source": _by(rows, "source"),
        "per_level": _by(rows, "level"),
        "per_iteration": _by(rows, "iteration"),
        "attempts": max((int(r["attempt"]) for r in rows), default=0),
        "scorers": _scorers(rows),
        "tokens": sum(int(r.get("tokens") or 0) for r in rows),
        "input_tokens": sum(int(r.get("input_tokens") or 0) for r in rows),
        "output_tokens": sum(int(r.get("output_tokens") or 0) for r in rows),
        "cost_usd": round(sum(float(r.get("cost_usd") or 0) for r in rows), 6),
        "seconds": round(sum(float(r.get("seconds") or 0) for r in rows), 2),
        "mean_seconds": _mean([float(r.get("seconds") or 0) for r in rows]),
    }
    if summary["attempts"] > 1:
        summary["at_k"] = _at_k(rows)
    return summary


# ---- files -------------------------------------------------------------------------------------


def write_report(out: Path, groups: list[Group]) -> dict[str, Any]:
    """Write summary.json, report.md and the plots into `out`; return what summary.json holds."""
    out.mkdir(parents=True, exist_ok=True)
    summaries = [summarise(g) for g in groups]
    document: dict[str, Any] = summaries[0] if len(summaries) == 1 else {"groups": summaries}
    replace_file(out / "summary.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    plots = _plots(out, summaries)
    replace_file(out / "report.md", _markdown(summaries, groups, plots))
    return document


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _markdown(summaries: list[dict[str, Any]], groups: list[Group], plots: list[str]) -> str:
    lines = ["# Eval report", ""]
    lines += ["| | " + " | ".join(s["label"] for s in summaries) + " |", "|---|" + "---|" * len(summaries)]

    def row(name: str, cells: Iterable[str]) -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    row("dataset", (f"`{Path(s['dataset'] or '?').name}`" for s in summaries))
    row("models", (", ".join(f"{k} `{v}`" for k, v in s["models"].items() if v) or "–" for s in summaries))
    judges = ((s["models"].get("judge"), s["models"].get("planner")) for s in summaries)
    row("judge", ("–" if not j else "⚠ the planner's own model (self-grading)" if j == p else "not the planner's model" for j, p in judges))
    row("results (tasks × iterations × attempts)", (str(s["n"]) for s in summaries))
    row("accuracy (95% interval)", (f"{_pct(s['accuracy'])} ({_interval(s['accuracy_ci95'])})" for s in summaries))
    row("correct / scored", (f"{s['correct']} / {s['scored']}" for s in summaries))
    row("grader unknown (not counted)", (str(s["unknown"]) for s in summaries))
    row("no known answer (not scored)", (str(s["unscored"]) for s in summaries))
    recall = {True: "yes (--self-recall, the paper's protocol)", False: "no (sealed)", None: "not recorded"}
    row("a task may recall its own case", (recall[s.get("self_recall")] for s in summaries))
    row("already in memory before the eval", (str(s["seen_in_memory"]) for s in summaries))
    row("statuses", (", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items())) for s in summaries))
    row("tokens", (f"{s['tokens']:,}" for s in summaries))
    row("cost", (f"${s['cost_usd']:.4f}" for s in summaries))
    row("time per task (mean)", (f"{s['mean_seconds'] or 0:.1f} s" for s in summaries))
    scorer_names = sorted({name for s in summaries for name in s["scorers"]})
    for name in scorer_names:
        row(f"scorer {name} (mean)", (_pct(s["scorers"].get(name, {}).get("mean")) for s in summaries))
    for name, title in (
        ("per_iteration", "Accuracy per iteration"),
        ("per_source", "Accuracy per source"),
        ("per_level", "Accuracy per level"),
    ):
        keys = sorted({k for s in summaries for k in s[name]}, key=_natural)
        if not keys or (name == "per_iteration" and keys == ["1"] and len(summaries) == 1):
            continue
        lines += ["", f"## {title}", "", "| | " + " | ".join(s["label"] for s in summaries) + " |", "|---|" + "---|" * len(summaries)]
        for key in keys:
            row(key, (_cell(s[name].get(key)) for s in summaries))
    at_k = [s for s in summaries if "at_k" in s]
    if at_k:
        lines += ["", "## avg@k and best@k", "", "| design | iteration | k | avg@k | best@k |", "|---|---|---|---|---|"]
        for s in at_k:
            for iteration, v in s["at_k"].items():
                lines.append(f"| {s['label']} | {iteration} | {s['attempts']} | {_pct(v['avg'])} | {_pct(v['best'])} |")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in plots]
    folders = ", ".join(f"`{d}`" for g in groups for d in g.dirs)
    lines += [
        "",
        f"Results: `results.jsonl` in {folders}; each line's `run_id` opens its trace with `memento runs show RUN_ID`.",
        "Accuracy counts scored results only; a grader that could not decide is counted apart, never as wrong.",
        "",
    ]
    return "\n".join(lines)


def _interval(ci: list[float] | None) -> str:
    return "–" if not ci else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%"


def _cell(tally: dict[str, Any] | None) -> str:
    return "–" if not tally else f"{_pct(tally['accuracy'])} ({tally['correct']}/{tally['scored']})"


def _natural(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.isdigit() else (1, key)


def _plots(out: Path, summaries: list[dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    written = []
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for s in summaries:
        points = sorted((int(k), v["accuracy"]) for k, v in s["per_iteration"].items() if v["accuracy"] is not None)
        if points:
            ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", label=s["label"])
    ax.set(xlabel="iteration", ylabel="accuracy (%)", title="Accuracy per iteration", ylim=(0, 100))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(title="memory")
    fig.tight_layout()
    fig.savefig(out / PLOTS[0])
    plt.close(fig)
    written.append(PLOTS[0])

    sources = sorted({k for s in summaries for k in s["per_source"]})
    if sources:
        fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(sources) * max(1, len(summaries))), 4.0), dpi=120)
        width = 0.8 / len(summaries)
        for i, s in enumerate(summaries):
            values = [100 * (s["per_source"].get(src, {}).get("accuracy") or 0) for src in sources]
            ax.bar([x + i * width for x in range(len(sources))], values, width, label=s["label"])
        ax.set_xticks([x + width * (len(summaries) - 1) / 2 for x in range(len(sources))], sources, rotation=20)
        ax.set(ylabel="accuracy (%)", title="Accuracy per source", ylim=(0, 100))
        ax.grid(alpha=0.3, axis="y")
        ax.legend(title="memory")
        fig.tight_layout()
        fig.savefig(out / PLOTS[1])
        plt.close(fig)
        written.append(PLOTS[1])
    return written
