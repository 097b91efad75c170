"""The code server's work as plain methods: validate, hold the session, run or touch files, return typed results.

`server.py` registers the tools and `present.py` phrases the replies; nothing
here knows MCP. Everything is blocking and runs on a worker thread (see
`memento.servers.common.errors.tool_errors`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from memento.servers.common.errors import InvalidInput
from memento.servers.common.warmup import warm_later

from . import files, packages, results, workspace
from .files import FileText
from .fonts import build_font_list
from .limits import describe_limits
from .results import FileEntry, FileListing, InstallResult, RunResult, SessionInfo, SessionList, WriteResult
from .sandbox import UNSANDBOXED_WARNING, Sandbox
from .session import Session, Sessions
from .settings import CodeSettings
from .workspace import Root

__all__ = ["CodeService", "RunOutput"]

_MAX_LISTED = 1000


@dataclass(frozen=True)
class RunOutput:
    """One run_python or run_shell call: its result and the plots it drew (base64 PNG)."""

    result: RunResult
    images: list[str]


class CodeService:
    """Sessions of sandboxed interpreters and their workspaces, shared by every tool call; close it at the end."""

    def __init__(self, settings: CodeSettings, sandbox: Sandbox) -> None:
        self.settings = settings
        self.sandbox = sandbox
        self.sessions = Sessions(settings, sandbox)
        self.warning = None if sandbox.sandboxed else UNSANDBOXED_WARNING
        path = settings.passed_environment.get("PATH", "/usr/bin:/bin")
        # Held back until the tools are listed: it starts a sandboxed interpreter, which the start must not wait for.
        self._fonts = warm_later(lambda: build_font_list(settings.code_dir, sandbox.python, path), "code-fonts")

    def close(self) -> None:
        """Stop every session's interpreter."""
        self._fonts.cancel()
        self.sessions.close()

    # ---- running code -------------------------------------------------------------------------------

    def run(self, op: str, source: str, session_name: str, timeout_s: float) -> RunOutput:
        """Run Python (`op="run"`) or a shell command (`op="shell"`) in a session, within `timeout_s`."""
        if not source.strip():
            raise InvalidInput("There is nothing to run: the code is empty." if op == "run" else "The command is empty.")
        if timeout_s > self.settings.code_max_timeout_s:
            raise InvalidInput(
                f"timeout_s={timeout_s:g} is over the {self.settings.code_max_timeout_s:g} s limit "
                "(MEMENTO_CODE_MAX_TIMEOUT_S); split the work into shorter calls."
            )
        request = {"op": op, "code": source} if op == "run" else {"op": op, "command": source}
        with self.sessions.hold(session_name) as session:
            outcome, changes, hints = self.sessions.call(session, request, timeout_s)
            note = session.take_note()  # why the interpreter was restarted since the last call, if it was
        result, images = results.build_run_result(
            session_name,
            outcome,
            changes,
            int(self.settings.code_max_output),
            timeout_s,
            hints,
            max_images=self.settings.code_max_images,
            max_image_size=int(self.settings.code_max_image_size),
        )
        if note:
            result.notes.insert(0, note)
        if self.warning:
            result.notes.insert(0, self.warning)
        return RunOutput(result, images)

    # ---- files --------------------------------------------------------------------------------------

    def _roots(self, session_name: str) -> list[Root]:
        session = self.sessions.get(session_name)
        return files.roots_for(session.paths.workspace, session.paths.inputs)

    def list_files(self, path: str, session_name: str, recursive: bool) -> FileListing:
        """The entries of a folder of the workspace or /inputs, at most `_MAX_LISTED` of them."""
        folder, entries, cut = files.listing(self._roots(session_name), path, recursive, _MAX_LISTED)
        return FileListing(folder=folder, entries=[FileEntry(path=e.path, kind=e.kind, size=e.size) for e in entries], truncated=cut)

    def read_file(self, path: str, session_name: str, start_index: int, max_length: int) -> FileText:
        """A file of the workspace or /inputs: one window of its text, its image bytes, or only its size and type."""
        return files.read(self._roots(session_name), path, start_index, max_length, int(self.settings.code_read_max))

    def write_file(self, path: str, content: str, session_name: str, append: bool) -> WriteResult:
        """Write (or append) text to a workspace file, within the file and workspace size limits."""
        shown, size = files.write(
            self._roots(session_name),
            path,
            content,
            append,
            int(self.settings.code_max_file_size),
            int(self.settings.code_workspace_size),
            self._owner(session_name),
        )
        return WriteResult(path=shown, size=size)

    def _owner(self, session_name: str) -> int | None:
        """As root, files the server writes belong to the workspace's user, so the code can change them."""
        if not self.sandbox.per_session_users:
            return None
        return self.sessions.get(session_name).paths.workspace.stat().st_uid

    # ---- packages and sessions ----------------------------------------------------------------------

    def install(self, names: list[str], session_name: str) -> InstallResult:
        """Install packages into one session's own package folder."""
        cleaned = packages.check_names(names, self.settings)
        with self.sessions.hold(session_name) as session:
            done = packages.install(cleaned, session.paths.site, self.settings, self.sandbox.python)
            self.sessions.refresh(session)
        return InstallResult(session=session_name, installed=done.installed, seconds=round(done.seconds, 1))

    def reset(self, session_name: str, delete_files: bool) -> SessionInfo:
        """Restart a session's interpreter, optionally deleting its files and packages; return its new state."""
        self.sessions.reset(session_name, delete_files)
        return self._info(self.sessions.get(session_name))

    def list_sessions(self) -> SessionList:
        """Every session's state, with the sandbox in use and the limits."""
        infos = [self._info(s) for s in self.sessions.all()]
        return SessionList(sessions=infos, sandbox=self.settings.code_sandbox, limits=describe_limits(self.settings))

    def _info(self, session: Session) -> SessionInfo:
        interpreter = session.interpreter if session.alive else None
        return SessionInfo(
            name=session.name,
            running=interpreter is not None,
            pid=interpreter.pid if interpreter is not None else None,
            idle_s=round(time.monotonic() - session.last_used, 1),
            calls=session.calls,
            workspace_bytes=workspace.total_size(session.paths.workspace),
            packages=sorted(packages.distributions(session.paths.site)),
        )
