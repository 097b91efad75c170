"""The `memento` group: where each command lives, and the one place CLI failures become `Error: …`.

A command's module is imported only when that command is named (or listed by
`--help`); this module imports click alone and none of the command modules.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["COMMANDS", "cli", "main"]

# Command name → "module:attribute" inside this package. Adding a command touches this table and its module.
COMMANDS = {
    "chat": "run:chat",
    "config": "config:config_cmd",
    "demo": "run:demo",
    "eval": "evaluate:evaluate",
    "feedback": "runs:feedback",
    "index": "index:index_cmd",
    "memory": "memory:memory",
    "run": "run:run",
    "runs": "runs:runs",
    "servers": "servers:servers",
    "ui": "ui:ui",
}


class _MementoGroup(click.Group):
    """Commands load on demand; a `MementoError` becomes `Error: …` and exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(f"{__package__}.{module}"), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Imported here, not at the top: memento.core brings pydantic, which `memento --help` does not need.
            from memento.core.errors import MementoError
            from memento.core.secrets import scrub_text

            if isinstance(exc, MementoError):
                # A message may quote what a vendor or a tool echoed back: keys are masked before it is shown.
                raise click.ClickException(scrub_text(str(exc))) from None
            raise


@click.group(cls=_MementoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="memento-agent")
def cli() -> None:
    """Memento: MCP tool servers and a deep-research agent that learns from experience."""


def main() -> None:
    cli(prog_name="memento")
