"""Settings of the code server (`MEMENTO_CODE_*`): sandbox mode, every limit, packages, attachments.

Only reads and validates values; `limits.py` turns them into the numbers the
interpreter enforces and `sandbox.py` into the bubblewrap command line. The
standard variables in `passed_on` reach pip (proxy, certificates) and unsandboxed
sessions (TMPDIR) as the user set them; nothing else of the server's environment does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import ByteSize, Field, field_validator

from memento.servers.common.settings import CommonSettings, shown_as

__all__ = ["CodeSettings"]


class CodeSettings(CommonSettings):
    passed_on = (
        *("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"),
        *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
    )

    code_sandbox: Literal["bwrap", "none"] = Field(
        default="bwrap",
        description="bwrap: run code in a bubblewrap sandbox (refuse to start without it). "
        "none: run code as a plain process with the server's rights (unsafe; warns on start and in every result).",
    )
    code_bwrap: str = Field(default="bwrap", description="The bubblewrap executable.")
    code_uid_range: str = Field(
        default="3000000-3065535",
        description="When the server runs as root, each running session's code runs as its own unprivileged user id "
        "from this range (first-last), so sessions never share a process budget; no other process on the machine "
        "should use these ids. Its size bounds the sessions running at once on the machine, over all code servers.",
    )
    code_python: Path | None = shown_as(
        "(the server's interpreter)",
        default=None,
        description="Python interpreter for the code, with the scientific stack installed. Its installation "
        "is mounted read-only in the sandbox.",
    )
    code_inputs: Path | None = Field(
        default=None,
        description="A folder of attachments shown read-only at /inputs in every session (optional).",
    )
    code_timeout_s: float = Field(default=30.0, gt=0, description="Wall time of one call when the caller gives no timeout_s, in seconds.")
    code_max_timeout_s: float = Field(default=300.0, gt=0, description="Largest timeout_s a call may ask for, in seconds.")
    code_cpu_s: int = Field(default=120, ge=1, description="CPU time of one call, in seconds.")
    code_session_cpu_s: int = Field(default=3600, ge=1, description="CPU time of a session's interpreter over its life, in seconds.")
    code_memory: ByteSize = Field(
        default=ByteSize(2 * 1024**3), description="Address-space limit of each process in the sandbox, e.g. 2GiB."
    )
    code_max_processes: int = Field(default=64, ge=4, description="Most processes and threads at once in a session's sandbox.")
    code_max_file_size: ByteSize = Field(default=ByteSize(512 * 1024**2), description="Largest file the code may write.")
    code_workspace_size: ByteSize = Field(
        default=ByteSize(1024**3),
        description="Largest total size of a session's workspace; a call that grows it past this is stopped.",
    )
    code_workspace_files: int = Field(
        default=100_000,
        ge=100,
        description="Most files and folders in a session's workspace; a call that creates more is stopped.",
    )
    code_tmp_size: ByteSize = Field(default=ByteSize(256 * 1024**2), description="Size of the private /tmp of a session (kept in memory).")
    code_max_output: ByteSize = Field(
        default=ByteSize(32 * 1024),
        description="Most bytes of stdout and of stderr returned per call; the rest is counted in a note.",
    )
    code_read_max: ByteSize = Field(
        default=ByteSize(20 * 1024**2), description="Largest file read_file returns (larger ones: read parts with code)."
    )
    code_max_images: int = Field(default=8, ge=0, description="Most plots returned as images per call.")
    code_max_image_size: ByteSize = Field(
        default=ByteSize(4 * 1024**2), description="Largest plot returned as an image (PNG bytes); larger ones are left out with a note."
    )
    code_max_sessions: int = Field(
        default=8, ge=1, description="Most interpreters alive at once; the least recently used idle one is stopped."
    )
    code_idle_s: float = Field(default=1800.0, gt=0, description="An interpreter idle this long is stopped (its files stay), in seconds.")
    code_threads: int = shown_as(
        "min(4, cores)",
        default_factory=lambda: min(4, os.cpu_count() or 1),
        ge=1,
        description="Threads numeric libraries (OpenBLAS, OpenMP) may use per process.",
    )
    code_install: bool = Field(default=True, description="Allow install_packages.")
    code_install_allow: list[str] = Field(
        default_factory=list,
        description="Packages install_packages may install, comma-separated (empty: any).",
    )
    code_index_url: str = shown_as(
        "(pip's configuration)",
        default="",
        description="Package index URL for install_packages (empty: pip's own configuration, usually PyPI).",
    )
    code_install_timeout_s: float = Field(default=300.0, gt=0, description="Time limit of one install, in seconds.")

    @field_validator("code_uid_range", mode="after")
    @classmethod
    def _uid_range(cls, value: str) -> str:
        first, dash, last = value.replace(" ", "").partition("-")
        if not (dash and first.isdigit() and last.isdigit() and 1 <= int(first) <= int(last) < 2**32 - 1):
            raise ValueError("give a range of unprivileged user ids as first-last, e.g. 3000000-3065535")
        return f"{int(first)}-{int(last)}"

    @property
    def uid_range(self) -> tuple[int, int]:
        first, _, last = self.code_uid_range.partition("-")
        return int(first), int(last)

    @field_validator("code_inputs", "code_python", mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    @field_validator("code_inputs", mode="after")
    @classmethod
    def _existing_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not an existing folder")
        return value

    @property
    def workspaces_dir(self) -> Path:
        return self.home / "workspaces"

    @property
    def code_dir(self) -> Path:
        """Server-side state of the code server: per-session package folders, the sandbox's /etc files."""
        return self.home / "code"
