"""Logging to stderr only: a stdio server's stdout carries the protocol and nothing else.

Every record passes the project's secret scrubber first, whichever library logged it.
"""

from __future__ import annotations

import logging
import sys

from memento.core.secrets import SecretsFilter

__all__ = ["configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr, replacing handlers libraries may have set."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
    handler.addFilter(SecretsFilter())  # a URL with a key, an echoed header: masked before it is written
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Per-request chatter from the HTTP stack drowns the useful lines.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "mcp.server.lowlevel.server", "sse_starlette"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
