"""`memento ui`: serve the local web app over the run traces, the case memory and eval folders."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

__all__ = ["ui"]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (anything but loopback exposes your traces).")
@click.option("--port", type=click.IntRange(1, 65535), default=8710, show_default=True, help="Port to listen on.")
@click.option(
    "--evals",
    "eval_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="An eval folder, or a folder of them (repeatable; default ./evals).",
)
def ui(host: str, port: int, eval_dirs: tuple[Path, ...]) -> None:
    """Browse runs (live while they run), the case memory and eval results in a local web page.

    Opens nothing by itself: visit the address it prints. Ctrl-C stops it.
    """
    import uvicorn

    from memento.agent.settings import AgentSettings
    from memento.agent.ui.app import UIConfig, build_app

    if not _loopback(host):
        click.echo(f"Warning: listening on {host}: anyone who can reach it can read your runs and give feedback.", err=True)
    home = AgentSettings.from_env().home
    config = UIConfig(home=home, host=host, port=port, eval_dirs=list(eval_dirs) or [Path("evals")])
    server = uvicorn.Server(uvicorn.Config(build_app(config), host=host, port=port, log_level="warning", lifespan="on"))
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Memento UI on http://{shown}:{port}/ (traces in {home}); Ctrl-C stops it.", err=True)
    server.run()
