"""The offline demo's ground: the bundled Vellmark corpus, its local search index and the MCP config the demo runs with.

The index is built once under MEMENTO_HOME/demo (again when a page changes) by running `memento index build` in a
process of its own, as a user would: the agent never imports a tool server's code. Nothing here starts a model.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memento.agent.hosts import default_config_path, load_config, server_environment
from memento.agent.settings import AgentSettings
from memento.core.errors import ConfigError

__all__ = [
    "CORPUS_PAGES",
    "DEMO_SERVERS",
    "DEMO_SETTINGS",
    "DEMO_TOOLS",
    "LOCAL_TASK",
    "LOCAL_TRUTH",
    "DemoGround",
    "corpus_digest",
    "prepare",
]

# The repository's corpus (an editable install: `make run` works from the clone).
CORPUS_PAGES = Path(__file__).resolve().parents[2] / "data" / "demo-corpus" / "pages"

# The demo question: its answer is in pages/lighthouse.md alone (Vellmark is invented), so no model knows it beforehand.
LOCAL_TASK = "Who was the first keeper of the Skarra Head lighthouse on the island of Vellmark?"
LOCAL_TRUTH = "Ilse Marrow"

# Only what a small model needs: search the corpus, then read the page found. Fewer tools, fewer wrong calls, and a
# shorter prompt: every tool's schema is read at each step (all of these two servers' tools: about 25 KB).
DEMO_SERVERS = ("search", "documents")
DEMO_TOOLS = ("search__search_local", "documents__read_document")
# What the demo sets beyond its flags: those tools alone, and in that order (search, then read the page found, then
# answer): with greedy decoding the 1.5B model otherwise answered from the search hit's snippet and opened no page.
DEMO_SETTINGS: dict[str, object] = {"executor_tools": list(DEMO_TOOLS), "executor_tools_in_order": True}


@dataclass(frozen=True)
class DemoGround:
    """What the demo runs on: its MCP config, its index folder, and whether this call built the index."""

    config: Path
    index_dir: Path
    built: bool


def corpus_digest(pages: Path) -> str:
    """One hash of every page's name and bytes: it changes when a page is added, removed or edited."""
    digest = hashlib.sha256()
    for path in sorted(p for p in pages.rglob("*") if p.is_file()):
        digest.update(path.relative_to(pages).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def prepare(settings: AgentSettings, say: Callable[[str], None], pages: Path = CORPUS_PAGES) -> DemoGround:
    """The demo's index (built when missing or when the corpus changed) and its MCP config, under MEMENTO_HOME/demo."""
    if not pages.is_dir():
        raise ConfigError(f"The demo corpus is missing at {pages}; run the demo from a clone of the project (make run).")
    folder = settings.home / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    index_dir, stamp = folder / "search-index", folder / "corpus.sha256"
    digest = corpus_digest(pages)
    built = False
    if not (index_dir.is_dir() and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest):
        say(f"Indexing the demo corpus ({pages}) into {index_dir} …")
        _build_index(settings, pages, index_dir)
        stamp.write_text(digest + "\n", encoding="utf-8")
        built = True
    config = folder / "mcp.json"
    config.write_text(json.dumps(_config(pages, index_dir), indent=2) + "\n", encoding="utf-8")
    return DemoGround(config=config, index_dir=index_dir, built=built)


def _build_index(settings: AgentSettings, pages: Path, index_dir: Path) -> None:
    command = [sys.executable, "-m", "memento.servers.search.index_cli", "build", "--rebuild", "--quiet", str(pages)]
    env = {**server_environment(settings), "MEMENTO_SEARCH_INDEX_DIR": str(index_dir)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise ConfigError(f"Building the demo index failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")


def _config(pages: Path, index_dir: Path) -> dict[str, object]:
    """The project's own entries for the demo's servers, pointed at the corpus: search offline on its index, documents
    reading the corpus folder alone."""
    entries = {e.name: e for e in load_config(default_config_path()) if e.name in DEMO_SERVERS}
    missing = [name for name in DEMO_SERVERS if name not in entries]
    if missing:
        raise ConfigError(f"The MCP config has no {', '.join(missing)} server, which the demo needs.")
    extra = {
        "search": {"MEMENTO_SEARCH_BACKENDS": "local", "MEMENTO_SEARCH_INDEX_DIR": str(index_dir)},
        "documents": {"MEMENTO_DOCUMENTS_ROOTS": str(pages)},
    }
    servers = {name: {"command": entry.command, "args": entry.args, "env": {**entry.env, **extra[name]}} for name, entry in entries.items()}
    return {"mcpServers": servers}
