"""Shared helpers of the benchmark scripts: machine description, percentiles,
a temporary folder of generated documents and the parameters that start the
documents server on stdio with that folder as its only root."""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # scripts run as `python bench/NAME.py`; tests/docgen.py lives beside bench/
    sys.path.insert(0, str(ROOT))

from mcp.client.stdio import StdioServerParameters  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def print_header(title: str) -> None:
    """Title, date and machine, printed at the top of every benchmark."""
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    print(f"== {title}")
    print(f"date:    {now}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    print(f"python:  {platform.python_implementation()} {platform.python_version()} ({sys.executable})")
    print()


def percentile(values: list[float], p: float) -> float:
    """p-th percentile (0-100) with linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 10 else f"{value:,.1f} ms"


@contextmanager
def doc_dir(*makers: str):
    """A temporary folder holding the documents made by the named tests.docgen generators."""
    from tests import docgen

    with tempfile.TemporaryDirectory(prefix="memento-bench-") as tmp:
        folder = Path(tmp)
        (folder / "home").mkdir()
        for name in makers:
            getattr(docgen, name)(folder)
        yield folder


def server_params(folder: Path) -> StdioServerParameters:
    """Start the documents server on stdio, reading only `folder`, quiet and with its state in the folder."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MEMENTO_DOCUMENTS_ROOTS": str(folder),
        "MEMENTO_HOME": str(folder / "home"),
        "MEMENTO_LOG_LEVEL": "WARNING",
    }
    return StdioServerParameters(command=sys.executable, args=["-m", "memento.servers.documents"], env=env, cwd=str(folder))
