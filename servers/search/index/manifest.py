"""What the index holds: for each source its size, mtime and content hash, plus the roots and URLs built.

Kept as JSON beside the tantivy files and replaced atomically after each commit,
so an interrupted build at worst redoes some files (stale sections are deleted
by source before a file is added again, so nothing is indexed twice).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Manifest", "VERSION"]

VERSION = 1  # bump when the schema changes: an older index is then rebuilt from scratch


@dataclass
class Manifest:
    version: int = VERSION
    roots: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    built: str | None = None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        """The manifest at `path`, or None when it is missing, unreadable or from another version."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (OSError, ValueError, TypeError):
            return None
        return manifest if manifest.version == VERSION else None

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, path)
