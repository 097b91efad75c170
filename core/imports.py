"""Import-time guards the agent and the servers share: what they never use is not loaded on their start-up path.

Called from a package's `__init__`, before anything of it imports the library concerned; it changes no behaviour.
"""

from __future__ import annotations

import sys

__all__ = ["skip_httpx_cli"]


def skip_httpx_cli() -> None:
    """Keep httpx from importing its command-line client (rich, pygments, click: about half of httpx's import).

    Marked absent before httpx is first imported, httpx skips it; once httpx is loaded (a host process that
    imported it first) this is moot. Nothing in Memento uses the `httpx` command.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "absent", to the import system
