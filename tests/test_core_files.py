"""core.files.replace_file: a whole file for every reader, also with writers in parallel."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from memento.core.files import replace_file


def test_writers_in_parallel_each_leave_a_whole_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "listing.json"
    bodies = [str(n) * 200_000 for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda body: replace_file(path, body), bodies))
    assert path.read_text(encoding="utf-8") in bodies
    assert [p.name for p in tmp_path.iterdir()] == ["listing.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    replace_file(path, "old")
    with pytest.raises(UnicodeEncodeError):
        replace_file(path, "half \udcff")  # a lone surrogate cannot be written as UTF-8
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
