"""Matplotlib's font list, built once outside the sandbox and lent read-only to every session.

Matplotlib scans the system's fonts the first time it runs with an empty config
folder; every sandbox has a fresh private /tmp, so without this each session's
first plot would pay for the scan. The scan runs a fixed one-line script with
the sandbox's interpreter, never user code, and sees only system fonts (which
are also visible inside the sandbox).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

__all__ = ["build_font_list", "font_list"]

log = logging.getLogger("memento.code")

_TIMEOUT_S = 300


def _folder(code_dir: Path) -> Path:
    return code_dir / "matplotlib"


def font_list(code_dir: Path) -> Path | None:
    """The newest font list built, if any."""
    found = sorted(_folder(code_dir).glob("fontlist-*.json"))
    return found[-1] if found else None


def build_font_list(code_dir: Path, python: str, path: str = "/usr/bin:/bin") -> None:
    """Build the font list if missing; failures (no matplotlib) are only logged. `path`: the PATH it runs with."""
    if font_list(code_dir) is not None:
        return
    folder = _folder(code_dir)
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": path,
        "HOME": str(folder),  # no user fonts: the sandbox cannot see them
        "XDG_DATA_HOME": str(folder / "data"),
        "MPLCONFIGDIR": str(folder),
        "MPLBACKEND": "Agg",
    }
    try:
        done = subprocess.run(
            [python, "-I", "-c", "import matplotlib.font_manager"],
            env=env,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("no matplotlib font list: %s", exc)
        return
    if done.returncode != 0:
        log.info("no matplotlib font list: %s", done.stderr.strip().splitlines()[-1:] or done.returncode)
