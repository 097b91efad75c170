"""One running interpreter (the kernel) seen from the server: start it, call it within limits, stop it.

Requests go down a pipe, replies come back on another, stdout and stderr are
drained by `OutputPipe`s. The server keeps the wall clock: at the deadline it
interrupts the call, and if the code does not yield within a grace period it
kills the whole sandbox (every process in it dies with it).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import queue
import secrets
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from memento.servers.common.errors import ServerError

from .kernel_io import HEADER, MAX_FRAME, marker, write_frame
from .output import Capture, OutputPipe
from .sandbox import Launch

__all__ = ["CallOutcome", "Interpreter", "Spawner", "StartFailed"]

log = logging.getLogger("memento.code")

_TICK_S = 0.05  # how often a running call checks its deadline and its workspace
_MAX_TICK_S = 0.25  # however big the workspace: what a call can write past its quota is what it writes in this time
_INTERRUPT_GRACE_S = 2.0  # time the code gets to yield after an interrupt before the sandbox is killed
_MARKER_WAIT_S = 2.0  # time the output of a finished call may take to arrive
_START_TIMEOUT_S = 60.0


class StartFailed(ServerError):
    """The interpreter did not start; `reason` is one line (never a traceback)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The session's interpreter could not start ({reason}).")
        self.reason = reason


