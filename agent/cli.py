"""The `memento` command line: one click group, subcommands per area.

memento run TASK [--file F] [--json]  research a task with the agent (and learn from it)
memento chat                          the agent, multi-turn
memento feedback RUN_ID good|bad|0..1 a reward that arrives later
memento runs list|show                the traces of past runs
memento demo                          what `make run` does
memento eval DATASET | report DIR...  benchmark the agent; learning curves
memento ui                            runs, memory and evals in a local web page
memento servers list|check|config    the bundled MCP servers
memento memory stats|search|import|export|train|prune|eval-retriever
                                     the case bank
memento index build|status           the local search index
memento config [--markdown]          every MEMENTO_* setting with its default
                                     (--markdown: the page docs/configuration.md)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import click

from memento.core.errors import MementoError

from .hosts import default_config_path, load_config, resolve_command

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="MCP host config in the mcpServers format (default: ./mcp.json, else the project's).",
)


class _MementoGroup(click.Group):
    """The one place CLI failures are handled: a `MementoError` becomes `Error: …` and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MementoError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_MementoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="memento-agent")
def cli() -> None:
    """Memento: MCP tool servers and a deep-research agent that learns from experience."""


@cli.group()
def servers() -> None:
    """Inspect, check and configure the bundled MCP servers."""


def _entries(config_path: Path | None, names: tuple[str, ...] = ()):
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
    from .checks import check_server

    path, entries = _entries(config_path, names)
    if not as_json:
        click.echo(f"Checking {len(entries)} server(s) from {path}", err=True)
    results = []
    for entry in entries:
        result = anyio.run(check_server, entry, timeout)
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
    _, entries = _entries(config_path)
    out: dict[str, dict] = {}
    for entry in entries:
        if entry.url:
            spec: dict = {"type": "http", "url": entry.url} if style == "vscode" else {"url": entry.url}
        else:
            command = resolve_command(entry.command)
            spec = {"type": "stdio"} if style == "vscode" else {}
            spec |= {"command": command, "args": entry.args}
            if entry.env:
                spec["env"] = entry.env
        out[entry.name] = spec
    key = "servers" if style == "vscode" else "mcpServers"
    click.echo(json.dumps({key: out}, indent=2))


@cli.command(
    "index",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def index_cmd(args: tuple[str, ...]) -> None:
    """Build or inspect the local search index (memento index build PATH_OR_URL... | memento index status)."""
    from memento.servers.search.index_cli import main as index_main

    raise SystemExit(index_main(list(args)))


@cli.command("config")
@click.option("--markdown", is_flag=True, help="Print the page docs/configuration.md instead of a text table.")
def config_cmd(markdown: bool) -> None:
    """List every MEMENTO_* setting, its default and what it does."""
    if markdown:
        click.echo(configuration_page(), nl=False)
        return
    for title, note, rows in _settings_tables():
        click.echo(f"# {title.lower()} (read by {note.replace('`', '')})")
        for variable, default, description in rows:
            click.echo(f"{variable:<34} {default:<24} {description}")
        click.echo()


CONFIGURATION_HEADER = """\
# Configuration

<!-- Generated by `memento config --markdown`; do not edit. Regenerate with `make docs`. -->

This page is generated from the settings classes (the `Field(description=...)`
of `core/settings.py`, `servers/common/settings.py`, `servers/*/settings.py` and
`memory/settings.py`), so it cannot drift from the code: change a description
there and run `make docs` (`.venv/bin/memento config --markdown >
docs/configuration.md`); `tests/test_docs.py` fails while this page is stale.
`memento config` prints the same tables as text for the installed version.

Every setting is an environment variable, read once when a server or command
starts. A bad value stops it with a message naming the variable, e.g.
`MEMENTO_DOCUMENTS_TIMEOUT_S='soon' is not valid: Input should be a valid number`.
An empty value counts as unset. Sizes accept units (`50MB`, `2GiB`); lists are
separated by `,` or `:`. Secrets (API keys) are never shown or logged.
"""


def configuration_page() -> str:
    """docs/configuration.md: the header, then one Markdown table per settings area."""
    parts = [CONFIGURATION_HEADER]
    for title, note, rows in _settings_tables():
        lines = [f"## {title}", "", f"Read by {note}.", "", "| Variable | Default | Meaning |", "|---|---|---|"]
        lines += [f"| `{variable}` | `{default}` | {_cell(description)} |" for variable, default, description in rows]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _settings_tables() -> Iterator[tuple[str, str, list[tuple[str, str, str]]]]:
    """(title, note, rows) per area; a variable appears once, under the first area that declares it."""
    from memento.memory.settings import MemorySettings
    from memento.servers.browse.settings import BrowseSettings
    from memento.servers.code.settings import CodeSettings
    from memento.servers.common.settings import CommonSettings
    from memento.servers.documents.settings import DocumentsSettings
    from memento.servers.search.settings import SearchSettings

    from .settings import AgentSettings

    seen: set[str] = set()
    for title, note, settings in (
        ("All servers", "every server, on top of its own section; `MEMENTO_HOME` by the case memory too", CommonSettings),
        ("Documents server", "`memento-documents`", DocumentsSettings),
        ("Browse server", "`memento-browse`", BrowseSettings),
        ("Code server", "`memento-code`", CodeSettings),
        ("Search server", "`memento-search` and `memento index`", SearchSettings),
        ("Case memory", "the casebank server, `memento memory` and the agent", MemorySettings),
        ("Agent", "`memento run`, `memento chat`, `memento demo` and the research server", AgentSettings),
    ):
        rows = [row for row in settings.describe() if row[0] not in seen]
        seen.update(row[0] for row in rows)
        yield title, note, rows


def main() -> None:
    cli(prog_name="memento")


def _register() -> None:
    from .eval_cli import evaluate
    from .memory_cli import memory
    from .run_cli import chat, demo, run
    from .runs_cli import feedback, runs
    from .ui_cli import ui

    for command in (run, chat, feedback, runs, demo, evaluate, memory, ui):
        cli.add_command(command)


_register()


if __name__ == "__main__":
    main()
