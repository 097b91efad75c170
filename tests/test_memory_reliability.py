"""The bank under concurrent writers and a kill in the middle of writing."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memento.memory import CaseBank, MemorySettings
from tests.memory_helpers import HashEmbedder, chroma_server

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def _writer(home: Path, prefix: str, count: int, url: str = "") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.memory_writer", str(home), prefix, str(count), *([url] if url else [])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def _two_writers_store_every_case(home: Path, url: str = "") -> None:
    writers = [_writer(home, prefix, 500, url) for prefix in ("alpha", "beta")]
    acknowledged: set[str] = set()
    for writer in writers:
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err.decode()[-2000:]
        acknowledged |= {line for line in out.decode().split() if line.startswith("case-")}
    assert len(acknowledged) == 1000
    with CaseBank.open(MemorySettings(home=home, chroma_url=url), HashEmbedder()) as bank:
        stored = {c.id: c for c in bank.iter_cases()}
    assert set(stored) == acknowledged
    assert all(c.task.split()[0] in ("alpha", "beta") and c.plan and c.answer for c in stored.values())


def test_two_processes_writing_500_cases_each_lose_nothing(tmp_path: Path) -> None:
    _two_writers_store_every_case(tmp_path / "home")


def test_two_processes_writing_to_a_chroma_server_lose_nothing(tmp_path: Path) -> None:
    with chroma_server(tmp_path / "server") as url:
        _two_writers_store_every_case(tmp_path / "home", url)


def test_a_writer_killed_mid_write_leaves_every_acknowledged_case(tmp_path: Path) -> None:
    home = tmp_path / "home"
    writer = _writer(home, "gamma", 100_000)
    acknowledged: list[str] = []
    buffer = b""
    deadline = time.monotonic() + 300
    assert writer.stdout is not None
    while len(acknowledged) < 150:
        ready, _, _ = select.select([writer.stdout], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, "the writer stopped acknowledging"
        chunk = os.read(writer.stdout.fileno(), 65536)
        assert chunk, writer.stderr.read().decode()[-2000:] if writer.stderr else "writer exited"
        *lines, buffer = (buffer + chunk).split(b"\n")
        acknowledged += [line.decode() for line in lines if line.startswith(b"case-")]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    for stream in (writer.stdout, writer.stderr):
        if stream is not None:
            stream.close()
    bank = CaseBank.open(MemorySettings(home=home), HashEmbedder())
    stored = {c.id for c in bank.iter_cases()}
    assert set(acknowledged) <= stored
    bank.record_episode("a new task after the crash", ["step"], "fine", 1.0)  # the bank still takes writes
    assert bank.count() == len(stored) + 1


def test_a_server_query_that_meets_an_unflushed_index_is_tried_again_and_other_errors_pass() -> None:
    from memento.memory.store import _SettlingReads

    class Flaky:
        name = "cases"

        def __init__(self, failures: list[Exception]) -> None:
            self.failures, self.calls = failures, 0

        def query(self, **kwargs: object) -> dict:
            self.calls += 1
            if self.failures:
                raise self.failures.pop(0)
            return {"ids": [["c1"]]}

    settling = Flaky([RuntimeError("Error creating hnsw segment reader: Nothing found on disk")] * 2)
    assert _SettlingReads(settling).query(n_results=1) == {"ids": [["c1"]]} and settling.calls == 3
    assert _SettlingReads(settling).name == "cases"  # everything else passes through
    other = Flaky([RuntimeError("collection does not exist")])
    with pytest.raises(RuntimeError, match="does not exist"):
        _SettlingReads(other).query(n_results=1)
    assert other.calls == 1
    stuck = Flaky([RuntimeError("Nothing found on disk")] * 9)
    with pytest.raises(RuntimeError, match="Nothing found"):
        _SettlingReads(stuck).query(n_results=1)
    assert stuck.calls == 5
