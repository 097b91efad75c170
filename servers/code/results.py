"""What the code tools return as structured content, and how one call's outcome becomes a `RunResult`.

Every cut of output is recorded as a note saying how much was cut and what to
do instead; the text a model reads is written from these in `present.py`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from .interpreter import CallOutcome
from .workspace import Changes

__all__ = [
    "FileChange",
    "FileEntry",
    "FileListing",
    "FileRead",
    "InstallResult",
    "RunResult",
    "SessionInfo",
    "SessionList",
    "WriteResult",
    "build_run_result",
    "checked_reply",
]

_LISTED_CHANGES = 50


class FileChange(BaseModel):
    path: str = Field(description="Path relative to /workspace.")
    size: int | None = Field(default=None, description="Size in bytes (null for deleted files).")
    change: str = Field(description="created, changed or deleted.")


class RunResult(BaseModel):
    session: str
    ok: bool = Field(description="False when the code raised, was stopped, or its interpreter ended.")
    stdout: str
    stderr: str
    value: str | None = Field(default=None, description="repr() of the last expression, as a notebook shows it.")
    error: str | None = Field(default=None, description="The traceback or the reason the call failed.")
    exit_code: int | None = Field(default=None, description="Exit status of a shell command.")
    files: list[FileChange] = Field(default_factory=list, description="Files created, changed or deleted in /workspace.")
    images: int = Field(default=0, description="Plots returned as image content.")
    notes: list[str] = Field(default_factory=list, description="Cuts, limits reached, restarts, warnings.")
    duration_ms: float


def _cut_note(stream: str, dropped: int, limit: int) -> str:
    return (
        f"[{stream} cut: {dropped:,} more bytes not shown; at most {limit:,} bytes per call "
        "(MEMENTO_CODE_MAX_OUTPUT). Write long output to a file and read it in parts with read_file.]"
    )


def _text(value: object, limit: int, what: str) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + f"\n[{what} cut: {len(text) - limit:,} more characters not shown]"
    return text


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def checked_reply(reply: dict | None, max_output: int, max_images: int, max_image_size: int) -> dict:
    """The kernel's reply held to the caps on the server's side: the code can reach the kernel (gc) and forge it."""
    if not isinstance(reply, dict):  # no reply (the interpreter died), or not an object
        reply = {}
    images = [i for i in reply.get("images") or [] if isinstance(i, str) and len(i) * 3 // 4 <= max_image_size]
    raw_images = reply.get("images")
    offered = len(raw_images) if isinstance(raw_images, list) else 0
    exit_code = reply.get("exit_code")
    return {
        "value": _text(reply.get("value"), max_output, "value"),
        "error": _text(reply.get("error"), max_output, "error"),
        "error_type": _text(reply.get("error_type"), 100, "name"),
        "memory": bool(reply.get("memory")),
        "exit_code": exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        "images": images[:max_images],
        "images_dropped": _count(reply.get("images_dropped")) + offered - len(images[:max_images]),
        "figure_error": _text(reply.get("figure_error"), 1000, "message"),
        "dropped_out": _count(reply.get("dropped_out")),
        "dropped_err": _count(reply.get("dropped_err")),
        "threads": _count(reply.get("threads")),
    }


def build_run_result(
    session: str,
    outcome: CallOutcome,
    changes: Changes,
    max_output: int,
    timeout_s: float,
    hints: list[str],
    max_images: int = 8,
    max_image_size: int = 4 * 1024**2,
) -> tuple[RunResult, list[str]]:
    """The result of one call and its images (base64 PNG)."""
    reply = checked_reply(outcome.reply, max_output, max_images, max_image_size)
    notes: list[str] = []
    dropped_out = outcome.stdout.dropped + int(reply.get("dropped_out", 0))
    dropped_err = outcome.stderr.dropped + int(reply.get("dropped_err", 0))
    if dropped_out:
        notes.append(_cut_note("stdout", dropped_out, max_output))
    if dropped_err:
        notes.append(_cut_note("stderr", dropped_err, max_output))
    error = reply.get("error")
    if outcome.stopped == "timeout":
        error = f"Stopped after {timeout_s:g} s (timeout_s={timeout_s:g})." + (
            " The interpreter survived: variables set before the stop are kept." if not outcome.restarted else ""
        )
        notes.append("Make the code faster, work on a sample first, or pass a larger timeout_s.")
    elif outcome.stopped:
        error = f"Stopped: {outcome.stopped}"
    if outcome.restarted:
        how = f" ({outcome.exit_status})" if outcome.exit_status else ""
        cause = "did not yield to the interrupt, so its sandbox was killed" if outcome.stopped else f"ended during the call{how}"
        error = (error + " " if error else "") + (
            f"The interpreter {cause}; it restarts on the next call: variables are lost, files in /workspace remain."
        )
    images: list[str] = list(reply.get("images", []))
    if reply.get("images_dropped"):
        notes.append(
            f"[{reply['images_dropped']} more figures not returned (at most MEMENTO_CODE_MAX_IMAGES per call, "
            "each at most MEMENTO_CODE_MAX_IMAGE_SIZE).]"
        )
    if reply.get("figure_error"):
        notes.append(f"A figure could not be drawn: {reply['figure_error']}")
    if reply["threads"]:
        notes.append(
            f"{reply['threads']} thread{'s' if reply['threads'] > 1 else ''} started by the code {'are' if reply['threads'] > 1 else 'is'} "
            "still running, as in a notebook: between calls they cannot grow files, what they print is dropped and "
            "their CPU time counts against the session's (MEMENTO_CODE_SESSION_CPU_S); reset_session stops them."
        )
    notes.extend(hints)
    files = _file_changes(changes, notes)
    exit_code = reply.get("exit_code")
    result = RunResult(
        session=session,
        ok=error is None,
        stdout=outcome.stdout.text(),
        stderr=outcome.stderr.text(),
        value=reply.get("value"),
        error=error,
        exit_code=exit_code,
        files=files,
        images=len(images),
        notes=notes,
        duration_ms=round(outcome.elapsed_s * 1000, 1),
    )
    return result, images


def _file_changes(changes: Changes, notes: list[str]) -> list[FileChange]:
    files = [FileChange(path=p, size=s, change="created") for p, s in changes.created]
    files += [FileChange(path=p, size=s, change="changed") for p, s in changes.changed]
    files += [FileChange(path=p, change="deleted") for p in changes.deleted]
    if len(files) > _LISTED_CHANGES:
        notes.append(f"[{len(files) - _LISTED_CHANGES} more file changes not listed; list_files shows them all.]")
        files = files[:_LISTED_CHANGES]
    return files


class FileEntry(BaseModel):
    path: str = Field(description="Path relative to the folder listed.")
    kind: str = Field(description="file, folder, link or other.")
    size: int


class FileListing(BaseModel):
    folder: str
    entries: list[FileEntry]
    truncated: bool = Field(description="True when more entries exist than were listed.")


class FileRead(BaseModel):
    path: str
    size: int = Field(description="Size in bytes.")
    media_type: str
    encoding: str | None = Field(default=None, description="How text was decoded; null for binary files.")
    start_index: int | None = None
    next_start_index: int | None = Field(default=None, description="Pass as start_index to read on; null at the end.")
    total_length: int | None = Field(default=None, description="Length of the whole text in characters.")


class WriteResult(BaseModel):
    path: str
    size: int


class InstallResult(BaseModel):
    session: str
    installed: list[str] = Field(description="name==version of each distribution added or replaced.")
    seconds: float


class SessionInfo(BaseModel):
    name: str
    running: bool = Field(description="Whether an interpreter (with its variables) is alive.")
    pid: int | None = Field(default=None, description="Host process id of the sandbox, while running.")
    idle_s: float
    calls: int
    workspace_bytes: int
    packages: list[str] = Field(description="Packages installed into this session with install_packages.")


class SessionList(BaseModel):
    sessions: list[SessionInfo]
    sandbox: str = Field(description="bwrap, or none (unsandboxed).")
    limits: str
