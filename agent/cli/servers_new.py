"""`memento servers new NAME [--dir PATH]`: scaffold a standalone MCP server package that plugs into Memento.

The files come from `memento.agent.scaffold`, imported when the command runs; this module only parses and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["servers_new"]


@click.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to create (new or empty). Default: ./NAME.",
)
def servers_new(name: str, folder: Path | None) -> None:
    """Create the package of a new MCP server NAME, ready to install, test and check.

    NAME is lower case (letters, digits, single underscores), e.g. units. The
    folder gets:

    \b
      pyproject.toml            the package memento-NAME: its console script
                                memento-NAME, and the entry points through
                                which, once installed, the agent offers its
                                tools and `memento config` lists its settings
      mcp.json                  the host config entry that starts the server
      memento_NAME/server.py    build(settings): one typed example tool, echo,
                                paginated, raising errors the model reads, with
                                the probe `memento servers check` calls; main()
      memento_NAME/settings.py  NAMESettings: its MEMENTO_NAME_* variables
      memento_NAME/__main__.py  python -m memento_NAME, the same as the command
      memento_NAME/__init__.py  the package
      tests/test_server.py      tests in memory and one over stdio (integration)

    \b
    Then:
      pip install -e DIR
      pytest DIR
      memento servers check --config DIR/mcp.json

    It writes nothing when NAME is not valid or the folder is not empty.
    See docs/adding-a-server.md.
    """
    from memento.agent.scaffold import plan_scaffold, write_scaffold

    scaffold = plan_scaffold(name, folder if folder is not None else Path(name))
    for path in write_scaffold(scaffold):
        click.echo(f"wrote {path}")
    where = scaffold.folder
    click.echo(
        f"\nNext, in the environment Memento is installed in:\n"
        f"  {Path(sys.executable).name} -m pip install -e {where}\n"
        f"  {Path(sys.executable).name} -m pytest {where}\n"
        f"  memento servers check --config {where / 'mcp.json'}\n"
        "Once installed, `memento servers list` shows it and the agent offers its tools; no config to edit."
    )
