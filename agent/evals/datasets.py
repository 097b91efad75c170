"""Reading benchmark files into tasks: DeepResearcher JSONL, GAIA, SimpleQA CSV and generic JSONL.

Every task gets an id that does not depend on its position in the file (GAIA's
`task_id`, else a hash of the question and its truth), so `--resume`, `--shard`
and merged reports agree across machines and edits of the file's order.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memento.core.errors import MementoError

from ..judge import ANSWER_SPLIT

__all__ = ["FORMATS", "Dataset", "DatasetError", "EvalTask", "load_dataset", "select_tasks"]

FORMATS = ("auto", "deepresearcher", "gaia", "simpleqa", "jsonl")
HIDDEN_TRUTH = {"", "?"}  # GAIA's test split ships "?" for answers it keeps secret


class DatasetError(MementoError):
    """The dataset cannot be read as asked; the message says where and why."""


@dataclass(frozen=True)
class EvalTask:
    """One question with its acceptable answers (`truth` empty: unknown, so unscored)."""

    id: str
    question: str
    truth: tuple[str, ...]
    source: str = ""
    level: str = ""
    files: tuple[Path, ...] = ()

    @property
    def truth_text(self) -> str:
        return ANSWER_SPLIT.join(self.truth)


@dataclass
class Dataset:
    """The tasks of one file, its format, and the hash that identifies its content."""

    path: Path
    format: str
    tasks: list[EvalTask]
    sha256: str
    attachments_dir: Path | None = None  # GAIA: the folder the attachments lie in
    notes: list[str] = field(default_factory=list)


def load_dataset(
    path: Path,
    fmt: str = "auto",
    *,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
) -> Dataset:
    """Read `path` (a file, or a GAIA folder holding metadata.jsonl) as `fmt`, detected when "auto"."""
    path = Path(path)
    if path.is_dir():
        if not (path / "metadata.jsonl").is_file():
            raise DatasetError(f"{path} is a folder without metadata.jsonl; give a dataset file (JSONL or CSV) or a GAIA folder.")
        path = path / "metadata.jsonl"
    if not path.is_file():
        raise DatasetError(f"No dataset at {path}.")
    if fmt not in FORMATS:
        raise DatasetError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if fmt == "auto":
        fmt = _detect(path, question_field)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if fmt == "simpleqa":
        tasks = list(_simpleqa(path))
        dataset = Dataset(path, fmt, tasks, digest)
    elif fmt == "gaia":
        tasks = list(_gaia(path))
        dataset = Dataset(path, fmt, tasks, digest, attachments_dir=path.parent)
        _check_attachments(dataset)
    else:
        fields = _fields(fmt, question_field, answer_field, id_field)
        dataset = Dataset(path, fmt, list(_jsonl(path, *fields)), digest)
    if not dataset.tasks:
        raise DatasetError(f"{path} holds no tasks.")
    _unique_ids(dataset.tasks)
    hidden = sum(1 for t in dataset.tasks if not t.truth)
    if hidden:
        dataset.notes.append(f"{hidden} task(s) have no known answer; they run but are not scored")
    return dataset


def select_tasks(
    tasks: list[EvalTask], *, sample: int | None = None, seed: int = 0, limit: int | None = None, shard: tuple[int, int] | None = None
) -> list[EvalTask]:
    """A seeded sample (kept in file order), then the first `limit`, then every n-th task of shard i/n (1-based)."""
    chosen = tasks
    if sample is not None and sample < len(chosen):
        keep = set(random.Random(seed).sample(range(len(chosen)), sample))
        chosen = [t for i, t in enumerate(chosen) if i in keep]
    if limit is not None:
        chosen = chosen[:limit]
    if shard is not None:
        index, count = shard
        chosen = chosen[index - 1 :: count]
    return chosen


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/4"` → (2, 4); the shards of n are 1/n … n/n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise DatasetError(f"--shard {text!r}: write i/n, e.g. 1/4.") from None
    if count < 1 or not 1 <= index <= count:
        raise DatasetError(f"--shard {text!r}: i must be between 1 and n (the shards of 4 are 1/4 … 4/4).")
    return index, count


# ---- formats ---------------------------------------------------------------------------------


def _detect(path: Path, question_field: str | None) -> str:
    if path.suffix.lower() == ".csv":
        return "simpleqa"
    first = next(_rows(path), None)
    if first is None:
        raise DatasetError(f"{path} holds no tasks.")
    _, row = first
    if question_field:
        return "jsonl"
    if "Question" in row and "task_id" in row:
        return "gaia"
    if "question" in row and "ground_truth" in row:
        return "deepresearcher"
    raise DatasetError(
        f"Cannot tell the format of {path} from its first row (keys: {', '.join(sorted(row))}); "
        "name the fields with --question-field and --answer-field (and --id-field)."
    )


def _fields(fmt: str, question: str | None, answer: str | None, ident: str | None) -> tuple[str, str | None, str | None, str | None]:
    if fmt == "deepresearcher":
        return question or "question", answer or "ground_truth", ident, "data_source"
    if not question:
        raise DatasetError("Generic JSONL needs --question-field (and usually --answer-field).")
    return question, answer, ident, None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not JSON ({exc.msg}).") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}.")
            yield number, row


def _truth(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    alternatives = [alt.strip() for item in items for alt in str(item).split(ANSWER_SPLIT)]
    return tuple(alt for alt in alternatives if alt not in HIDDEN_TRUTH)


def _jsonl(path: Path, question: str, answer: str | None, ident: str | None, source: str | None) -> Iterator[EvalTask]:
    for number, row in _rows(path):
        text = row.get(question)
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f"{path}:{number}: no {question!r} text.")
        truth = _truth(row.get(answer)) if answer else ()
        task_id = str(row[ident]) if ident and row.get(ident) is not None else _hash_id(text, truth)
        yield EvalTask(task_id, text.strip(), truth, str(row.get(source, "")) if source else "")


def _gaia(path: Path) -> Iterator[EvalTask]:
    for number, row in _rows(path):
        text, task_id = row.get("Question"), row.get("task_id")
        if not isinstance(text, str) or not text.strip() or not task_id:
            raise DatasetError(f"{path}:{number}: a GAIA row needs task_id and Question.")
        name = str(row.get("file_name") or "")
        files = (path.parent / name,) if name else ()
        yield EvalTask(str(task_id), text.strip(), _truth(row.get("Final answer")), "gaia", str(row.get("Level", "")), files)


def _simpleqa(path: Path) -> Iterator[EvalTask]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"problem", "answer"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path}: a SimpleQA CSV needs the columns problem and answer (missing: {', '.join(sorted(missing))}).")
        for row in reader:
            text = (row.get("problem") or "").strip()
            if not text:
                raise DatasetError(f"{path}:{reader.line_num}: the problem is empty.")
            truth = _truth(row.get("answer"))
            yield EvalTask(_hash_id(text, truth), text, truth, _topic(row.get("metadata")) or "simpleqa")


def _topic(metadata: str | None) -> str:
    # SimpleQA's metadata column is a Python-literal dict with a "topic"; read it without eval.
    if not metadata:
        return ""
    marker = "'topic': '"
    start = metadata.find(marker)
    if start < 0:
        return ""
    start += len(marker)
    end = metadata.find("'", start)
    return metadata[start:end] if end > start else ""


def _hash_id(question: str, truth: tuple[str, ...]) -> str:
    return "t" + hashlib.sha1(f"{question}\x00{ANSWER_SPLIT.join(truth)}".encode()).hexdigest()[:12]


def _unique_ids(tasks: list[EvalTask]) -> None:
    # A question repeated with the same truth is the same task asked twice; number the repeats.
    seen: dict[str, int] = {}
    for i, task in enumerate(tasks):
        count = seen.get(task.id, 0)
        seen[task.id] = count + 1
        if count:
            tasks[i] = EvalTask(f"{task.id}-{count + 1}", task.question, task.truth, task.source, task.level, task.files)


def _check_attachments(dataset: Dataset) -> None:
    missing = sorted({f.name for t in dataset.tasks for f in t.files if not f.is_file()})
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(f"{len(missing)} attachment(s) named in {dataset.path} are not beside it: {shown}.")
