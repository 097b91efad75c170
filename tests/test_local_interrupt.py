"""Ctrl-C while the real 0.5B local model is answering: `memento run` stops within seconds and leaves nothing running.

The run is interrupted while a model request is in flight (its process holds a
connection to its own in-process llama.cpp server); before the stream was
closed on cancellation, the server went on generating and held the exit up for
as long as 70 s under load. The weights come from the installed part packages.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.test_real_model import ROOT, TASK, demo_run, models_dir

__all__ = ["models_dir"]  # the fixture, re-used: the weights are assembled once per module

pytestmark = pytest.mark.integration

STOP_WITHIN_S = 10.0  # a couple of seconds on an idle machine; the margin is for 2 busy cores


def _requesting(process: psutil.Process) -> bool:
    """Whether the process has a connection open to a port it listens on itself: its llama.cpp server at work."""
    connections = process.net_connections(kind="tcp")
    listening = {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}
    return any(c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port in listening for c in connections)


@pytest.mark.timeout(900)
def test_an_interrupt_while_the_local_model_answers_stops_the_run_within_seconds_and_leaves_nothing_running(
    memento_home: Path, models_dir: Path
) -> None:
    env, models = demo_run(memento_home, models_dir)
    command = [sys.executable, "-m", "memento.agent.cli", "run", TASK, "--max-cycles", "1", "--max-steps", "3", *models, "-q"]
    run = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        process = psutil.Process(run.pid)
        deadline = time.monotonic() + 600  # assembling the weights and loading the model come first
        while not _requesting(process):
            assert run.poll() is None and time.monotonic() < deadline, "the run ended before asking its model anything"
            time.sleep(0.2)
        children = process.children(recursive=True)  # the MCP servers
        assert children
        interrupted = time.perf_counter()
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=120)
        seconds = time.perf_counter() - interrupted
        _, err = run.communicate()
        print(f"exited {code} {seconds:.1f} s after SIGINT")
        assert code == 130, err.decode()[-2000:]
        assert seconds < STOP_WITHIN_S, err.decode()[-2000:]
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, alive
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
