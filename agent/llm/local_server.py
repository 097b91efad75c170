"""llama.cpp's OpenAI-compatible server, in this process through `xllamacpp`, one per model file and settings.

`serve` starts it on first use on a free 127.0.0.1 port and hands back its base
URL; planner, executor and judge of one process share it (one model in memory).
`shutdown` stops them all; at exit they are left to the process's end instead
(see `_release_at_exit`). It sends no request itself and never listens beyond loopback.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memento.core.errors import ModelFailed

__all__ = ["ServerKey", "default_threads", "running", "serve", "shutdown"]

log = logging.getLogger(__name__)

_MAX_DEFAULT_THREADS = 8


@dataclass(frozen=True)
class ServerKey:
    """What makes two servers different: the model file and how it is loaded."""

    model: Path
    threads: int
    context_tokens: int


_lock = threading.Lock()
_servers: dict[ServerKey, tuple[Any, str]] = {}  # key → (xllamacpp.Server, base URL)


def default_threads() -> int:
    """The machine's cores, at most 8 (more rarely helps a small model and starves everything else)."""
    return max(1, min(os.cpu_count() or 1, _MAX_DEFAULT_THREADS))


def serve(key: ServerKey) -> str:
    """The base URL (`http://127.0.0.1:PORT/v1`) of the server for `key`, started now if it is not running.

    Blocks while the model loads (seconds): call it from a worker thread in async code.
    """
    with _lock:
        if key in _servers:
            return _servers[key][1]
        server = _start(key)
        address = str(server.listening_address).rstrip("/")
        if not address.startswith("http://127.0.0.1:"):
            del server
            raise ModelFailed(f"The local model server listened on {address!r}, not on 127.0.0.1; it was stopped.")
        _servers[key] = (server, f"{address}/v1")
        log.info("local model %s serving on %s (%d threads, %d context)", key.model.name, address, key.threads, key.context_tokens)
        return _servers[key][1]


def running() -> list[ServerKey]:
    """The servers this process runs now."""
    with _lock:
        return list(_servers)


def shutdown() -> None:
    """Stop every local model server of this process and free its memory (safe to call twice)."""
    with _lock:
        stopped = list(_servers)
        _servers.clear()
    if stopped:
        # xllamacpp stops the HTTP server and frees the model when its Server object is destroyed.
        gc.collect()
        log.info("stopped %d local model server(s)", len(stopped))


def _release_at_exit() -> None:
    """Let the process's end stop the servers rather than their destructors, which join a thread that finishes the
    request at hand first: llama.cpp does not stop a request whose client left, so after Ctrl-C mid-answer the exit
    waited for the rest of that answer (24-70 s measured under load; 0.5 s this way, and exit code 130 kept)."""
    with _lock:
        held = [server for server, _ in _servers.values()]
        _servers.clear()
    for server in held:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(server))  # never freed, so never joined; the OS takes it all back


atexit.register(_release_at_exit)


def _start(key: ServerKey) -> Any:
    try:
        import xllamacpp
    except ImportError as exc:  # a broken install: the package is a declared dependency
        raise ModelFailed("The local model runtime (xllamacpp) is not installed: run `pip install xllamacpp`.") from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(key.model)
    params.n_ctx = key.context_tokens
    params.n_parallel = 1  # one slot with the whole context: the roles of a run call one after another
    params.cpuparams.n_threads = key.threads
    params.cpuparams_batch.n_threads = key.threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port, chosen by the system
    params.ui = False
    params.verbosity = -1  # llama.cpp's own logging is loud; failures still come back as errors
    try:
        return xllamacpp.Server(params)
    except Exception as exc:  # the runtime raises plain RuntimeErrors for a bad file or too little memory
        raise ModelFailed(f"The local model {key.model.name} could not be started: {type(exc).__name__}: {exc}"[:400]) from exc
