"""The code server's tools as plain methods: validate, hold the session, do the work, shape the reply.

`server.py` only registers these with their descriptions. Everything here is
blocking and runs on a worker thread (see `memento.servers.common.errors.tool_errors`).
"""

from __future__ import annotations

import base64
import threading
import time

from mcp_types import CallToolResult, ImageContent, TextContent

from memento.servers.common.errors import InvalidInput

from . import files, packages, results, workspace
from .fonts import build_font_list
from .limits import describe_limits
from .results import FileEntry, FileListing, FileRead, InstallResult, SessionInfo, SessionList, WriteResult
from .sandbox import UNSANDBOXED_WARNING, Sandbox
from .session import Sessions
from .settings import CodeSettings

__all__ = ["CodeService"]

_MAX_LISTED = 1000


def _reply(text: str, model, images: list[str] | None = None, is_error: bool = False, mime_type: str = "image/png") -> CallToolResult:
    """Text a model reads, the typed result, and images (base64) after the text."""
    content: list = [TextContent(type="text", text=text)]
    content += [ImageContent(type="image", data=data, mime_type=mime_type) for data in images or []]
    return CallToolResult(content=content, structured_content=model.model_dump(mode="json"), is_error=is_error)


class CodeService:
    def __init__(self, settings: CodeSettings, sandbox: Sandbox) -> None:
        self.settings = settings
        self.sandbox = sandbox
        self.sessions = Sessions(settings, sandbox)
        self.warning = None if sandbox.sandboxed else UNSANDBOXED_WARNING
        threading.Thread(target=build_font_list, args=(settings.code_dir, sandbox.python), name="code-fonts", daemon=True).start()

    def close(self) -> None:
        self.sessions.close()

    # ---- running code -------------------------------------------------------------------------------

    def run(self, op: str, source: str, session_name: str, timeout_s: float) -> CallToolResult:
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
        result, images = results.build_run_result(session_name, outcome, changes, int(self.settings.code_max_output), timeout_s, hints)
        if note:
            result.notes.insert(0, note)
        if self.warning:
            result.notes.insert(0, self.warning)
        return _reply(results.render_run(result, self.warning), result, images, is_error=not result.ok)

    # ---- files --------------------------------------------------------------------------------------

    def _roots(self, session_name: str):
        session = self.sessions.get(session_name)
        return files.roots_for(session.paths.workspace, self.settings.code_inputs)

    def list_files(self, path: str, session_name: str, recursive: bool) -> CallToolResult:
        folder, entries, cut = files.listing(self._roots(session_name), path, recursive, _MAX_LISTED)
        listing = FileListing(folder=folder, entries=[FileEntry(path=e.path, kind=e.kind, size=e.size) for e in entries], truncated=cut)
        lines = [_entry_line(e) for e in entries]
        text = f"{folder}: {len(entries)} entries" + (":\n" + "\n".join(lines) if lines else " (empty)")
        if cut:
            text += f"\n[only the first {_MAX_LISTED} entries are listed; list a subfolder to see more]"
        return _reply(text, listing)

    def read_file(self, path: str, session_name: str, start_index: int, max_length: int) -> CallToolResult:
        read = files.read(self._roots(session_name), path, start_index, max_length, int(self.settings.code_read_max))
        model = FileRead(path=read.path, size=read.size, media_type=read.media_type, encoding=read.encoding)
        if read.image is not None:
            text = f"{read.path}: {read.media_type} image, {results.human_size(read.size)}"
            return _reply(text, model, [base64.b64encode(read.image).decode("ascii")], mime_type=read.media_type)
        if read.page is None:
            text = (
                f"{read.path} is a binary file ({read.media_type}, {results.human_size(read.size)}). "
                "Open it with code, e.g. pandas for spreadsheets or zipfile for archives."
            )
            return _reply(text, model)
        page = read.page
        model.start_index, model.next_start_index, model.total_length = page.start_index, page.next_start_index, page.total_length
        header = (
            f"[{read.path} · {results.human_size(read.size)}" + (f" · decoded as {read.encoding}" if read.encoding != "utf-8" else "") + "]"
        )
        return _reply(f"{header}\n{page.render()}", model)

    def write_file(self, path: str, content: str, session_name: str, append: bool) -> CallToolResult:
        shown, size = files.write(
            self._roots(session_name),
            path,
            content,
            append,
            int(self.settings.code_max_file_size),
            int(self.settings.code_workspace_size),
            self.sandbox.uid,
        )
        return _reply(f"Wrote {shown} ({results.human_size(size)}).", WriteResult(path=shown, size=size))

    # ---- packages and sessions ----------------------------------------------------------------------

    def install(self, names: list[str], session_name: str) -> CallToolResult:
        cleaned = packages.check_names(names, self.settings)
        with self.sessions.hold(session_name) as session:
            done = packages.install(cleaned, session.paths.site, self.settings, self.sandbox.python)
            self.sessions.refresh(session)
        model = InstallResult(session=session_name, installed=done.installed, seconds=round(done.seconds, 1))
        added = ", ".join(done.installed) or "nothing new (already installed in this session)"
        text = (
            f"Installed into session {session_name!r} in {done.seconds:.1f} s: {added}. Import them in run_python; "
            "a package that was already imported in this session needs reset_session to load the new version."
        )
        return _reply(text, model)

    def reset(self, session_name: str, delete_files: bool) -> CallToolResult:
        self.sessions.reset(session_name, delete_files)
        what = "variables, files and installed packages" if delete_files else "variables (files and packages are kept)"
        info = self._info(self.sessions.get(session_name))
        return _reply(f"Session {session_name!r} was reset: its {what} are gone.", info)

    def list_sessions(self) -> CallToolResult:
        infos = [self._info(s) for s in self.sessions.all()]
        model = SessionList(sessions=infos, sandbox=self.settings.code_sandbox, limits=describe_limits(self.settings))
        lines = [
            f"- {i.name}: {'running (pid ' + str(i.pid) + ')' if i.running else 'stopped'}, {i.calls} calls, "
            f"idle {i.idle_s:.0f} s, workspace {results.human_size(i.workspace_bytes)}"
            + (f", packages: {', '.join(i.packages)}" if i.packages else "")
            for i in infos
        ]
        text = "\n".join(lines) if lines else "No sessions yet; run_python starts one."
        header = f"sandbox: {self.settings.code_sandbox}; limits: {model.limits}"
        parts = [p for p in (self.warning, header, text) if p]
        return _reply("\n".join(parts), model)

    def _info(self, session) -> SessionInfo:
        alive = session.alive
        return SessionInfo(
            name=session.name,
            running=alive,
            pid=session.interpreter.pid if alive else None,
            idle_s=round(time.monotonic() - session.last_used, 1),
            calls=session.calls,
            workspace_bytes=workspace.total_size(session.paths.workspace),
            packages=sorted(packages.distributions(session.paths.site)),
        )


def _entry_line(entry) -> str:
    if entry.kind == "folder":
        return f"{entry.path}/"
    if entry.kind == "file":
        return f"{entry.path}  {results.human_size(entry.size)}"
    return f"{entry.path}  ({entry.kind})"
