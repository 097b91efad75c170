"""The code tools' replies: the text a model reads, the typed result as structured content, plots as images.

A run's text puts warnings first, then stdout, stderr, the value, the error,
the files it touched and notes. Nothing here runs code or touches files.
"""

from __future__ import annotations

from mcp_types import CallToolResult

from memento.servers.common.tooling import Image, tool_result

from .files import FileText
from .results import FileListing, FileRead, InstallResult, RunResult, SessionInfo, SessionList, WriteResult
from .service import RunOutput

__all__ = ["file_listing", "file_read", "human_size", "installed", "reset", "run", "sessions", "written"]


def human_size(size: int) -> str:
    """A byte count as people read it: 812 bytes, 4.2 KiB, 1.5 MiB."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def run(output: RunOutput, warning: str | None) -> CallToolResult:
    """A run_python or run_shell reply; a failed run is an `is_error` result the model reads."""
    result = output.result
    return tool_result(_run_text(result, warning), result, [Image(data) for data in output.images], is_error=not result.ok)


def _run_text(result: RunResult, warning: str | None) -> str:
    parts: list[str] = []
    if warning:
        parts.append(warning)
    if result.stdout:
        parts.append(
            result.stdout.rstrip("\n")
            if not result.stderr and result.value is None and not result.error
            else f"stdout:\n{result.stdout.rstrip()}"
        )
    if result.stderr:
        parts.append(f"stderr:\n{result.stderr.rstrip()}")
    if result.value is not None:
        parts.append(f"Out: {result.value}")
    if result.exit_code is not None and result.exit_code != 0:
        parts.append(f"exit code {result.exit_code}")
    if result.error:
        parts.append(f"Error:\n{result.error.rstrip()}")
    if result.files:
        shown = [f"{f.path} ({f.change}{', ' + human_size(f.size) if f.size is not None else ''})" for f in result.files]
        parts.append("Files: " + "; ".join(shown))
    if result.images:
        parts.append(f"[{result.images} plot{'s' if result.images > 1 else ''} returned as image{'s' if result.images > 1 else ''}]")
    parts.extend(note for note in result.notes if note != warning)  # the warning is already first
    if not parts or (len(parts) == 1 and warning):
        parts.append("(no output)" if result.ok else "(failed without output)")
    return "\n\n".join(parts)


def file_listing(listing: FileListing) -> CallToolResult:
    """A list_files reply: one line per entry, and a note when the listing was cut."""
    lines = [_entry_line(e.path, e.kind, e.size) for e in listing.entries]
    text = f"{listing.folder}: {len(listing.entries)} entries" + (":\n" + "\n".join(lines) if lines else " (empty)")
    if listing.truncated:
        text += f"\n[only the first {len(listing.entries)} entries are listed; list a subfolder to see more]"
    return tool_result(text, listing)


def _entry_line(path: str, kind: str, size: int) -> str:
    if kind == "folder":
        return f"{path}/"
    if kind == "file":
        return f"{path}  {human_size(size)}"
    return f"{path}  ({kind})"


def file_read(read: FileText) -> CallToolResult:
    """A read_file reply: an image as an image, a binary file as its size and type, text one window at a time."""
    model = FileRead(path=read.path, size=read.size, media_type=read.media_type, encoding=read.encoding)
    if read.image is not None:
        text = f"{read.path}: {read.media_type} image, {human_size(read.size)}"
        return tool_result(text, model, [Image.from_bytes(read.image, read.media_type)])
    if read.page is None:
        text = (
            f"{read.path} is a binary file ({read.media_type}, {human_size(read.size)}). "
            "Open it with code, e.g. pandas for spreadsheets or zipfile for archives."
        )
        return tool_result(text, model)
    page = read.page
    model.start_index, model.next_start_index, model.total_length = page.start_index, page.next_start_index, page.total_length
    decoded = f" · decoded as {read.encoding}" if read.encoding != "utf-8" else ""
    return tool_result(f"[{read.path} · {human_size(read.size)}{decoded}]\n{page.render()}", model)


def written(result: WriteResult) -> CallToolResult:
    """A write_file reply."""
    return tool_result(f"Wrote {result.path} ({human_size(result.size)}).", result)


def installed(result: InstallResult) -> CallToolResult:
    """An install_packages reply, reminding that an imported package needs a reset to reload."""
    added = ", ".join(result.installed) or "nothing new (already installed in this session)"
    text = (
        f"Installed into session {result.session!r} in {result.seconds:.1f} s: {added}. Import them in run_python; "
        "a package that was already imported in this session needs reset_session to load the new version."
    )
    return tool_result(text, result)


def reset(info: SessionInfo, delete_files: bool) -> CallToolResult:
    """A reset_session reply saying what was forgotten."""
    what = "variables, files and installed packages" if delete_files else "variables (files and packages are kept)"
    return tool_result(f"Session {info.name!r} was reset: its {what} are gone.", info)


def sessions(listing: SessionList, warning: str | None) -> CallToolResult:
    """A list_sessions reply: the sandbox and limits, then one line per session."""
    lines = [
        f"- {i.name}: {'running (pid ' + str(i.pid) + ')' if i.running else 'stopped'}, {i.calls} calls, "
        f"idle {i.idle_s:.0f} s, workspace {human_size(i.workspace_bytes)}" + (f", packages: {', '.join(i.packages)}" if i.packages else "")
        for i in listing.sessions
    ]
    text = "\n".join(lines) if lines else "No sessions yet; run_python starts one."
    header = f"sandbox: {listing.sandbox}; limits: {listing.limits}"
    return tool_result("\n".join(p for p in (warning, header, text) if p), listing)
