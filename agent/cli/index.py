"""`memento index build|status`: the search server's local index, through its own command line.

The arguments pass through untouched; the search server's index module parses them.
"""

from __future__ import annotations

import click

__all__ = ["index_cmd"]


@click.command(
    "index",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def index_cmd(args: tuple[str, ...]) -> None:
    """Build or inspect the local search index (memento index build PATH_OR_URL... | memento index status)."""
    from memento.servers.search.index_cli import main as index_main

    raise SystemExit(index_main(list(args)))
