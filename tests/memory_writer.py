"""A separate process that writes cases into a bank and acknowledges each one on stdout.

python -m tests.memory_writer HOME PREFIX COUNT [CHROMA_URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

from memento.memory import CaseBank, MemorySettings
from tests.memory_helpers import HashEmbedder


def main(argv: list[str]) -> int:
    home, prefix, count = Path(argv[0]), argv[1], int(argv[2])
    url = argv[3] if len(argv) > 3 else ""
    bank = CaseBank.open(MemorySettings(home=home, chroma_url=url, memory_online_steps=0), HashEmbedder())
    print("ready", flush=True)
    for n in range(count):
        done = bank.record_episode(f"{prefix} task number {n} about topic {n * 7 % 13}", [f"step {n}"], f"answer {n}", (n % 2) * 1.0)
        print(done.case_id, flush=True)  # acknowledged: stored before this line is written
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
