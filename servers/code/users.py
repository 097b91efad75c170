"""Sandbox users when the server runs as root: each live session runs as a user id of its own.

The process limit (RLIMIT_NPROC) counts every process of a user on the host, so sessions sharing one user
would share one budget, across servers too. A user id from `MEMENTO_CODE_UID_RANGE` is taken by binding an
abstract Unix socket named after it: exclusive for every server on the host (in one network namespace),
and freed by the kernel if the server dies. This module only hands out numbers; it starts nothing.
"""

from __future__ import annotations

import errno
import socket
import threading
import zlib
from dataclasses import dataclass, field

from memento.servers.common.errors import ServerError

__all__ = ["SandboxUsers", "UserLease"]

_PREFIX = "memento-code-uid-"


@dataclass
class UserLease:
    """One user id, held until `release()`."""

    uid: int
    _holder: socket.socket | None = field(repr=False)

    def release(self) -> None:
        if self._holder is not None:
            self._holder.close()
            self._holder = None


class SandboxUsers:
    """Hands out the user ids of a range, one per live session, host-wide."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def take(self, key: str) -> UserLease:
        """A free user id; a session usually gets the same one again, so its files rarely change owner."""
        start = zlib.crc32(key.encode()) % self.size
        with self._lock:
            for step in range(self.size):
                uid = self.first + (start + step) % self.size
                holder = _claim(uid)
                if holder is not None:
                    return UserLease(uid, holder)
        raise ServerError(
            f"All {self.size} sandbox user ids ({self.first}-{self.last}, MEMENTO_CODE_UID_RANGE) are in use by running "
            "sessions on this machine. Try again when one has finished, reset_session one you no longer need, or ask the "
            "operator for a larger MEMENTO_CODE_UID_RANGE."
        )


def _claim(uid: int) -> socket.socket | None:
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        holder.bind(f"\0{_PREFIX}{uid}")
    except OSError as exc:
        holder.close()
        if exc.errno == errno.EADDRINUSE:
            return None
        raise
    return holder
