"""Sessions: a name, a workspace, a package folder and (while in use) a live interpreter.

`Sessions` starts interpreters on first use, runs one call at a time per
session, stops the least recently used one when too many are alive, stops idle
ones after `MEMENTO_CODE_IDLE_S`, and tells the model on its next call when its
interpreter was restarted. Sessions never share a folder or a process.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from memento.servers.common.errors import AccessDenied, InvalidInput, ServerError, TimedOut

from . import workspace
from .interpreter import CallOutcome, Interpreter, Spawner, StartFailed
from .limits import reply_limit
from .sandbox import Sandbox, SessionPaths
from .settings import CodeSettings
from .users import SandboxUsers, UserLease

__all__ = ["Session", "Sessions", "SESSION_PATTERN"]

log = logging.getLogger("memento.code")

SESSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME = re.compile(SESSION_PATTERN)
_BUSY_GRACE_S = 10.0  # beyond the longest call: how long a request waits for its session to be free


@dataclass
class Session:
    name: str
    paths: SessionPaths
    lock: threading.Lock = field(default_factory=threading.Lock)
    interpreter: Interpreter | None = None
    last_used: float = field(default_factory=time.monotonic)
    calls: int = 0
    note: str | None = None  # why the interpreter was stopped since the last call, told once
    user: UserLease | None = None  # as root: the user id its code runs as, held while the interpreter lives

    @property
    def alive(self) -> bool:
        return self.interpreter is not None and self.interpreter.alive

    def take_note(self) -> str | None:
        note, self.note = self.note, None
        return note


class Sessions:
    def __init__(self, settings: CodeSettings, sandbox: Sandbox) -> None:
        self.settings = settings
        self.sandbox = sandbox
        self.spawner = Spawner()
        self.users = SandboxUsers(*settings.uid_range) if sandbox.per_session_users else None
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle, name="code-idle-reaper", daemon=True)
        self._reaper.start()

    # ---- finding and holding a session ---------------------------------------------------------------

    def get(self, name: str, inputs: Path | None = None) -> Session:
        """The session `name`, made on first use. `inputs`: the folder a host confined this call to; a new
        session mounts it at /inputs (instead of MEMENTO_CODE_INPUTS), an existing one must have been made with it."""
        if not _NAME.match(name or ""):
            raise InvalidInput(
                f"Session name {name!r} is not valid: use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit."
            )
        with self._lock:
            session = self._sessions.get(name)
            if session is None:
                paths = SessionPaths(
                    workspace=self.settings.workspaces_dir / name,
                    site=self.settings.code_dir / "site" / name,
                    inputs=inputs or self.settings.code_inputs,
                )
                self.sandbox.prepare(paths)
                session = self._sessions[name] = Session(name, paths)
            elif inputs is not None and session.paths.inputs != inputs:
                # A session's mount is fixed when its interpreter starts: never widen or swap it for another call.
                raise AccessDenied(f"Session {name!r} was started with other attachments at /inputs; use another session.")
            return session

    @contextmanager
    def hold(self, name: str) -> Iterator[Session]:
        """The session, for one call at a time."""
        session = self.get(name)
        wait = self.settings.code_max_timeout_s + _BUSY_GRACE_S
        if not session.lock.acquire(timeout=wait):
            raise TimedOut(f"Session {name!r} stayed busy with another call for {wait:g} s; try again, or use another session.")
        try:
            session.last_used = time.monotonic()
            yield session
        finally:
            session.last_used = time.monotonic()
            session.lock.release()

    def interpreter(self, session: Session) -> Interpreter:
        """The session's live interpreter, started if needed (call with the session held)."""
        if session.alive:
            return session.interpreter  # type: ignore[return-value]
        if session.interpreter is not None:  # it ended on its own between calls (e.g. a thread called os._exit)
            status = session.interpreter.exit_status() or "ended"
            session.interpreter.kill()
            session.interpreter = None
            self._release_user(session)
            session.note = (
                f"Note: the interpreter had ended since the last call ({status}); variables were lost, files in /workspace remain."
            )
        self._make_room(session)
        uid = self._user_for(session)
        try:
            launch = self.sandbox.launch(session.paths, uid)
            interpreter = Interpreter(
                launch,
                self.spawner,
                int(self.settings.code_max_output),
                plain=not self.sandbox.sandboxed,
                max_reply=reply_limit(self.settings),
            )
            try:
                interpreter.wait_ready()
            except ServerError:
                interpreter.kill()
                raise
        except StartFailed as exc:
            self._release_user(session)
            raise ServerError(self._start_failure(exc.reason)) from None
        except BaseException:
            self._release_user(session)
            raise
        session.interpreter = interpreter
        log.info("session %s: interpreter started (pid %d)", session.name, interpreter.pid)
        return interpreter

    def _user_for(self, session: Session) -> int | None:
        """As root: a user id of the session's own, and its workspace handed to that user."""
        if self.users is None:
            return None
        if session.user is None:
            session.user = self.users.take(f"{self.settings.home}\0{session.name}")
        uid = session.user.uid
        if session.paths.workspace.stat().st_uid != uid:
            workspace.hand_over(session.paths.workspace, uid)
        return uid

    def _release_user(self, session: Session) -> None:
        if session.user is not None:
            session.user.release()
            session.user = None

    def _start_failure(self, reason: str) -> str:
        text = f"The session's interpreter could not start ({reason})."
        if "can't start new thread" in reason or "Resource temporarily unavailable" in reason:
            who = "its sandbox user" if self.users is not None else "the server's user"
            text += (
                f" {who[0].upper() + who[1:]} already runs as many processes and threads as MEMENTO_CODE_MAX_PROCESSES "
                f"allows ({self.settings.code_max_processes}). Try again in a moment; if it persists, another program "
                "uses that user id (the operator can move the sandboxes with MEMENTO_CODE_UID_RANGE)."
            )
        else:
            text += " Try again; if it persists, the server's sandbox needs attention (its log says more)."
        return text

    def _make_room(self, newcomer: Session) -> None:
        with self._lock:
            alive = [s for s in self._sessions.values() if s is not newcomer and s.alive]
        if len(alive) < self.settings.code_max_sessions:
            return
        for victim in sorted(alive, key=lambda s: s.last_used):
            if victim.lock.acquire(blocking=False):
                try:
                    self._stop_interpreter(
                        victim,
                        f"Its interpreter was stopped to make room for session {newcomer.name!r} "
                        f"(at most {self.settings.code_max_sessions} run at once, MEMENTO_CODE_MAX_SESSIONS)",
                    )
                finally:
                    victim.lock.release()
                return
        raise ServerError(
            f"All {len(alive)} interpreters are busy (MEMENTO_CODE_MAX_SESSIONS={self.settings.code_max_sessions}); "
            "try again when a call has finished, or reset_session one."
        )

    def _stop_interpreter(self, session: Session, note: str | None) -> None:
        if session.interpreter is not None:
            session.interpreter.kill()
            session.interpreter = None
            self._release_user(session)  # every process of that user in the sandbox is gone with it
            if note:
                session.note = f"Note: {note}; variables were lost, files in /workspace remain."
                log.info("session %s: %s", session.name, note)

    # ---- calls --------------------------------------------------------------------------------------

    def call(self, session: Session, request: dict, timeout_s: float) -> tuple[CallOutcome, workspace.Changes, list[str]]:
        """Run one request in the held session; return what happened, the file changes and hints."""
        interpreter = self.interpreter(session)
        limit = int(self.settings.code_workspace_size)
        most = self.settings.code_workspace_files
        before = workspace.snapshot(session.paths.workspace)
        hints: list[str] = []
        # Measured whole (snapshots stop at 20,000 entries; the size must not).
        room = limit - workspace.usage(session.paths.workspace, most).bytes
        # No file may outgrow the room left; when full, writing is blocked and deleting still works.
        request = {**request, "fsize": max(0, min(room, int(self.settings.code_max_file_size)))}
        if room <= 0:
            hints.append(_full_note(limit))

        def watchdog() -> str | None:
            used = workspace.usage(session.paths.workspace, most)
            if used.over_entries:
                return (
                    f"the workspace holds more than {most:,} files and folders (MEMENTO_CODE_WORKSPACE_FILES). "
                    "Delete some (run_shell with rm -r), or keep many small records in one file."
                )
            if used.bytes > limit:
                return f"the workspace grew to {used.bytes:,} bytes, over its {limit:,}-byte limit. " + _full_note(limit)
            return None

        outcome = interpreter.call(request, timeout_s, watchdog)
        session.calls += 1
        if room > 0 and not outcome.stopped:  # a call that ended between two checks is measured once more
            reason = watchdog()
            if reason and (outcome.reply or {}).get("error"):
                hints.append(f"Also, {reason}")  # the code's own error stays the error
            elif reason:
                outcome.stopped = reason
        if outcome.restarted:
            self._stop_interpreter(session, None)
        after = workspace.snapshot(session.paths.workspace)
        return outcome, workspace.changes(before, after), hints + _hints(outcome, self.settings)

    def refresh(self, session: Session) -> None:
        """After an install: make the running interpreter see the new packages."""
        if session.alive:
            session.interpreter.request({"op": "refresh"})  # type: ignore[union-attr]

    # ---- listing, reset, expiry, shutdown -----------------------------------------------------------

    def all(self) -> list[Session]:
        with self._lock:
            known = dict(self._sessions)
        for folder in sorted(self.settings.workspaces_dir.glob("*")):
            if folder.is_dir() and _NAME.match(folder.name) and folder.name not in known:
                known[folder.name] = self.get(folder.name)  # a workspace left by an earlier server run
        return [known[name] for name in sorted(known)]

    def reset(self, name: str, delete_files: bool) -> None:
        with self.hold(name) as session:
            self._stop_interpreter(session, None)
            session.note = None
            if delete_files:
                for folder in (session.paths.workspace, session.paths.site):
                    shutil.rmtree(folder, ignore_errors=True)
                self.sandbox.prepare(session.paths)

    def _reap_idle(self) -> None:
        idle_s = self.settings.code_idle_s
        while not self._stop.wait(min(max(idle_s / 4, 0.05), 30.0)):
            now = time.monotonic()
            with self._lock:
                candidates = [s for s in self._sessions.values() if s.alive and now - s.last_used > idle_s]
            for session in candidates:
                if session.lock.acquire(blocking=False):
                    try:
                        self._stop_interpreter(session, f"the interpreter was stopped after {idle_s:g} s idle (MEMENTO_CODE_IDLE_S)")
                    finally:
                        session.lock.release()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            if session.interpreter is not None:
                session.interpreter.kill()
            self._release_user(session)
        self.spawner.close()


