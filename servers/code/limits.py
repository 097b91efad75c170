"""The limits a session's interpreter enforces on itself, from the settings, and their descriptions.

`KernelConfig` is what the kernel receives on its command line; it holds plain
numbers only (the kernel imports nothing of ours). Wall time and workspace size
are enforced by the server (`interpreter.py`), everything else by rlimits the
kernel sets on itself before it runs any code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .settings import CodeSettings

__all__ = ["KernelConfig", "describe_limits", "kernel_config", "reply_limit"]


@dataclass(frozen=True)
class KernelConfig:
    memory: int  # RLIMIT_AS of every process, bytes
    max_processes: int  # RLIMIT_NPROC: processes and threads
    max_file_size: int  # RLIMIT_FSIZE, bytes
    cpu_s: int  # soft RLIMIT_CPU per call, seconds
    session_cpu_s: int  # hard RLIMIT_CPU over the interpreter's life
    max_output: int  # bytes of stdout and of stderr passed on per call
    max_images: int
    max_image_size: int  # bytes of one PNG
    sandboxed: bool
    site: str | None  # the session's own package folder, as the kernel sees it
    uid: int | None = None  # drop to this user first (when the server runs as root)
    gid: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def kernel_config(settings: CodeSettings, *, site: str | None, sandboxed: bool, uid: int | None) -> KernelConfig:
    return KernelConfig(
        memory=int(settings.code_memory),
        max_processes=settings.code_max_processes,
        max_file_size=int(settings.code_max_file_size),
        cpu_s=settings.code_cpu_s,
        session_cpu_s=max(settings.code_session_cpu_s, settings.code_cpu_s),
        max_output=int(settings.code_max_output),
        max_images=settings.code_max_images,
        max_image_size=int(settings.code_max_image_size),
        sandboxed=sandboxed,
        site=site,
        uid=uid,
        gid=uid,
    )


def reply_limit(settings: CodeSettings) -> int:
    """The largest reply frame an honest kernel can send with these limits: the server refuses anything larger.

    Text fields are cut at `max_output` characters (JSON may spell one as 6 bytes); images are base64.
    """
    text = 4 * 6 * int(settings.code_max_output)  # value, error, figure error, slack
    images = settings.code_max_images * (int(settings.code_max_image_size) * 4 // 3 + 16)
    return text + images + 64 * 1024


def _size(value: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= factor:
            return f"{value / factor:g} {unit}"
    return f"{value} bytes"


def describe_limits(settings: CodeSettings) -> str:
    """One line a model can read: what the sandbox allows."""
    return (
        f"memory {_size(int(settings.code_memory))} per process, {settings.code_max_processes} processes, "
        f"CPU {settings.code_cpu_s} s per call, files up to {_size(int(settings.code_max_file_size))}, "
        f"workspace {_size(int(settings.code_workspace_size))}, /tmp {_size(int(settings.code_tmp_size))}, "
        f"output {_size(int(settings.code_max_output))} per stream per call"
    )
