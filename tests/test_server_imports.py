"""What each tool server has imported by the time it answers `tools/list`: none of the heavy libraries its tools
load on first use (Chroma, numpy, Chromium's driver, converters, the agent's run path), so a host sees its
tools at once. Each server starts in a fresh interpreter through its real entry point, serving in memory.
The warm-ups that load those libraries ahead of the first call wait until the tools/list reply has left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs `memento-NAME`'s own main() (flags, settings, logging, build, middleware) with stdio swapped for an
# in-memory client, and notes sys.modules as the tools/list reply leaves, before any warm-up may start.
_PROBE = """
import importlib, json, sys
import memento.servers.common.runner as runner

name = sys.argv[1]
module = importlib.import_module(f"memento.servers.{name}.server")
seen = {}

async def snapshot(ctx, call_next):
    result = await call_next(ctx)
    if ctx.method == "tools/list" and "modules" not in seen:
        seen["modules"] = sorted(sys.modules)  # inside the warm-up middleware: nothing is warming yet
    return result

async def list_in_memory(server):
    from mcp import Client

    server.middleware.append(snapshot)
    async with Client(server) as client:
        seen["tools"] = [tool.name for tool in (await client.list_tools()).tools]

runner._serve_stdio = list_in_memory
seen["exit"] = module.main([])
print(json.dumps(seen))
"""

# Loaded on a tool's first use, never by the start.
HEAVY = (
    "chromadb",
    "numpy",
    "torch",
    "sentence_transformers",
    "transformers",
    "onnxruntime",
    "tokenizers",
    "safetensors",
    "playwright",
    "trafilatura",
    "courlan",
    "lxml",
    "PIL",
    "av",
    "pandas",
    "tantivy",
    "markitdown",
    "pypdfium2",
    "openpyxl",
    "bs4",
    "rich",
    "pygments",
    "anthropic",
    "openai",
    "memento.agent.episode",
    "memento.agent.session",
    "memento.agent.hub",
    "memento.memory.casebank",
    "memento.memory.store",
)
# The search and browse servers open their HTTP client in the lifespan; the others need no HTTP stack to start.
HTTP = ("httpx", "httpcore")

SERVERS = {
    "documents": ("read_document", HTTP),
    "casebank": ("retrieve_cases", HTTP),
    "code": ("run_python", HTTP),
    "search": ("web_search", ()),
    "browse": ("fetch_page", ()),
    "research": ("deep_research", HTTP),
}


def _started(name: str, tmp_path: Path) -> dict[str, object]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "MEMENTO_HOME": str(tmp_path / "memento"),
        "MEMENTO_DOCUMENTS_ROOTS": str(tmp_path),
        "MEMENTO_CODE_SANDBOX": "none",  # the sandbox probe is not what is measured here
        "MEMENTO_LOG_LEVEL": "ERROR",
    }
    done = subprocess.run([sys.executable, "-c", _PROBE, name], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_a_server_lists_its_tools_before_importing_any_heavy_library(name: str, tmp_path: Path) -> None:
    a_tool, also_heavy = SERVERS[name]
    seen = _started(name, tmp_path)
    assert seen["exit"] == 0
    assert a_tool in seen["tools"]  # type: ignore[operator]
    modules = set(seen["modules"])  # type: ignore[arg-type]
    loaded = [heavy for heavy in (*HEAVY, *also_heavy) if heavy in modules]
    assert loaded == [], f"memento-{name} imported {loaded} before answering tools/list"


# The warm-up gate is process-wide, so it is exercised in a fresh interpreter of its own.
_WARMUP = """
import threading, time
import anyio
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCRequest, JSONRPCResponse
from memento.servers.common.warmup import ListedWhenSent, Warmup

class Sink:
    async def send(self, item):
        pass

ran, cancelled_ran = threading.Event(), threading.Event()
warmup = Warmup(ran.set, "probe", after_s=30)
cancelled = Warmup(cancelled_ran.set, "cancelled", after_s=30)
cancelled.cancel()
replies = ListedWhenSent(Sink())

async def main():
    await replies.send(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=1, result={})))  # the initialize reply
    replies.expect(JSONRPCRequest(jsonrpc="2.0", id=2, method="tools/list"))
    time.sleep(0.3)
    before = ran.is_set()
    await replies.send(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=2, result={"tools": []})))
    return before

before = anyio.run(main)
print(before, ran.wait(5), cancelled_ran.wait(0.5))
"""


def test_warm_ups_start_once_the_tools_list_reply_has_left_and_never_once_cancelled(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _WARMUP], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "False"]