def _full_note(limit: int) -> str:
    return (
        f"The workspace is over its {limit:,}-byte limit (MEMENTO_CODE_WORKSPACE_SIZE): writing files is blocked "
        "until files are deleted (run_shell with rm, or reset_session with delete_files=true)."
    )


def _hints(outcome: CallOutcome, settings: CodeSettings) -> list[str]:
    """What a limit that was hit means and what to do, from the error the code got."""
    reply = outcome.reply or {}
    error = reply.get("error") or ""
    kind = reply.get("error_type") or ""
    hints = []
    if kind == "MemoryError" or reply.get("memory"):
        hints.append(
            f"Each process may use at most {settings.code_memory.human_readable(decimal=False)} of memory "
            "(MEMENTO_CODE_MEMORY): work in chunks, use smaller dtypes, or del large variables."
        )
    if kind == "CpuLimitExceeded":
        hints.append(f"A call may use {settings.code_cpu_s} s of CPU time (MEMENTO_CODE_CPU_S).")
    if "[Errno 27]" in error:
        hints.append(
            f"Files may be at most {settings.code_max_file_size.human_readable(decimal=False)} "
            "(MEMENTO_CODE_MAX_FILE_SIZE), and no larger than the room left in the workspace "
            f"({settings.code_workspace_size.human_readable(decimal=False)} in all, MEMENTO_CODE_WORKSPACE_SIZE)."
        )
    if "[Errno 11]" in error and ("fork" in error or "spawn" in error or "Popen" in error or "thread" in error):
        hints.append(f"At most {settings.code_max_processes} processes and threads may run at once (MEMENTO_CODE_MAX_PROCESSES).")
    if outcome.restarted and not outcome.stopped and outcome.exit_status and "SIGKILL" in outcome.exit_status:
        hints.append(
            f"A process killed this way usually reached the interpreter's total CPU time "
            f"({settings.code_session_cpu_s} s, MEMENTO_CODE_SESSION_CPU_S) or killed itself."
        )
    return hints
