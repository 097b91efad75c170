"""`memento index build|status`: build the local search index from folders and URLs, or describe it.

    memento index build PATH_OR_URL... [--urls-file FILE] [--rebuild] [--workers N]
    memento index build                 refresh what the index already covers
    memento index status

A plain `main(argv)` so the `memento` click group can hand its arguments over
unchanged. Settings come from MEMENTO_* like the server's, so both agree on
where the index lives (MEMENTO_SEARCH_INDEX_DIR, default $MEMENTO_HOME/search-index).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from memento.servers.common.errors import ServerError
from memento.servers.common.settings import SettingsError

from .settings import SearchSettings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memento index",
        description="Build or inspect the local full-text index that search_local (and the `local` backend) search.",
        epilog="The index lives in MEMENTO_SEARCH_INDEX_DIR (default $MEMENTO_HOME/search-index).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser(
        "build",
        help="index folders, files and URLs (incremental: only what changed is converted again)",
        description="Index folders, files and http(s) URLs. Without arguments, refresh what the index already covers.",
    )
    build.add_argument("sources", nargs="*", metavar="PATH_OR_URL", help="folders and files to index, or http(s) URLs")
    build.add_argument("--urls-file", type=Path, help="a file listing URLs to index, one per line (# starts a comment)")
    build.add_argument("--rebuild", action="store_true", help="start from an empty index instead of updating it")
    build.add_argument("--workers", type=int, help="conversion processes (default MEMENTO_SEARCH_INDEX_WORKERS)")
    build.add_argument("--quiet", action="store_true", help="print only the summary")
    commands.add_parser("status", help="where the index is, what it covers and how big it is")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        overrides = {"search_index_workers": args.workers} if getattr(args, "workers", None) else {}
        settings = SearchSettings.from_env(**overrides)
    except SettingsError as exc:
        print(f"memento index: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "status":
            print(_status(settings))
            return 0
        return _build(settings, args)
    except (ServerError, OSError) as exc:
        print(f"memento index: {exc}", file=sys.stderr)
        return 1


def _build(settings: SearchSettings, args: argparse.Namespace) -> int:
    from .index.build import IndexBuilder

    urls = [s for s in args.sources if s.lower().startswith(("http://", "https://"))]
    paths = [s for s in args.sources if s not in urls]
    if args.urls_file:
        lines = args.urls_file.read_text(encoding="utf-8").splitlines()
        urls += [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
    progress = None if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    report = IndexBuilder(settings, progress=progress).build(paths, urls, rebuild=args.rebuild)
    print(report.summary())
    return 1 if report.failed and not (report.added or report.updated or report.unchanged) else 0


def _status(settings: SearchSettings) -> str:
    from .index.manifest import Manifest
    from .index.store import LocalIndex

    index = LocalIndex(settings.index_dir)
    manifest = Manifest.load(settings.index_dir / "manifest.json")
    if not index.exists() or manifest is None:
        return index.missing_message()
    documents = sum(1 for e in manifest.entries.values() if e.get("sections"))
    lines = [
        f"index:     {settings.index_dir}",
        f"built:     {manifest.built or 'never'}",
        f"documents: {documents:,} ({index.count():,} sections)",
        *(f"root:      {root}" for root in manifest.roots),
        *(f"url:       {url}" for url in manifest.urls),
        *(f"failed:    {source}: {entry['failed']}" for source, entry in manifest.entries.items() if entry.get("failed")),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
