"""How a session's interpreter is started: inside bubblewrap, or (only when asked) as a plain process.

The bwrap sandbox sees a read-only /usr, a handful of harmless /etc files, the
Python installation (read-only, at its own path), the session's workspace at
/workspace (the only writable place besides a private in-memory /tmp), its
package folder, and the attachments at /inputs. It has no network (an empty
network namespace), its own PID namespace, no capabilities, and an environment
made here from nothing, so the server's variables (API keys) never reach it.
This module builds command lines and checks that they run; it runs no user code.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from memento.servers.common.settings import SettingsError

from . import seccomp
from .fonts import font_list
from .limits import kernel_config
from .settings import CodeSettings

__all__ = ["Launch", "Sandbox", "SessionPaths", "UNSANDBOXED_WARNING"]

log = logging.getLogger("memento.code")

UNSANDBOXED_WARNING = (
    "WARNING: MEMENTO_CODE_SANDBOX=none - code runs WITHOUT a sandbox, as the server's own user: "
    "it can read and change that user's files, read its secrets and use the network."
)

WORKSPACE = "/workspace"
INPUTS = "/inputs"
_SITE = "/opt/memento/site"
_KERNEL_DIR = "/opt/memento"
# The kernel runs as a script (never imported by the server); only these two files are mounted.
KERNEL = Path(__file__).with_name("kernel.py")
KERNEL_IO = Path(__file__).with_name("kernel_io.py")
# Harmless /etc files programs expect; everything else in /etc (shadow, ssh keys, credentials) stays out.
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "mime.types", "os-release", "fonts")
_TOP = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_PROBE_TIMEOUT_S = 30


@dataclass(frozen=True)
class SessionPaths:
    """A session's folders on the host."""

    workspace: Path
    site: Path
    inputs: Path | None = None  # the attachments mounted read-only at /inputs


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    pass_fds: tuple[int, ...] = ()  # bwrap's options and filter; the starter passes them on, then closes them

    def expanded_argv(self) -> list[str]:
        """The command line with bwrap's `--args FD` spelled out (for logs and tests; reads, never consumes)."""
        if "--args" not in self.argv:
            return list(self.argv)
        at = self.argv.index("--args")
        fd = int(self.argv[at + 1])
        data = b""
        while chunk := os.pread(fd, 1 << 16, len(data)):
            data += chunk
        options = [part.decode() for part in data.split(b"\0")[:-1]]
        return [*self.argv[:at], *options, *self.argv[at + 2 :]]

    def close_fds(self) -> None:
        for fd in self.pass_fds:
            try:
                os.close(fd)
            except OSError:
                pass


