"""Reading an interpreter's stdout and stderr: each call's bytes, capped, up to the call's end marker.

A thread per pipe reads all the time, so a process printing without end never
blocks on a full pipe; bytes past the cap are counted and dropped, never kept.
Bytes that arrive outside any call are dropped too, except a short tail kept to
explain a start-up failure.
"""

from __future__ import annotations

import os
import threading

__all__ = ["Capture", "OutputPipe"]

_CHUNK = 1 << 16
_STRAY_TAIL = 4096


class Capture:
    """One call's output from one pipe."""

    def __init__(self, end: bytes, limit: int) -> None:
        self.end = end
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0
        self.eof = False
        self.done = threading.Event()
        self._carry = b""

    def feed(self, data: bytes) -> bool:
        """Take bytes; True once the end marker has been seen (what follows it is not this call's)."""
        buffer = self._carry + data
        found = buffer.find(self.end)
        if found >= 0:
            self._keep(buffer[:found])
            self._carry = b""
            self.done.set()
            return True
        # Hold back a possible start of the marker split across two reads.
        safe = max(0, len(buffer) - (len(self.end) - 1))
        self._keep(buffer[:safe])
        self._carry = buffer[safe:]
        return False

    def close(self) -> None:
        """The pipe ended before the marker: keep what came."""
        self._keep(self._carry)
        self._carry = b""
        self.eof = True
        self.done.set()

    def _keep(self, data: bytes) -> None:
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        return bytes(self.kept).decode("utf-8", "backslashreplace")


class OutputPipe:
    """Drains one pipe in a daemon thread and routes its bytes to the current capture."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self._lock = threading.Lock()
        self._capture: Capture | None = None
        self._stray = b""
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name=f"code-{name}", daemon=True)
        self._thread.start()

    def begin(self, end: bytes, limit: int) -> Capture:
        capture = Capture(end, limit)
        with self._lock:
            if self._closed:
                capture.close()
            else:
                self._capture = capture
        return capture

    def stray(self) -> str:
        """Bytes seen outside calls (e.g. bwrap's own error at start), for diagnostics."""
        with self._lock:
            return self._stray.decode("utf-8", "backslashreplace")

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, _CHUNK)
            except OSError:
                data = b""
            with self._lock:
                if not data:
                    self._closed = True
                    if self._capture is not None:
                        self._capture.close()
                        self._capture = None
                    break
                if self._capture is None:
                    self._stray = (self._stray + data)[-_STRAY_TAIL:]
                elif self._capture.feed(data):
                    self._capture = None
        try:
            os.close(self.fd)
        except OSError:
            pass

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
