"""Writing a whole file so that a reader sees the old content or the new, never half, even with writers in parallel.

Plain file I/O only: what the text is and where it goes is the caller's business.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["replace_file"]


def replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file of its own beside it, then rename it over `path`.

    Each writer's temporary file has a unique name, so two processes writing the same path at once each
    leave a whole file (the last rename wins); the temporary file is removed when anything fails.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)  # gone already when the rename succeeded
