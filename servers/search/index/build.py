"""Build and refresh the local index: walk folders, fetch URLs, convert what changed, commit once.

Incremental by default: a file whose size and mtime are unchanged is not read;
one whose bytes hash the same is not converted again; a changed file's sections
are replaced; a file gone from a root it was found under is removed. URLs are
fetched every build (through the URL guard) and replaced when their content
hash changes. Conversion runs in `memento.convert`'s bounded worker pool, so
one bad file is a line in the report, not a failed build.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio

from memento.servers.common.errors import AccessDenied, InvalidInput, NotFound, ServerError
from memento.servers.common.http import download

from ..settings import SearchSettings
from .manifest import Manifest
from .store import new_schema

__all__ = ["BuildReport", "IndexBuilder"]

_EXTRACT_FILE = "memento.servers.search.index.extract:extract_file"
_EXTRACT_BYTES = "memento.servers.search.index.extract:extract_bytes"
_PROGRESS_EVERY = 1000
_SHOWN = 10  # failures and skips listed by name in the summary


@dataclass
class BuildReport:
    directory: Path
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    sections: int = 0  # sections written by this build
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)  # indexed only up to MEMENTO_SEARCH_INDEX_MAX_CHARS
    documents: int = 0  # sources searchable after the build
    failed_before: int = 0  # unchanged files that failed in an earlier build (not tried again)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"Indexed into {self.directory} in {self.seconds:.1f} s: {self.added} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.removed} removed; {len(self.failed)} failed, {len(self.skipped)} skipped.",
            f"The index holds {self.documents:,} documents.",
        ]
        if self.failed_before > 0:
            lines.append(
                f"{self.failed_before} unchanged files failed in an earlier build and were not tried again "
                "(`memento index status` lists them; --rebuild tries everything)."
            )
        if self.truncated:
            shown = ", ".join(self.truncated[:_SHOWN]) + (" …" if len(self.truncated) > _SHOWN else "")
            lines.append(f"{len(self.truncated)} long documents were indexed only up to MEMENTO_SEARCH_INDEX_MAX_CHARS: {shown}")
        for title, items in (("Failed", self.failed), ("Skipped (not indexed)", self.skipped)):
            if items:
                lines.append(f"{title}:")
                lines += [f"  {source}: {reason}" for source, reason in items[:_SHOWN]]
                if len(items) > _SHOWN:
                    lines.append(f"  … and {len(items) - _SHOWN} more")
        return "\n".join(lines)


class IndexBuilder:
    def __init__(self, settings: SearchSettings, progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.directory = settings.index_dir
        self.progress = progress or (lambda _message: None)

    def build(self, paths: Sequence[str] = (), urls: Sequence[str] = (), rebuild: bool = False) -> BuildReport:
        """Index `paths` (files or folders) and `urls`; with neither, refresh what the index already covers."""
        import tantivy

        started = time.perf_counter()
        roots = [_resolve(p) for p in paths]
        urls = [_check_url(u) for u in urls]
        manifest_path = self.directory / "manifest.json"
        manifest = Manifest.load(manifest_path)
        if manifest is None or not (self.directory / "meta.json").exists():
            manifest = None  # none yet, or from an older version: start clean
        if not roots and not urls:
            roots = [Path(r) for r in manifest.roots if Path(r).exists()] if manifest else []
            urls = list(manifest.urls) if manifest else []
            if not roots and not urls:
                raise InvalidInput("Name the folders, files or http(s) URLs to index, e.g. `memento index build ~/Documents`.")
        if manifest is None:
            self._reset()
            manifest = Manifest()
        index = tantivy.Index(new_schema(), path=str(self.directory), reuse=True)
        writer = _open_writer(index)  # takes the index's lock: one build at a time
        if rebuild:
            writer.delete_all_documents()
            manifest = Manifest()  # forget old roots too: the index will cover what this build names
        manifest.roots = sorted(set(manifest.roots) | {str(r) for r in roots})
        manifest.urls = list(dict.fromkeys([*manifest.urls, *urls]))

        report = BuildReport(self.directory)
        try:
            files = self._walk(roots)
            for source in [s for s, e in manifest.entries.items() if e.get("kind") == "file" and _under(s, roots) and s not in files]:
                writer.delete_documents_by_term("source", source)
                del manifest.entries[source]
                report.removed += 1
            todo = []
            for path, (mtime_ns, size) in files.items():
                entry = manifest.entries.get(path)
                if entry and entry.get("mtime_ns") == mtime_ns and entry.get("size") == size:
                    report.unchanged += 1
                else:
                    todo.append(path)
            self._convert(todo, files, urls, manifest, writer, report)
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        manifest.built = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        manifest.save(manifest_path)
        report.documents = sum(1 for e in manifest.entries.values() if e.get("sections"))
        report.failed_before = sum(1 for e in manifest.entries.values() if e.get("failed")) - len(report.failed)
        report.seconds = time.perf_counter() - started
        return report

    # -- steps -------------------------------------------------------------------------------

    def _reset(self) -> None:
        """Start an empty index, deleting an old one only if it is recognisably ours."""
        directory = self.directory
        if directory.exists() and any(directory.iterdir()):
            if not ((directory / "meta.json").exists() or (directory / "manifest.json").exists()):
                raise AccessDenied(
                    f"{directory} holds files that are not a Memento index; refusing to overwrite them. "
                    "Point MEMENTO_SEARCH_INDEX_DIR at an empty or new folder."
                )
            shutil.rmtree(directory)
        directory.mkdir(parents=True, exist_ok=True)

    def _walk(self, roots: Iterable[Path]) -> dict[str, tuple[int, int]]:
        """Every visible file under the roots: path → (mtime_ns, size). Hidden files and folders are skipped."""
        found: dict[str, tuple[int, int]] = {}
        own = self.directory.resolve()
        for root in roots:
            candidates = [root] if root.is_file() else _files_under(root, own)
            for path in candidates:
                try:
                    stat = path.stat()
                except OSError:
                    continue
                found[str(path)] = (stat.st_mtime_ns, stat.st_size)
        return found

    def _convert(self, todo: list[str], files: dict, urls: list[str], manifest: Manifest, writer: Any, report: BuildReport) -> None:
        from memento.convert.worker import WorkerPool

        settings = self.settings
        pool = WorkerPool(
            settings.search_index_workers,
            int(settings.search_index_memory_limit),
            settings.search_index_timeout_s,
            settings_prefix="MEMENTO_SEARCH_INDEX",
        )
        limits = (int(settings.search_index_max_bytes), settings.search_index_max_chars)
        try:
            with ThreadPoolExecutor(max_workers=settings.search_index_workers, thread_name_prefix="index") as threads:
                jobs = {
                    threads.submit(pool.call_blocking, _EXTRACT_FILE, path, *limits, manifest.entries.get(path, {}).get("sha256")): path
                    for path in todo
                }
                for done, job in enumerate(as_completed(jobs), start=1):
                    path = jobs[job]
                    mtime_ns, size = files[path]
                    base = {"kind": "file", "mtime_ns": mtime_ns, "size": size}
                    self._apply(path, _outcome(job), base, _date_of(mtime_ns), manifest, writer, report)
                    if done % _PROGRESS_EVERY == 0:
                        self.progress(f"… {done:,} of {len(todo):,} files converted")
            if urls:
                fetched = anyio.run(self._fetch_all, urls)
                for url, outcome in fetched:
                    if isinstance(outcome, ServerError):
                        self._forget(url, manifest, writer)
                        report.failed.append((url, str(outcome)))
                        continue
                    digest = hashlib.sha256(outcome.content).hexdigest()
                    previous = manifest.entries.get(url, {})
                    if previous.get("sha256") == digest and previous.get("sections"):
                        report.unchanged += 1  # same bytes as last time: no conversion needed
                        continue
                    name = unquote(urlsplit(outcome.url).path.rsplit("/", 1)[-1]) or "index.html"
                    try:
                        result = pool.call_blocking(_EXTRACT_BYTES, outcome.content, name, limits[1], digest)
                    except ServerError as exc:
                        result = exc
                    self._apply(url, result, {"kind": "url", "final_url": outcome.url}, None, manifest, writer, report)
        finally:
            pool.close()

    async def _fetch_all(self, urls: list[str]) -> list[tuple[str, Any]]:
        settings = self.settings
        results: list[tuple[str, Any]] = []
        for url in urls:
            try:
                fetched = await download(url, settings, max_bytes=int(settings.search_index_max_bytes))
                results.append((url, fetched))
            except ServerError as exc:
                results.append((url, exc))
        return results

    def _apply(
        self,
        source: str,
        outcome: dict | ServerError,
        base: dict,
        fallback_date: str | None,
        manifest: Manifest,
        writer: Any,
        report: BuildReport,
    ) -> None:
        """Write one converted source into the index and the manifest."""
        import tantivy

        previous = manifest.entries.get(source)
        if isinstance(outcome, ServerError):
            self._forget(source, manifest, writer)
            if base.get("kind") == "file":  # remembered, so an unchanged bad file is not converted again next time
                manifest.entries[source] = {**base, "sections": 0, "failed": str(outcome)}
            report.failed.append((source, str(outcome)))
            return
        status = outcome["status"]
        if status == "same":
            manifest.entries[source] = {**(previous or {}), **base}
            report.unchanged += 1
            return
        if previous:
            writer.delete_documents_by_term("source", source)
        if status == "skipped":
            # Remembered with its size and mtime, so an unchanged image is not read again next time.
            manifest.entries[source] = {**base, "sections": 0, "skipped": outcome["reason"]}
            report.skipped.append((source, outcome["reason"]))
            return
        date = outcome.get("date") or fallback_date or ""
        for location, text in outcome["sections"]:
            writer.add_document(
                tantivy.Document(
                    source=source,
                    location=location,
                    title=outcome["title"],
                    body=text,
                    format=outcome["format"],
                    modified=date,
                )
            )
        count = len(outcome["sections"])
        report.sections += count
        if outcome.get("truncated"):
            report.truncated.append(source)
        manifest.entries[source] = {**base, "sha256": outcome["sha256"], "sections": count, "format": outcome["format"]}
        if previous:
            report.updated += 1
        else:
            report.added += 1

    def _forget(self, source: str, manifest: Manifest, writer: Any) -> None:
        if manifest.entries.pop(source, None) is not None:
            writer.delete_documents_by_term("source", source)


def _outcome(job: Future) -> dict | ServerError:
    try:
        return job.result()
    except ServerError as exc:
        return exc


def _open_writer(index: Any) -> Any:
    try:
        return index.writer(heap_size=100_000_000, num_threads=1)
    except ValueError as exc:
        if "lock" in str(exc).lower():
            raise ServerError("Another `memento index build` is writing this index; wait for it to finish and run this one again.") from exc
        raise


def _files_under(root: Path, skip: Path) -> Iterable[Path]:
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() != skip)
        for name in sorted(names):
            if not name.startswith("."):
                yield here / name


def _resolve(path: str) -> Path:
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise NotFound(f"{path} does not exist; name existing folders or files to index.")
    return resolved


def _check_url(url: str) -> str:
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidInput(f"{url!r} is not an http(s) URL.")
    return url.strip()


def _under(source: str, roots: Sequence[Path]) -> bool:
    return any(source == str(root) or source.startswith(str(root).rstrip(os.sep) + os.sep) for root in roots)


def _date_of(mtime_ns: int) -> str:
    return datetime.datetime.fromtimestamp(mtime_ns / 1e9, datetime.UTC).date().isoformat()
