"""Conversions run in worker processes with a time and memory bound.

A malformed file can make a reader loop forever or allocate without end; in a
worker that costs one process, not the server. Each worker is a fresh
`python -m memento.convert.worker` that caps its own address space
(RLIMIT_AS); the parent waits at most the time limit and then kills it, and a
new worker replaces any that died. Calls and replies are pickled frames on the
worker's stdin and a private copy of its stdout (its fd 1 points at stderr, so
a reader's stray print cannot corrupt a frame). Failures come back as the
same `ServerError` classes the tools raise.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from typing import IO, Any

import anyio
import anyio.to_thread

from memento.core import errors
from memento.core.errors import ConversionFailed, ServerError, TimedOut

__all__ = ["WorkerPool"]

log = logging.getLogger("memento.convert")
_HEADER = struct.Struct("!Q")


class _WorkerDied(errors.MementoError):
    """Internal: the worker's pipe ended; the parent reports it as ConversionFailed."""


def _write_frame(stream: IO[bytes], value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise _WorkerDied("pipe closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(stream: IO[bytes]) -> Any:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))


def _serve(memory_limit: int, memory_setting: str) -> None:
    """Worker side: answer calls until stdin closes."""
    import resource

    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    importlib.import_module("memento.convert.formats")
    _write_frame(replies, "ready")  # start-up time is not conversion time: the parent waits for this first
    while True:
        try:
            target, args = _read_frame(requests)
        except _WorkerDied:
            return
        try:
            module_name, func_name = target.split(":")
            reply: tuple[Any, ...] = ("ok", getattr(importlib.import_module(module_name), func_name)(*args))
        except ServerError as exc:
            reply = ("error", type(exc).__name__, str(exc))
        except MemoryError:
            reply = ("error", "TooLarge", _memory_message(memory_limit, memory_setting))
        except RecursionError:
            reply = ("error", "ConversionFailed", "The document is nested too deeply to convert.")
        except Exception as exc:  # a reader's own error on bad input
            reply = ("error", "ConversionFailed", f"The document could not be converted ({type(exc).__name__}: {exc}).")
        try:
            _write_frame(replies, reply)
        except MemoryError:
            _write_frame(replies, ("error", "TooLarge", _memory_message(memory_limit, memory_setting)))


def _memory_message(limit: int, setting: str) -> str:
    return f"The conversion needed more than the {limit / 1024**2:,.0f} MiB memory limit ({setting}) and was stopped."


_START_TIMEOUT_S = 60


class _Worker:
    def __init__(self, memory_limit: int, settings_prefix: str) -> None:
        self.settings_prefix = settings_prefix
        self.process = subprocess.Popen(
            [sys.executable, "-m", "memento.convert.worker", str(memory_limit), f"{settings_prefix}_MEMORY_LIMIT"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the server's stderr: worker warnings land in its log
            close_fds=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], _START_TIMEOUT_S)
        try:
            if not ready or _read_frame(self.process.stdout) != "ready":
                raise _WorkerDied("no ready signal")
        except (_WorkerDied, OSError, EOFError, pickle.UnpicklingError) as exc:
            self.kill()
            raise ConversionFailed(
                f"The conversion worker could not start (exit status {self.process.poll()}); see the server log."
            ) from exc

    def call(self, target: str, args: tuple[Any, ...], timeout_s: float) -> Any:
        """Blocking call; kills the worker and raises on timeout or crash."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            _write_frame(self.process.stdin, (target, args))
            ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
            if not ready:
                self.kill()
                raise TimedOut(
                    f"The conversion took longer than {timeout_s:g} s ({self.settings_prefix}_TIMEOUT_S) and was "
                    "stopped. The file may be malformed or very large; try a page range or a smaller file."
                )
            reply = _read_frame(self.process.stdout)
        except (_WorkerDied, OSError, EOFError, pickle.UnpicklingError) as exc:
            code = self.process.poll()
            self.kill()
            raise ConversionFailed(
                f"The conversion worker died (exit status {code}) while reading this file; it is probably corrupt "
                "or too large for the memory limit. The server is fine and other files can be read."
            ) from exc
        if reply[0] == "ok":
            return reply[1]
        _, kind, message = reply
        error_type = getattr(errors, kind, ConversionFailed)
        if not (isinstance(error_type, type) and issubclass(error_type, ServerError)):
            error_type = ConversionFailed
        raise error_type(message)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("conversion worker %d did not exit after SIGKILL", self.process.pid)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class WorkerPool:
    """At most `size` conversions at once, each in its own bounded process.

    `settings_prefix` names the caller's settings in messages: a timeout names
    `{prefix}_TIMEOUT_S`, running out of memory `{prefix}_MEMORY_LIMIT`.
    """

    def __init__(self, size: int, memory_limit: int, timeout_s: float, *, settings_prefix: str) -> None:
        self.size = size
        self.settings_prefix = settings_prefix
        self.memory_limit = memory_limit
        self.timeout_s = timeout_s
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._busy: set[_Worker] = set()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    self._busy.add(worker)
                    return worker
            worker = _Worker(self.memory_limit, self.settings_prefix)
            self._busy.add(worker)
            return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if worker.alive and not self._closed:
                self._idle.append(worker)
                return
        worker.kill()

    def call_blocking(self, target: str, *args: Any, timeout_s: float | None = None) -> Any:
        with self._slots:
            worker = self._take()
            try:
                return worker.call(target, args, timeout_s or self.timeout_s)
            finally:
                self._give_back(worker)

    async def call(self, target: str, *args: Any, timeout_s: float | None = None) -> Any:
        """Run `module:function(*args)` in a worker and return its result."""
        return await anyio.to_thread.run_sync(lambda: self.call_blocking(target, *args, timeout_s=timeout_s))

    def warm(self) -> None:
        """Start a worker ahead of the first call; a failure here is only logged (the call will retry)."""
        try:
            self._give_back(self._take())
        except ServerError as exc:
            log.warning("could not start a conversion worker ahead of time: %s", exc)

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in [*self._idle, *self._busy] if w.alive]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle, self._busy = [], set()
        for worker in workers:
            worker.kill()


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0, sys.argv[2] if len(sys.argv) > 2 else "the memory limit setting")
