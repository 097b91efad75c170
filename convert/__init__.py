"""Documents and web pages to Markdown: one conversion library for every server that reads content.

Format detection (`detect`), the format readers (`formats/`, one module per
family, incl. `formats.markup.html_to_markdown`), the document model (`model`),
passages and their ranking (`passages`), transcription (`transcribe`), captions
read as timed segments (`captions`) and the bounded worker processes conversions
run in (`worker`). It depends only on `memento.core` and third-party packages:
it knows no server, no settings object and no MCP; callers pass limits in as
arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .detect import detect_format, zip_member_names
from .formats import Blob, ConvertOptions, Extracted, convert, convert_member
from .model import Document, Picture, Section
from .passages import Passage, chunk, rank_passages

if TYPE_CHECKING:
    from .worker import WorkerPool


def __getattr__(name: str) -> Any:
    # Not imported with the package: a worker runs as `python -m memento.convert.worker`, and runpy warns when
    # the package has already imported the module it is about to run (and the worker would load it twice).
    if name == "WorkerPool":
        from .worker import WorkerPool

        return WorkerPool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Blob",
    "ConvertOptions",
    "Extracted",
    "convert",
    "convert_member",
    "detect_format",
    "zip_member_names",
    "Document",
    "Picture",
    "Section",
    "Passage",
    "chunk",
    "rank_passages",
    "WorkerPool",
]