@functools.cache
def _python_layout(python: str) -> tuple[str, ...]:
    """The folders an interpreter needs: its prefix, base prefix and the real path of its binary."""
    if Path(python).absolute() == Path(sys.executable).absolute():
        return tuple(dict.fromkeys([sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)]))
    script = "import sys, os, json; print(json.dumps([sys.prefix, sys.base_prefix, os.path.realpath(sys.executable)]))"
    try:
        out = subprocess.run([python, "-I", "-c", script], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SettingsError(f"MEMENTO_CODE_PYTHON={python!r} does not run: {exc}") from None
    prefix, base, real = json.loads(out.stdout)
    return tuple(dict.fromkeys([prefix, base, str(Path(real).parent.parent)]))


class Sandbox:
    """Builds the command that starts one session's interpreter, for the configured mode."""

    def __init__(self, settings: CodeSettings) -> None:
        self.settings = settings
        self.sandboxed = settings.code_sandbox == "bwrap"
        self.python = str(settings.code_python or sys.executable)
        self.as_root = os.geteuid() == 0
        # As root, each session's code runs as a user id of its own (see users.py); otherwise as the server's user,
        # in a user namespace of its own.
        self.per_session_users = self.sandboxed and self.as_root
        self.bwrap = shutil.which(settings.code_bwrap) if self.sandboxed else None
        self.setpriv: list[str] = []
        self.disable_userns = False
        self.etc_dir = settings.code_dir / "etc"

    # ---- checks at start ----------------------------------------------------------------------------

    def check(self) -> None:
        """Make sure interpreters can start in this mode; raise `SettingsError` with what to do if not."""
        if not Path(self.python).exists():
            raise SettingsError(f"MEMENTO_CODE_PYTHON={self.python!r} does not exist.")
        _python_layout(self.python)
        if shutil.which("setpriv") and _runs(["setpriv", "--pdeathsig", "KILL", "--", "true"]):
            # The interpreter is killed when the server dies, even if its code never yields.
            self.setpriv = ["setpriv", "--pdeathsig", "KILL", "--"]
        if not self.sandboxed:
            log.warning("%s", UNSANDBOXED_WARNING)
            return
        if self.bwrap is None:
            raise SettingsError(
                f"bubblewrap ({self.settings.code_bwrap!r}) is not installed, so code cannot be sandboxed. "
                "Install it (Debian/Ubuntu: apt-get install bubblewrap) or, knowing that code will then run "
                "with your rights, set MEMENTO_CODE_SANDBOX=none."
            )
        help_text = subprocess.run([self.bwrap, "--help"], capture_output=True, text=True).stdout
        self.disable_userns = "--disable-userns" in help_text and not self.as_root
        self._write_etc()
        probe = self.settings.code_dir / "probe"
        paths = SessionPaths(workspace=probe / "workspace", site=probe / "site")
        self.prepare(paths)
        argv, fds = self._sandboxed(paths, [self.python, "-I", "-c", "import os; os.listdir('/workspace')"])
        try:
            result = subprocess.run(argv, env=self._env(), cwd="/", capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, pass_fds=fds)
        finally:
            Launch([], {}, "/", fds).close_fds()
        if result.returncode != 0:
            detail = " ".join(result.stderr.split())[:500] or f"exit status {result.returncode}"
            raise SettingsError(
                f"bubblewrap cannot start a sandbox here ({detail}). It needs unprivileged user namespaces "
                "(sysctl kernel.unprivileged_userns_clone=1, or an AppArmor profile allowing bwrap) or root. "
                "Fix that, or, knowing that code will then run with your rights, set MEMENTO_CODE_SANDBOX=none."
            )

    def _write_etc(self) -> None:
        """Minimal hosts and nsswitch files, so names resolve without the host's."""
        _write_files(
            self.etc_dir,
            {"hosts": "127.0.0.1 localhost\n::1 localhost\n", "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n"},
        )

    def _users_folder(self, uid: int | None) -> Path:
        """passwd and group naming the code's user, so `whoami` and friends work without the host's files."""
        uid = os.getuid() if uid is None else uid
        folder = self.etc_dir / "users" / str(uid)
        _write_files(
            folder,
            {
                "passwd": f"root:x:0:0:root:/root:/bin/sh\nsandbox:x:{uid}:{uid}:sandbox:{WORKSPACE}:/bin/sh\n",
                "group": f"root:x:0:\nsandbox:x:{uid}:\n",
            },
        )
        return folder

    # ---- per session --------------------------------------------------------------------------------

    def prepare(self, paths: SessionPaths) -> None:
        """Create a session's folders (the workspace is handed to the code's user when a session starts)."""
        paths.workspace.mkdir(parents=True, exist_ok=True)
        paths.site.mkdir(parents=True, exist_ok=True)

    def launch(self, paths: SessionPaths, uid: int | None = None) -> Launch:
        """The command starting a session's interpreter; as root, `uid` is the user its code runs as."""
        if not self.sandboxed:
            return self._plain(paths)
        if self.per_session_users and uid is None:
            raise ValueError("a sandbox started by root needs the session's user id")
        config = kernel_config(self.settings, site=_SITE, sandboxed=True, uid=uid)
        command = [self.python, "-I", f"{_KERNEL_DIR}/kernel.py", json.dumps(config.as_dict())]
        argv, fds = self._sandboxed(paths, command, uid)
        return Launch(argv=argv, env=self._env(), cwd="/", pass_fds=fds)

    def _sandboxed(self, paths: SessionPaths, command: list[str], uid: int | None = None) -> tuple[list[str], tuple[int, ...]]:
        """The command line and the descriptors it reads: bwrap's options come through a descriptor, so the
        sandbox's process 1 (bwrap) shows no host path in /proc/1/cmdline; the seccomp filter likewise."""
        options = self._bwrap_options(paths, uid)
        fds: list[int] = []
        try:
            filter_program = seccomp.program()
            if filter_program is not None:
                fds.append(_memory_file("memento-seccomp", filter_program))
                options += ["--seccomp", str(fds[-1])]
            fds.append(_memory_file("memento-bwrap-options", b"".join(o.encode() + b"\0" for o in options)))
        except OSError:
            Launch([], {}, "/", tuple(fds)).close_fds()
            raise
        return [*self.setpriv, self.bwrap or "bwrap", "--args", str(fds[-1]), "--", *command], tuple(fds)

    def _plain(self, paths: SessionPaths) -> Launch:
        config = kernel_config(self.settings, site=str(paths.site), sandboxed=False, uid=None)
        argv = [*self.setpriv, self.python, "-I", str(KERNEL), json.dumps(config.as_dict())]
        env = self._env(home=str(paths.workspace), tmp=self.settings.passed_environment.get("TMPDIR", "/tmp"))
        return Launch(argv=argv, env=env, cwd=str(paths.workspace))

    def _env(self, home: str = WORKSPACE, tmp: str = "/tmp") -> dict[str, str]:
        threads = str(self.settings.code_threads)
        bin_dir = str(Path(self.python).parent)
        return {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "USER": "sandbox",
            "LANG": "C.UTF-8",
            "TMPDIR": tmp,
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": f"{tmp}/matplotlib",
            "XDG_CACHE_HOME": f"{tmp}/cache",
            "XDG_CONFIG_HOME": f"{tmp}/config",
            "OPENBLAS_NUM_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "NUMEXPR_MAX_THREADS": threads,
        }

    def _bwrap_options(self, paths: SessionPaths, uid: int | None) -> list[str]:
        s = self.settings
        options = [
            "--die-with-parent",
            "--new-session",  # no controlling terminal to push keystrokes into
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
        ]
        if self.as_root:
            # No user namespace: the kernel starts as root with only these two capabilities and drops to
            # the sandbox user at once, so the process limit counts against an unprivileged user.
            options += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            options += ["--unshare-user"]
            if self.disable_userns:
                options += ["--disable-userns"]
        options += ["--ro-bind", "/usr", "/usr"]
        for folder in ("/etc", "/opt", "/opt/memento"):  # bwrap would create them 0700: unreadable after the uid drop
            options += ["--perms", "0755", "--dir", folder]
        for name in _TOP:
            path = Path("/") / name
            if path.is_symlink():
                options += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                options += ["--ro-bind", str(path), str(path)]
        for name in _ETC:
            options += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for name in ("hosts", "nsswitch.conf"):
            options += ["--ro-bind", str(self.etc_dir / name), f"/etc/{name}"]
        users = self._users_folder(uid)
        for name in ("passwd", "group"):
            options += ["--ro-bind", str(users / name), f"/etc/{name}"]
        options += ["--proc", "/proc", "--dev", "/dev"]
        options += ["--perms", "1777", "--size", str(int(s.code_tmp_size)), "--tmpfs", "/tmp"]
        options += ["--perms", "1777", "--size", str(int(s.code_tmp_size)), "--tmpfs", "/dev/shm"]
        options += _read_only_at_same_path(_python_layout(self.python))
        options += ["--bind", str(paths.workspace), WORKSPACE]
        options += ["--ro-bind", str(paths.site), _SITE]
        options += ["--ro-bind", str(KERNEL), f"{_KERNEL_DIR}/kernel.py", "--ro-bind", str(KERNEL_IO), f"{_KERNEL_DIR}/kernel_io.py"]
        fonts = font_list(s.code_dir)
        if fonts is not None:  # saves each session's first plot a scan of the system's fonts
            options += ["--perms", "1777", "--dir", "/tmp/matplotlib", "--ro-bind", str(fonts), f"/tmp/matplotlib/{fonts.name}"]
        if paths.inputs is not None:
            options += ["--ro-bind", str(paths.inputs), INPUTS]
        options += ["--chdir", WORKSPACE]
        return options


def _read_only_at_same_path(folders: tuple[str, ...]) -> list[str]:
    """Bind folders read-only at their own paths, with readable parent folders (a /root parent is 0700)."""
    bound: list[Path] = [Path("/usr")]
    options: list[str] = []
    made: set[Path] = set()
    for folder in sorted({Path(f) for f in folders}, key=lambda p: len(p.parts)):
        if any(folder == b or b in folder.parents for b in bound):
            continue
        for parent in reversed(folder.parents):
            if parent == Path("/") or parent in made:
                continue
            options += ["--perms", "0755", "--dir", str(parent)]
            made.add(parent)
        options += ["--ro-bind", str(folder), str(folder)]
        bound.append(folder)
    return options


def _memory_file(name: str, data: bytes) -> int:
    """A descriptor to read `data` from, from its start (memfd: no file on disk, any size)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def _write_files(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def _runs(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=_PROBE_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
