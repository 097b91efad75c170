"""The server's own access to a session's files, from outside the sandbox, without ever leaving it.

The sandboxed code owns these folders and may plant symbolic links to anything
(`/etc/shadow`, `../../`), so every path is resolved here the way the sandbox
would see it, refusing any way out, and then opened component by component with
O_NOFOLLOW, so a link swapped in meanwhile fails instead of being followed.
Also: snapshots to tell which files a call created or changed, and sizes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from memento.servers.common.errors import AccessDenied, InvalidInput, NotFound

__all__ = ["Changes", "Entry", "Root", "Usage", "changes", "hand_over", "snapshot", "total_size", "usage"]

_MAX_LINKS = 40
_WALK_LIMIT = 20_000  # entries a snapshot looks at; past this, changes deeper in are not reported


@dataclass(frozen=True)
class Root:
    """A folder as the sandbox sees it (`/workspace`) and where it is on the host."""

    shown: str
    host: Path
    writable: bool

    def locate(self, path: str) -> list[str]:
        """The components of `path` below this root, with links resolved; raise if it leads out."""
        rel = PurePosixPath(path)
        if rel.is_absolute():
            try:
                rel = rel.relative_to(self.shown)
            except ValueError:
                raise AccessDenied(f"{path!r} is outside {self.shown}; only files inside it can be used.") from None
        pending = [p for p in rel.parts if p not in ("", ".")]
        parts: list[str] = []
        links = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if not parts:
                    raise AccessDenied(f"{path!r} leads out of {self.shown}; only files inside it can be used.")
                parts.pop()
                continue
            try:
                info = os.lstat(self.host.joinpath(*parts, part))
            except FileNotFoundError:
                parts.append(part)  # may be created (write_file); the open will tell otherwise
                continue
            except NotADirectoryError:
                raise NotFound(f"{'/'.join(parts)} is a file, not a folder.") from None
            if not stat.S_ISLNK(info.st_mode):
                parts.append(part)
                continue
            links += 1
            if links > _MAX_LINKS:
                raise InvalidInput(f"{path!r} goes through more than {_MAX_LINKS} symbolic links.")
            target = PurePosixPath(os.readlink(self.host.joinpath(*parts, part)))
            if target.is_absolute():
                top = PurePosixPath(self.shown)
                if target != top and top not in target.parents:
                    raise AccessDenied(f"{path!r} is a symbolic link to {target}, outside {self.shown}; it cannot be followed.")
                parts, pending = [], [*target.relative_to(top).parts, *pending]
            else:
                pending = [*target.parts, *pending]
        return parts

    def shown_path(self, parts: list[str]) -> str:
        return str(PurePosixPath(self.shown, *parts))

    def open(self, parts: list[str], flags: int, mode: int = 0o644, make_parents: bool = False, owner: int | None = None) -> int:
        """Open a located path, refusing links at every step; return the fd."""
        fd = os.open(self.host, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in parts[:-1]:
                try:
                    child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if not make_parents:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                    if owner is not None:
                        os.fchown(child, owner, owner)
                os.close(fd)
                fd = child
            if not parts:
                return fd
            final = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
            return final
        except OSError as exc:
            raise _explain(exc, self.shown_path(parts)) from exc
        finally:
            if parts:
                os.close(fd)


def _explain(exc: OSError, shown: str) -> Exception:
    import errno

    if exc.errno == errno.ENOENT:
        return NotFound(f"{shown} does not exist. list_files shows what is there.")
    if exc.errno == errno.ELOOP:
        return AccessDenied(f"{shown} is (or turned into) a symbolic link; it was not followed.")
    if exc.errno == errno.ENOTDIR:
        return InvalidInput(f"{shown} is not a folder, or a part of its path is not.")
    if exc.errno == errno.EISDIR:
        return InvalidInput(f"{shown} is a folder; list_files lists it.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return AccessDenied(f"{shown} cannot be opened: {exc.strerror}.")
    return exc


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the root
    kind: str  # file, folder, link, other
    size: int
    mtime_ns: int


def _walk(top: Path | int, limit: int = _WALK_LIMIT, recursive: bool = True) -> tuple[list[Entry], bool]:
    """Entries under `top` (a path, or a folder fd the walk takes over); True when the limit cut the walk short.

    Folders are opened relative to their parent with O_NOFOLLOW, so a folder the code swaps
    for a link while we walk is skipped, never followed onto the host.
    """
    entries: list[Entry] = []
    try:
        fd = top if isinstance(top, int) else os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return entries, False
    stack = [("", fd)]
    cut = False
    while stack:
        prefix, fd = stack.pop()
        try:
            if cut:
                continue
            try:
                with os.scandir(fd) as listing:
                    items = sorted(listing, key=lambda e: e.name)
            except OSError:
                continue
            for item in items:
                if len(entries) >= limit:
                    cut = True
                    break
                try:
                    info = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                rel = f"{prefix}{item.name}"
                kind = _kind(info.st_mode)
                entries.append(Entry(rel, kind, info.st_size if kind == "file" else 0, info.st_mtime_ns))
                if kind == "folder" and recursive:
                    try:
                        child = os.open(item.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                    except OSError:
                        continue
                    stack.append((rel + "/", child))
        finally:
            os.close(fd)
    return entries, cut


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "other"


def list_entries(top: Path | int, recursive: bool, limit: int) -> tuple[list[Entry], bool]:
    entries, cut = _walk(top, limit=limit, recursive=recursive)
    return sorted(entries, key=lambda e: e.path), cut


def snapshot(top: Path) -> dict[str, tuple[int, int]]:
    entries, _ = _walk(top)
    return {e.path: (e.size, e.mtime_ns) for e in entries if e.kind in ("file", "link")}


def hand_over(top: Path, uid: int) -> None:
    """Make `uid` the owner of a workspace and everything in it (links themselves, never what they point to).

    Called only while no sandbox has the workspace mounted, so nothing swaps entries meanwhile; folders
    are still opened with O_NOFOLLOW relative to their parent.
    """
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    os.fchown(fd, uid, uid)
    stack = [fd]
    while stack:
        fd = stack.pop()
        try:
            with os.scandir(fd) as listing:
                names = [(item.name, item.is_dir(follow_symlinks=False)) for item in listing]
            for name, is_folder in names:
                try:
                    os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)
                    if is_folder:
                        stack.append(os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd))
                except OSError:
                    continue
        finally:
            os.close(fd)


@dataclass(frozen=True)
class Usage:
    """What a workspace takes: bytes on disk (blocks, or the apparent size when larger) and entries."""

    bytes: int
    entries: int
    over_entries: bool  # more than the walk's `max_entries`: the walk stopped there, and the workspace is over its limit


def usage(top: Path, max_entries: int) -> Usage:
    """Measure a whole workspace: every entry counts, however many there are and wherever they are.

    The only early stop is past `max_entries`, which is itself over the limit, so filling folders with empty
    files cannot hide data elsewhere. Folders count their own blocks too. Links are never followed.
    """
    used = entries = 0
    try:
        stack = [os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)]
    except OSError:
        return Usage(0, 0, False)
    try:
        while stack:
            fd = stack.pop()
            try:
                with os.scandir(fd) as listing:
                    for item in listing:
                        entries += 1
                        if entries > max_entries:
                            return Usage(used, entries, True)
                        try:
                            info = item.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        used += max(info.st_blocks * 512, info.st_size if stat.S_ISREG(info.st_mode) else 0)
                        if stat.S_ISDIR(info.st_mode):
                            try:
                                stack.append(os.open(item.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd))
                            except OSError:
                                continue
            except OSError:
                pass
            finally:
                os.close(fd)
    finally:
        for fd in stack:
            os.close(fd)
    return Usage(used, entries, False)


def total_size(top: Path) -> int:
    """The apparent size of the files, as people count it (shown in list_sessions; the quota uses `usage`)."""
    entries, _ = _walk(top, limit=10**6)
    return sum(e.size for e in entries)


@dataclass
class Changes:
    created: list[tuple[str, int]] = field(default_factory=list)
    changed: list[tuple[str, int]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.changed or self.deleted)


def changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> Changes:
    result = Changes()
    for path, (size, mtime) in sorted(after.items()):
        if path not in before:
            result.created.append((path, size))
        elif before[path] != (size, mtime):
            result.changed.append((path, size))
    result.deleted = sorted(set(before) - set(after))
    return result
