"""Helpers of the code server tests: call a tool and read its reply, and look at the sandbox from the host."""

from __future__ import annotations

import base64
from pathlib import Path

FAKE_SECRET = "sk-memento-test-9f3a7c1e-not-a-real-key"


async def run(client, code: str, session: str = "default", timeout_s: float | None = None, tool: str = "run_python"):
    """Call run_python (or run_shell); return (result, text, structured)."""
    arguments = {"code" if tool == "run_python" else "command": code, "session": session}
    if timeout_s is not None:
        arguments["timeout_s"] = timeout_s
    result = await client.call_tool(tool, arguments)
    return result, result.content[0].text, result.structured_content or {}


async def shell(client, command: str, session: str = "default", timeout_s: float | None = None):
    return await run(client, command, session, timeout_s, tool="run_shell")


def png_images(result) -> list[bytes]:
    return [base64.b64decode(c.data) for c in result.content if c.type == "image" and c.mime_type == "image/png"]


async def sandbox_pid(client, session: str = "default") -> int:
    listing = await client.call_tool("list_sessions", {})
    for info in listing.structured_content["sessions"]:
        if info["name"] == session and info["running"]:
            return info["pid"]
    raise AssertionError(f"session {session} has no running interpreter")


def descendants(pid: int) -> list[int]:
    """Host processes below `pid` (the sandbox's bwrap), found through /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def peak_address_space(pid: int) -> int:
    """VmPeak of a process in bytes: the most address space it ever held."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmPeak")
