"""The reference design's code tool, for comparison only: each call parses the code, checks its imports
against a whitelist, then runs it in a fresh `python -c` subprocess (no sandbox, no state). Started by
code_run.py over stdio; not part of Memento."""

from __future__ import annotations

import ast
import subprocess
import sys

from mcp.server.mcpserver import MCPServer

ALLOWED = {"math", "statistics", "json", "re", "datetime", "collections", "itertools", "numpy", "pandas", "scipy", "sympy"}

server = MCPServer("reference-subprocess-python")


@server.tool()
def run_python(code: str, timeout_s: float = 30) -> str:
    """Run code in a new Python process; return its output."""
    for node in ast.walk(ast.parse(code)):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        for name in names:
            if name.split(".")[0] not in ALLOWED:
                raise ValueError(f"import of {name} is not allowed")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s)
    return done.stdout + done.stderr


if __name__ == "__main__":
    server.run("stdio")