class Spawner:
    """Starts processes from one long-lived thread.

    A parent-death signal fires when the *thread* that started a process ends; starting
    interpreters from short-lived worker threads would kill them at random.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, name="code-spawner", daemon=True).start()

    def popen(self, *args, **kwargs) -> subprocess.Popen:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._requests.put((future, args, kwargs))
        return future.result()

    def _loop(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            future, args, kwargs = item
            try:
                future.set_result(subprocess.Popen(*args, **kwargs))
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

    def close(self) -> None:
        self._requests.put(None)


@dataclass
class CallOutcome:
    reply: dict | None  # None when the interpreter gave no answer
    stdout: Capture
    stderr: Capture
    stopped: str | None = None  # why the server stopped the call ("timeout", or the watchdog's reason)
    restarted: bool = False  # the interpreter died or was killed: variables are lost
    exit_status: str | None = None  # how it ended, when it did
    elapsed_s: float = 0.0


class OversizedReply(ServerError):
    """The kernel announced a reply larger than the server accepts (an honest kernel never does).

    Like a closed pipe it ends the conversation with that kernel, so whoever catches
    `EOFError` from the reply reader catches this too (`_GONE`).
    """


# What the reply reader raises when no more replies can come from a kernel.
_GONE = (EOFError, OversizedReply)


class _Replies:
    """Reads reply frames with a timeout, refusing any frame over `limit` bytes before reading it."""

    def __init__(self, fd: int, limit: int = MAX_FRAME) -> None:
        self.fd = fd
        self.limit = limit
        self.buffer = bytearray()

    def next(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                return None
            data = os.read(self.fd, 1 << 20)
            if not data:
                raise EOFError("the interpreter closed its reply pipe")
            self.buffer += data

    def _parse(self) -> dict | None:
        if len(self.buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack(self.buffer[: HEADER.size])
        if size > self.limit:
            raise OversizedReply(f"the interpreter announced a reply of {size:,} bytes, over the server's {self.limit:,}-byte limit")
        if len(self.buffer) < HEADER.size + size:
            return None
        payload = bytes(self.buffer[HEADER.size : HEADER.size + size])
        del self.buffer[: HEADER.size + size]
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise EOFError("garbled reply") from exc


class Interpreter:
    """A kernel process, sandboxed or not, with its pipes."""

    def __init__(self, launch: Launch, spawner: Spawner, max_output: int, plain: bool, max_reply: int = MAX_FRAME) -> None:
        self.max_output = max_output
        self._ids = 0
        req_r, self._req_w = os.pipe()
        self._rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        config = json.loads(launch.argv[-1])
        config["reply_fd"] = rep_w
        argv = [*launch.argv[:-1], json.dumps(config)]
        try:
            self.process = spawner.popen(
                argv,
                stdin=req_r,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(rep_w, *launch.pass_fds),
                env=launch.env,
                cwd=launch.cwd,
                start_new_session=plain,  # unsandboxed: its own process group, for killpg
            )
        except OSError as exc:
            for fd in (req_r, rep_w, out_w, err_w, self._req_w, self._rep_r, out_r, err_r):
                os.close(fd)
            raise StartFailed(str(exc)) from exc
        finally:
            launch.close_fds()
        for fd in (req_r, rep_w, out_w, err_w):
            os.close(fd)
        self.plain = plain
        self.stdout = OutputPipe(out_r, "stdout")
        self.stderr = OutputPipe(err_r, "stderr")
        self._replies = _Replies(self._rep_r, min(max_reply, MAX_FRAME))
        self._closed = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self.process.poll() is None

    def wait_ready(self) -> None:
        """Wait for the kernel's first frame; raise `StartFailed` with one line saying why it did not come."""
        try:
            ready = self._replies.next(_START_TIMEOUT_S)
        except _GONE:
            ready = None
        if ready and ready.get("op") == "ready":
            return
        self.kill()
        self.stderr.join(1.0)
        if ready and ready.get("op") == "failed":
            reason = str(ready.get("error"))[:500]
        else:  # bwrap or Python failed before the kernel could say: the last line of what they printed
            lines = [line.strip() for line in self.stderr.stray().splitlines() if line.strip()]
            reason = (lines[-1][:500] if lines else "") or self.exit_status() or "no answer"
        raise StartFailed(reason)

    def call(self, request: dict, timeout_s: float, watchdog: Callable[[], str | None] | None = None) -> CallOutcome:
        """Run one request; never raises for what the code does, only reports it."""
        self._ids += 1
        call_id = self._ids
        nonce = secrets.token_hex(8)
        end = marker(nonce)
        outcome = CallOutcome(None, self.stdout.begin(end, self.max_output), self.stderr.begin(end, self.max_output))
        started = time.monotonic()
        try:
            write_frame(self._req_w, {**request, "id": call_id, "nonce": nonce})
            outcome.reply = self._wait(call_id, started + timeout_s, watchdog, outcome)
        except OversizedReply as exc:
            log.warning("interpreter %d: %s; stopped", self.pid, exc)
            outcome.stopped = f"{exc}, so it was stopped"
            outcome.restarted = True
        except (EOFError, OSError) as exc:
            log.info("interpreter %d ended during a call: %s", self.pid, exc)
            outcome.restarted = True
        if outcome.reply is None:
            outcome.restarted = True
            self.kill(wait_s=0.0 if outcome.stopped else 1.0)  # let one that is ending say how it ended
            outcome.exit_status = self.exit_status()
        for capture in (outcome.stdout, outcome.stderr):
            capture.done.wait(_MARKER_WAIT_S)
        outcome.elapsed_s = time.monotonic() - started
        return outcome

    def _wait(self, call_id: int, deadline: float, watchdog, outcome: CallOutcome) -> dict | None:
        tick = _TICK_S
        while True:
            reply = self._replies.next(max(0.0, min(tick, deadline - time.monotonic())))
            if reply is not None and reply.get("id") == call_id:
                return reply
            if time.monotonic() >= deadline:
                outcome.stopped = "timeout"
                break
            if watchdog is not None:
                began = time.monotonic()
                reason = watchdog()
                if reason:
                    outcome.stopped = reason
                    self._stop_writing()
                    break
                # Check often, but never spend more than a third of the time checking a big workspace.
                tick = min(_MAX_TICK_S, max(_TICK_S, 3 * (time.monotonic() - began)))
        write_frame(self._req_w, {"op": "interrupt", "id": call_id})
        grace = time.monotonic() + _INTERRUPT_GRACE_S
        while time.monotonic() < grace:
            reply = self._replies.next(grace - time.monotonic())
            if reply is not None and reply.get("id") == call_id:
                return reply
        return None

    def _stop_writing(self) -> None:
        """Over the workspace quota: no process of the sandbox may grow a file from now on, at once.

        The interrupt that follows takes a moment to land; meanwhile writes fail with EFBIG. The kernel
        sets the limit again at its next call, from the room left.
        """
        import resource

        for pid in _process_tree(self.pid):
            try:
                _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))
            except OSError:  # gone already, or not ours to change
                continue

    def request(self, message: dict, timeout_s: float = 10.0) -> dict | None:
        """A small request with no user code (e.g. refresh the package path)."""
        self._ids += 1
        try:
            write_frame(self._req_w, {**message, "id": self._ids})
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                reply = self._replies.next(deadline - time.monotonic())
                if reply is not None and reply.get("id") == self._ids:
                    return reply
        except (*_GONE, OSError):
            pass
        return None

    def exit_status(self) -> str | None:
        code = self.process.poll()
        if code is None:
            return None
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        if code > 128 and code - 128 in signal.valid_signals():
            return f"killed by {signal.Signals(code - 128).name}"
        return f"exit status {code}"

    def kill(self, wait_s: float = 0.0) -> None:
        """Stop the interpreter and everything it started (after `wait_s` for it to end by itself)."""
        if wait_s:
            try:
                self.process.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            try:
                if self.plain:
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:
                    self.process.kill()  # bwrap: its PID namespace, and every process in it, dies with it
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("interpreter %d did not exit after SIGKILL", self.process.pid)
        if not self._closed:
            self._closed = True
            for fd in (self._req_w, self._rep_r):
                try:
                    os.close(fd)
                except OSError:
                    pass


def _process_tree(root: int) -> list[int]:
    """`root` and every process below it, from /proc (host process ids)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    todo.extend(int(child) for child in handle.read().split())
            except (OSError, ValueError):
                continue
    return found
