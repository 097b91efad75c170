"""A sealed eval: nothing but the task reaches the agent.

Retrieval leaves a task's own case out (unless the paper's self-recall is asked
for); each task reads only its own attachment; no tool reads the dataset, the
working folder or the memory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memento.memory import CaseBank, MemorySettings
from memento.memory.cases import case_id_for
from tests.memory_helpers import HashEmbedder

# ---- retrieval that leaves cases out ---------------------------------------------------------------


@pytest.mark.parametrize("policy", ["similarity", "q"])
def test_an_excluded_case_is_never_retrieved_and_k_others_still_come(tmp_path: Path, policy: str) -> None:
    settings = MemorySettings(home=tmp_path / "home", memory_online_steps=0)
    with CaseBank.open(settings, HashEmbedder()) as bank:
        own = "What is the capital of France?"
        others = ["What is the capital of Spain?", "What is the capital of Italy?", "Who wrote Hamlet?"]
        for task in [own, *others]:
            bank.record_episode(task, ["search"], "x", 1.0)
        everything = bank.retrieve(own, k=3, policy=policy)
        assert case_id_for(own) in everything.ids
        without = bank.retrieve(own, k=3, policy=policy, exclude=[case_id_for(own)])
        assert case_id_for(own) not in without.ids
        assert sorted(without.ids) == sorted(case_id_for(t) for t in others)
