"""The memento CLI: servers list / check / config and the settings listing.

Commands that only read and print run in process (click's CliRunner); `servers check`
and the entry points run as a user runs them, in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from memento.agent.cli import cli

ROOT = Path(__file__).resolve().parent.parent
MEMENTO = [sys.executable, "-m", "memento.agent.cli"]


def run(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEMENTO, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=os.environ.copy()
    )


def invoke(*args: str, cwd: Path = ROOT) -> Result:
    """The CLI in this process, from `cwd` (where it looks for ./mcp.json)."""
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), prog_name="memento")
    finally:
        os.chdir(previous)


def test_servers_list_shows_what_mcp_json_declares() -> None:
    done = invoke("servers", "list")
    assert done.exit_code == 0, done.stderr
    declared = json.loads((ROOT / "mcp.json").read_text())["mcpServers"]
    for name in declared:
        assert name in done.stdout


@pytest.mark.integration
def test_servers_check_starts_every_server_and_reports_a_table() -> None:
    done = run("servers", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("documents")]
    assert lines and " ok " in lines[0] and "read_document: ok" in lines[0]
    assert " ms" in lines[0]


@pytest.mark.integration
def test_servers_check_fails_when_one_server_fails_but_checks_the_others(tmp_path: Path) -> None:
    config = {
        "mcpServers": {
            "documents": {"command": sys.executable, "args": ["-m", "memento.servers.documents"]},
            "broken": {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]},
            "absent": {"command": "no-such-memento-server"},
        }
    }
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(config))
    done = run("servers", "check", "--config", str(path), "--timeout", "30", cwd=ROOT)
    assert done.returncode != 0
    assert "2 server(s) failed: broken, absent" in done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line and line.split()[0] in config["mcpServers"]}
    assert " ok " in rows["documents"]
    assert "FAIL" in rows["broken"] and "FAIL" in rows["absent"]
    assert "was not found" in rows["absent"]


def test_servers_config_prints_host_snippets_with_absolute_commands() -> None:
    claude = json.loads(invoke("servers", "config").stdout)
    command = claude["mcpServers"]["documents"]["command"]
    assert os.path.isabs(command) and os.access(command, os.X_OK)
    vscode = json.loads(invoke("servers", "config", "--format", "vscode").stdout)
    assert vscode["servers"]["documents"]["type"] == "stdio"


def test_a_malformed_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text("{not json")
    done = invoke("servers", "list", "--config", str(path))
    assert done.exit_code == 1 and "is not valid JSON" in done.stderr and "Traceback" not in done.stderr
    assert done.exception is None or isinstance(done.exception, SystemExit)  # handled, not raised


def test_memento_config_lists_every_setting() -> None:
    done = invoke("config")
    assert done.exit_code == 0
    for variable in ("MEMENTO_HOME", "MEMENTO_DOCUMENTS_ROOTS", "MEMENTO_DOCUMENTS_TIMEOUT_S", "MEMENTO_ALLOW_PRIVATE_URLS"):
        assert variable in done.stdout


def test_help_explains_the_commands() -> None:
    done = invoke("--help")
    assert done.exit_code == 0 and "servers" in done.stdout and "config" in done.stdout
    installed = run("--help")  # the module entry point, as `python -m` runs it
    assert installed.returncode == 0 and "servers" in installed.stdout
    server_help = subprocess.run(
        [sys.executable, "-m", "memento.servers.documents", "--help"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert "--transport" in server_help.stdout and "MEMENTO_" in server_help.stdout


def test_help_lists_every_command_without_importing_the_agent_or_its_sdks() -> None:
    # --help imports each command's module to show its line: none may bring the heavy libraries with it.
    probe = (
        "import sys; from click.testing import CliRunner; from memento.agent.cli import cli; "
        "done = CliRunner().invoke(cli, ['--help'], prog_name='memento'); print(done.output); "
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.startswith("  ")}
    assert listed == {"chat", "config", "demo", "eval", "feedback", "index", "memory", "run", "runs", "servers", "ui"}
    loaded = done.stdout.split("LOADED")[1]
    for heavy in ("anyio", "anthropic", "openai", "chromadb", "mcp", "pydantic", "rich", "uvicorn"):
        assert f"'{heavy}'" not in loaded, f"memento --help imported {heavy}"
