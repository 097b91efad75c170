"""Run every benchmark script in this folder in sequence, each in its own process with this
interpreter, and print their outputs; the exit status is non-zero if any of them failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "documents_cold_start.py",
    "servers_cold_start.py",
    "documents_roundtrip.py",
    "documents_pdf.py",
    "documents_http_sessions.py",
    "documents_transcribe.py",
    "documents_render.py",
    "code_run.py",
    "search_local_index.py",
    "search_many.py",
    "browse_fetch.py",
    "browse_quality.py",
    "browse_extraction.py",
    "memory_retrieval.py",
    "embeddings_cold.py",
    "qfunction_eval.py",
    "continual.py",
    "agent_hub.py",
    "agent_step.py",
    "agent_memory.py",
    "startup.py",
    "eval_harness.py",
    "local_model.py",  # about a minute on 2 idle cores (both models, 1 and 2 threads)
]


def run(script: str) -> int:
    sys.stdout.flush()
    code = subprocess.run([sys.executable, str(HERE / script)]).returncode  # shares our stdout and stderr
    if code:
        print(f"!! {script} failed (exit status {code})")
    print(flush=True)
    return code


def main() -> int:
    failures = [script for script in SCRIPTS if run(script)]
    if failures:
        print(f"failed: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
