"""`memento servers list|check|config|new`: the MCP servers a host config declares (and the installed plug-ins),
started and checked, or printed for a host; `new` (servers_new.py) scaffolds one.

Reading the config and starting servers (the MCP SDK, anyio) happen inside the commands, not at import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .options import CONFIG_OPTION
from .servers_new import servers_new

if TYPE_CHECKING:
    from memento.agent.hosts import ServerEntry

__all__ = ["servers", "servers_check"]


@click.group()
def servers() -> None:
    """Inspect, check, configure and create MCP servers."""


servers.add_command(servers_new)


def _entries(config_path: Path | None, names: tuple[str, ...] = ()) -> tuple[Path, list[ServerEntry]]:
    from memento.agent.hosts import default_config_path, load_config

    path = config_path or default_config_path()
    entries = load_config(path)
    if names:
        unknown = set(names) - {e.name for e in entries}
        if unknown:
            raise click.ClickException(f"Not in {path}: {', '.join(sorted(unknown))}.")
        entries = [e for e in entries if e.name in names]
    return path, entries


@servers.command("list")
@CONFIG_OPTION
def servers_list(config_path: Path | None) -> None:
    """Show the servers the MCP config declares."""
    path, entries = _entries(config_path)
    click.echo(f"# {path}")
    for entry in entries:
        target = entry.url or " ".join([entry.command, *entry.args])
        click.echo(f"{entry.name:<12} {entry.transport:<6} {target}")


@servers.command("check")
@CONFIG_OPTION
@click.argument("names", nargs=-1)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds allowed per server.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per server instead of a table.")
def servers_check(config_path: Path | None, names: tuple[str, ...], timeout: float, as_json: bool) -> None:
    """Start each server through the MCP client, list its tools, call a harmless one.

    Exits non-zero when any server fails. NAMES limits the check to those servers.
    """
    import anyio

    from memento.agent.checks import check_server
    from memento.agent.hosts import server_environment
    from memento.agent.settings import AgentSettings

    environ = server_environment(AgentSettings.from_env())
    path, entries = _entries(config_path, names)
    if not as_json:
        click.echo(f"Checking {len(entries)} server(s) from {path}", err=True)
    results = []
    for entry in entries:
        result = anyio.run(check_server, entry, environ, timeout)
        results.append(result)
        if as_json:
            click.echo(json.dumps(result.__dict__))
    if not as_json:
        header = f"{'server':<12} {'status':<6} {'start-up':>9} {'tools':>5}  {'probe':<24} detail"
        click.echo(header)
        click.echo("-" * len(header))
        for r in results:
            startup = f"{r.startup_s * 1000:.0f} ms" if r.startup_s is not None else "-"
            detail = r.error or ", ".join(r.tools)
            click.echo(f"{r.name:<12} {'ok' if r.ok else 'FAIL':<6} {startup:>9} {len(r.tools):>5}  {r.probe:<24} {detail}")
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} server(s) failed: {', '.join(failed)}")


@servers.command("config")
@CONFIG_OPTION
@click.option(
    "--format",
    "style",
    type=click.Choice(["mcpServers", "vscode"]),
    default="mcpServers",
    show_default=True,
    help="mcpServers: Claude Desktop, Claude Code, Cursor. vscode: .vscode/mcp.json.",
)
def servers_config(config_path: Path | None, style: str) -> None:
    """Print a host config for this installation, with absolute commands, ready to paste."""
    from memento.agent.hosts import resolve_command
    from memento.agent.settings import AgentSettings

    path = AgentSettings.from_env().passed_environment.get("PATH", "")
    _, entries = _entries(config_path)
    out: dict[str, dict] = {}
    for entry in entries:
        if entry.url:
            spec: dict = {"type": "http", "url": entry.url} if style == "vscode" else {"url": entry.url}
        else:
            command = resolve_command(entry.command, path)
            spec = {"type": "stdio"} if style == "vscode" else {}
            spec |= {"command": command, "args": entry.args}
            if entry.env:
                spec["env"] = entry.env
        out[entry.name] = spec
    key = "servers" if style == "vscode" else "mcpServers"
    click.echo(json.dumps({key: out}, indent=2))
