"""Memento's MCP tool servers: one package per server, plus `common`.

Nothing here but one import-time guard, which must run before any server module imports httpx.
"""

import sys

# httpx's package imports its command-line client when it can (rich, pygments, click: over half of httpx's
# import time), and no server uses it. Marked absent before httpx is first imported, httpx skips it and a
# server answers tools/list that much sooner. Once httpx is loaded (a host process importing us) this is moot.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "absent", to the import system
