"""What the sandboxed kernel needs besides its loop: the framing it shares with the server, the end
marker of a call's output, capped output streams, and the list of a process's descendants.

Standard library only: it is mounted in the sandbox beside kernel.py. The server imports the framing
from here, never the kernel itself.
"""

from __future__ import annotations

import io
import json
import os
import struct

__all__ = ["MAX_FRAME", "HEADER", "CappedRaw", "descendants", "marker", "read_frame", "text_stream", "write_frame"]

HEADER = struct.Struct("!I")
MAX_FRAME = 64 * 1024**2  # requests (code) and replies alike; the server holds replies to a tighter limit of its own


def write_frame(fd: int, message: dict) -> None:
    payload = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    data = memoryview(HEADER.pack(len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_exact(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict:
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if size > MAX_FRAME:
        raise EOFError(f"frame of {size} bytes is over the {MAX_FRAME}-byte limit")
    return json.loads(read_exact(fd, size).decode("utf-8", "surrogatepass"))


def marker(nonce: str) -> bytes:
    """The bytes that end a call's output on fds 1 and 2."""
    return f"\x1e<<memento-end {nonce}>>\x1e".encode()


class CappedRaw(io.RawIOBase):
    """Writes to a pipe until `limit` bytes per call, then only counts: printing 1 GB costs no transfer."""

    def __init__(self, fd: int, limit: int) -> None:
        super().__init__()
        self.fd = fd
        self.limit = limit
        self.sent = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        size = len(data)
        room = self.limit - self.sent
        if room <= 0:
            self.dropped += size
            return size
        view = memoryview(data)[:room]
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        kept = min(size, room)
        self.sent += kept
        self.dropped += size - kept
        return size


def text_stream(raw: CappedRaw) -> io.TextIOWrapper:
    # Bad bytes must never break printing; line buffering keeps order with subprocess output.
    return io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding="utf-8", errors="backslashreplace", line_buffering=True)


def descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
