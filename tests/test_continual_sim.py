"""The continual-learning simulation (`bench/continual.py`) runs end to end through the real case bank.

Only its structure is checked here: a value per pass per design, rates between 0 and 1, the PNG written,
the same seed giving the same figures. Which design comes out ahead is the benchmark's finding, reported
in bench/README.md; a test must not pin it.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from memento.memory.embeddings import LocalEmbedder

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "bench"
METRICS = ("held_out", "training", "guided", "misleading", "covered", "q_active")
# 8 tasks, k=4, 2 passes: Q learns only from the cases an episode followed (at most one per episode here), so the
# first test lets Q take over after 4 of them (MEMENTO_MEMORY_MIN_TRANSITIONS), during the second pass.
# The banks draw Q's replay samples from a generator seeded by the world's seed, so runs repeat exactly.
TINY = {"tasks": 8, "held_out": 4, "iterations": 2, "k": 4}


@pytest.fixture
def continual(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))  # the script imports `_common` from beside itself
    return importlib.import_module("continual")


def test_the_simulation_gives_a_rate_per_pass_per_design_and_draws_the_curves(
    continual: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMENTO_MEMORY_MIN_TRANSITIONS", "4")
    out = tmp_path / "plots" / "continual.png"
    curves_json = tmp_path / "plots" / "continual.json"
    argv = ["--tasks", "8", "--held-out", "4", "--iterations", "2", "--seeds", "1", "--seed-start", "5", "--k", "4"]
    curves = continual.main([*argv, "--out", str(out), "--workdir", str(tmp_path), "--json", str(curves_json)])

    assert set(curves) == {"none", "similarity", "q"}
    for design, found in curves.items():
        assert len(found.runs) == 1, design
        for metric in METRICS:
            values = found.values(metric)
            assert values.shape == (1, 2), (design, metric)
            assert ((values >= 0) & (values <= 1)).all(), (design, metric)
    assert not curves["none"].values("guided").any()  # no case is ever shown without memory
    assert all(run.q_ready_after is not None for run in curves["q"].runs)  # the real Q policy ranked cases
    assert curves["q"].values("q_active")[0, 1] > 0
    assert out.read_bytes().startswith(b"\x89PNG")
    printed = capsys.readouterr().out
    assert "not a model benchmark" in printed
    assert "held-out tasks, success rate after each pass" in printed
    assert list(tmp_path.iterdir()) == [out.parent]  # the banks lived in a temporary folder, now gone
    saved = json.loads(curves_json.read_text())
    assert saved["designs"]["q"][0]["seed"] == 5 and saved["designs"]["q"][0]["held_out"] == list(curves["q"].values("held_out")[0])
    assert "q − similarity on held-out tasks, paired by seed" in printed and "95% CI" in printed


def test_the_same_seed_gives_the_same_figures(continual: ModuleType, tmp_path: Path) -> None:
    embedder = LocalEmbedder()
    first = continual.simulate(seeds=[3], workdir=tmp_path, embedder=embedder, **TINY)
    second = continual.simulate(seeds=[3], workdir=tmp_path, embedder=embedder, **TINY)
    for design in first:
        for metric in METRICS:
            assert np.array_equal(first[design].values(metric), second[design].values(metric)), (design, metric)
        assert [r.q_ready_after for r in first[design].runs] == [r.q_ready_after for r in second[design].runs]
