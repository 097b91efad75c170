"""The interpreter that runs inside the sandbox: one long-lived process per session, standard library only.

It reads requests as frames on fd 0, runs them in one namespace (so variables
persist), and answers on the pipe the server names. User output goes to fds 1 and 2, which the
server reads; each call's output ends with a marker carrying the call's nonce.
It sets its own resource limits first and must never import the project (only
this file and kernel_io.py are mounted in the sandbox) nor anything heavy at start.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import linecache
import os
import queue
import signal
import sys
import threading
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_io
from kernel_io import CappedRaw, descendants, marker, read_frame, text_stream, write_frame

del sys.path[0]  # the code run here must not import our modules by accident


class CpuLimitExceeded(Exception):
    """Raised in running code when a call used up its CPU time."""


class Kernel:
    def __init__(self, config: dict, requests: int, replies: int, out: int, err: int) -> None:
        self.config = config
        self.requests = requests
        self.replies = replies
        self.out_fd, self.err_fd = out, err
        self.out = CappedRaw(out, config["max_output"])
        self.err = CappedRaw(err, config["max_output"])
        # The code's namespace is a real __main__ module, so pickle (multiprocessing) finds what it defines.
        main_module = types.ModuleType("__main__")
        main_module.__builtins__ = __builtins__  # type: ignore[attr-defined]
        sys.modules["__main__"] = main_module
        self.namespace: dict = main_module.__dict__
        self.pending: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.running: int | None = None  # id of the call being run, for interrupts
        self.pid = os.getpid()
        self.cells = 0
        self.reserve: bytearray | None = bytearray(8 << 20)  # freed on MemoryError so the reply can be built
        self.stdout, self.stderr = text_stream(self.out), text_stream(self.err)
        self.reader: threading.Thread | None = None

    # The reader thread: requests are queued for the main thread; interrupts act at once.
    def read_requests(self) -> None:
        try:
            while True:
                request = read_frame(self.requests)
                if request.get("op") == "interrupt":
                    main = threading.main_thread().ident  # set for any started thread; None only in type
                    with self.lock:
                        if main is not None and self.running is not None and self.running == request.get("id"):
                            signal.pthread_kill(main, signal.SIGINT)
                    continue
                self.pending.put(request)
        except BaseException:  # the server is gone (EOF) or spoke nonsense: nothing left to serve
            os._exit(0)

    def start(self) -> None:
        """Everything that can fail before the first request: the reader thread may meet the process limit."""
        signal.signal(signal.SIGINT, self._on_interrupt)
        signal.signal(signal.SIGXCPU, self._on_cpu_limit)
        self.reader = threading.Thread(target=self.read_requests, name="requests", daemon=True)
        self.reader.start()
        self._set_fsize(0)  # nothing writes files outside a call
        write_frame(self.replies, {"op": "ready", "pid": self.pid})

    def serve(self) -> None:
        while True:
            request = self.pending.get()
            try:
                reply = self.handle(request)
            except BaseException as exc:  # the kernel's own failure: answer anyway, never leave the server waiting
                if os.getpid() != self.pid:
                    os._exit(1)
                reply = {"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}", "error_type": "KernelError"}
                for fd in (self.out_fd, self.err_fd) if "nonce" in request else ():
                    try:
                        os.write(fd, marker(request["nonce"]))
                    except OSError:
                        pass
            write_frame(self.replies, reply)

    def _on_interrupt(self, signum, frame) -> None:
        if self.running is not None:
            raise KeyboardInterrupt

    def _on_cpu_limit(self, signum, frame) -> None:
        if os.getpid() != self.pid:  # a forked child over its CPU time just ends
            os._exit(1)
        if self.running is not None:
            self._set_cpu(None)  # lift the per-call limit so the error can be reported
            raise CpuLimitExceeded(f"the call used its {self.config['cpu_s']} s of CPU time (MEMENTO_CODE_CPU_S)")

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        call_id = request.get("id")
        if op == "refresh":
            self._add_site()
            return {"id": call_id}
        if op not in ("run", "shell"):
            return {"id": call_id, "error": f"unknown request {op!r}", "error_type": "ProtocolError"}
        self._begin(request)
        with self.lock:
            self.running = call_id
        try:
            try:
                body = self.run(request["code"]) if op == "run" else self.shell(request["command"])
            finally:
                self.running = None
        except KeyboardInterrupt as exc:  # the interrupt landed just outside the user's code
            body = self._error(exc)
        if os.getpid() != self.pid:  # a forked child that returned into the kernel: it must not answer
            os._exit(0)
        return {"id": call_id, **body, **self._finish(request["nonce"])}

    def _begin(self, request: dict) -> None:
        # Undo what earlier code may have done to fds 1 and 2, so output is captured again.
        os.dup2(self.out_fd, 1)
        os.dup2(self.err_fd, 2)
        for raw in (self.out, self.err):
            raw.sent = raw.dropped = 0
        sys.stdout, sys.stderr = self.stdout, self.stderr
        if self.reserve is None:
            try:
                self.reserve = bytearray(8 << 20)
            except MemoryError:
                pass
        self._set_fsize(request.get("fsize"))
        self._set_cpu(self.config["cpu_s"])

    def _finish(self, nonce: str) -> dict:
        self._stop_processes()
        result: dict = {}
        for stream in (self.stdout, self.stderr):
            try:
                stream.flush()
            except Exception:  # a closed or broken stream must not cost the reply
                pass
        result["dropped_out"], result["dropped_err"] = self.out.dropped, self.err.dropped
        ours = {threading.main_thread(), self.reader}
        result["threads"] = sum(1 for t in threading.enumerate() if t not in ours)
        # Threads the code left running live on between calls, unwatched: they may not grow any file then.
        self._set_fsize(0)
        end = marker(nonce)
        for fd in (self.out_fd, self.err_fd):
            os.write(fd, end)
        self._set_cpu(None)
        return result

    # ---- running code ---------------------------------------------------------------------------------

    def run(self, code: str) -> dict:
        reply: dict = {}
        try:
            self._run_cell(code, reply)
        except MemoryError as exc:
            self.reserve = None
            reply.update(self._error(exc), memory=True)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included: the kernel lives on
            if os.getpid() != self.pid:
                os._exit(1)
            reply.update(self._error(exc))
        try:  # figures drawn before an error are shown too, as in a notebook
            images, dropped = self._figures()
            if images:
                reply.setdefault("images", []).extend(images)
            if dropped:
                reply["images_dropped"] = dropped
        except BaseException as exc:
            if os.getpid() != self.pid:
                os._exit(1)
            reply["figure_error"] = f"{type(exc).__name__}: {exc}"
        return reply

    def _run_cell(self, code: str, reply: dict) -> None:
        self.cells += 1
        filename = f"<cell {self.cells}>"
        try:
            tree = ast.parse(code, filename)
        except (SyntaxError, ValueError) as exc:
            reply.update(self._error(exc))
            return
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        tail = tree.body[-1] if tree.body else None
        last = tail if isinstance(tail, ast.Expr) else None
        if last is not None:
            tree.body.pop()
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self._execute(compile(tree, filename, "exec", flags=flags))
        if last is None:
            return
        value = self._execute(compile(ast.Expression(last.value), filename, "eval", flags=flags))
        if value is None:
            return
        self.namespace["_"] = value
        reply["value"] = self._repr(value)
        image = _image_of(value)
        if image:
            reply["images"] = [image]

    def _execute(self, code):
        result = eval(code, self.namespace)
        if code.co_flags & 0x80 and result is not None:  # CO_COROUTINE: top-level await
            import asyncio

            result = asyncio.run(result)
        return result

    def shell(self, command: str) -> dict:
        import subprocess

        try:
            process = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            return self._error(exc)
        try:
            return {"exit_code": process.wait()}
        except BaseException as exc:
            process.kill()
            return self._error(exc)

    def _error(self, exc: BaseException) -> dict:
        frames = traceback.TracebackException.from_exception(exc)
        if isinstance(exc, SyntaxError) and frames.stack and frames.stack[-1].filename != exc.filename:
            text = "".join(frames.format_exception_only())  # the parser's frames say nothing about the code
        else:
            # Hide the kernel's own frames: the model should see only its code.
            ours = {__file__, kernel_io.__file__}
            frames.stack = traceback.StackSummary.from_list([f for f in frames.stack if f.filename not in ours])
            text = "".join(frames.format())
        limit = self.config["max_output"]
        if len(text) > limit:
            text = text[: limit // 2] + f"\n[... {len(text) - limit:,} characters of traceback cut ...]\n" + text[-limit // 2 :]
        return {"error": text, "error_type": type(exc).__name__}

    def _repr(self, value) -> str:
        try:
            text = repr(value)
        except Exception as exc:
            return f"<repr failed: {type(exc).__name__}: {exc}>"
        limit = self.config["max_output"]
        if len(text) > limit:
            text = text[:limit] + f"\n[value cut: {len(text) - limit:,} more characters not shown]"
        return text

    def _figures(self) -> tuple[list[str], int]:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return [], 0
        numbers = pyplot.get_fignums()
        images = []
        for number in numbers[: self.config["max_images"]]:
            image = _png(pyplot.figure(number))
            if len(image) * 3 // 4 <= self.config["max_image_size"]:  # the server would refuse a bigger reply
                images.append(image)
        pyplot.close("all")
        return images, len(numbers) - len(images)

    # ---- limits and processes -------------------------------------------------------------------------

    def _set_fsize(self, limit: int | None) -> None:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        soft = hard if limit is None else limit
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    def _set_cpu(self, per_call: int | None) -> None:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if per_call is None:
            soft = hard
        else:
            used = resource.getrusage(resource.RUSAGE_SELF)
            soft = int(used.ru_utime + used.ru_stime) + per_call
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def _stop_processes(self) -> None:
        """End every process the call started: a call's processes do not outlive it."""
        if self.config["sandboxed"] and os.getpid() == 2:
            # In the sandbox's own PID namespace, -1 reaches exactly the sandbox's other processes.
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        else:
            for pid in descendants(self.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        # Reap, so dead children do not count against the process limit; bounded, in case one cannot die.
        import time

        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.002)

    def _add_site(self) -> None:
        import importlib
        import site

        folder = self.config.get("site")
        if folder and os.path.isdir(folder):
            site.addsitedir(folder)
            if folder in sys.path:
                sys.path.remove(folder)
            sys.path.insert(0, folder)  # session packages win over the shared ones
        importlib.invalidate_caches()


