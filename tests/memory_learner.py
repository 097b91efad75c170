"""A separate client of a shared case bank that records episodes showing given cases, so its Q-policy learns.

python -m tests.memory_learner HOME CHROMA_URL PREFIX COUNT CASE_ID[,CASE_ID…]
Prints how many transitions its last published Q version had learned from.
"""

from __future__ import annotations

import sys
from pathlib import Path

from memento.memory import CaseBank, MemorySettings
from tests.memory_helpers import HashEmbedder


def main(argv: list[str]) -> int:
    home, url, prefix, count, shown = Path(argv[0]), argv[1], argv[2], int(argv[3]), argv[4].split(",")
    settings = MemorySettings(home=home, chroma_url=url, memory_online_steps=2, memory_policy_refresh_s=0)
    with CaseBank.open(settings, HashEmbedder()) as bank:
        for n in range(count):
            done = bank.record_episode(
                f"{prefix} how long is river {n}?", ["search"], "km", float(n % 2), shown_case_ids=shown, followed_case_ids=shown
            )
            assert done.q_updated, "an online update was not published"
        print(bank.q.describe()["transitions_seen"], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