def _png(figure) -> str:
    buffer = io.BytesIO()
    width, height = figure.get_size_inches()
    dpi = min(100.0, (25e6 / max(width * height, 1e-6)) ** 0.5)  # at most ~25 megapixels
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image_of(value) -> str | None:
    """A PNG of a value a notebook would draw: a matplotlib figure pyplot does not manage, a PIL image."""
    module = type(value).__module__ or ""
    try:
        if module.startswith("matplotlib.figure") and hasattr(value, "savefig"):
            pyplot = sys.modules.get("matplotlib.pyplot")
            managed = pyplot is not None and getattr(value, "number", None) in pyplot.get_fignums()
            return None if managed else _png(value)  # pyplot's figures are drawn with the others
        if module.startswith("PIL.") and hasattr(value, "_repr_png_"):
            data = value._repr_png_()
            return base64.b64encode(data).decode("ascii") if data else None
    except Exception:
        return None
    return None


# ---- start-up ---------------------------------------------------------------------------------------


def _drop_privileges(uid: int | None, gid: int | None) -> None:
    if uid is None:
        return
    if gid is None:  # the server always sends both; never run as the user with root's group
        raise SystemExit("a uid without a gid: refusing to drop privileges halfway")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("could not drop root privileges")


def _set_limits(config: dict) -> None:
    import resource

    def cap(kind: int, soft: int, hard: int | None = None) -> None:
        resource.setrlimit(kind, (soft, soft if hard is None else hard))

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_AS, config["memory"])
    if config["sandboxed"]:
        # Counted per user: in the sandbox that is the sandbox's own user (namespace); without one it would
        # count every process of the server's user, so it is left alone there.
        cap(resource.RLIMIT_NPROC, config["max_processes"])
    cap(resource.RLIMIT_FSIZE, config["max_file_size"])
    cap(resource.RLIMIT_CPU, config["session_cpu_s"])
    # Over the file-size limit, write() fails with EFBIG instead of the signal killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def main() -> None:
    config = json.loads(sys.argv[1])
    replies = config["reply_fd"]
    try:
        _drop_privileges(config.get("uid"), config.get("gid"))
        # os.dup makes non-inheritable copies: processes the code starts never see the protocol pipes.
        requests, replies = os.dup(0), os.dup(config["reply_fd"])
        os.close(config["reply_fd"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        out, err = os.dup(1), os.dup(2)
        _set_limits(config)
        kernel = Kernel(config, requests, replies, out, err)
        kernel._add_site()
        sys.path[:0] = [os.getcwd()]  # import modules written to the workspace, as a notebook does
        kernel.start()
    except BaseException as exc:  # say why in one line, for the server to pass on; a traceback helps no model
        try:
            write_frame(replies, {"op": "failed", "error": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(3)
    kernel.serve()


if __name__ == "__main__":
    main()
