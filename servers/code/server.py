"""The code MCP server: stateful Python and shell in a bubblewrap sandbox, with files, plots and packages.

Registers the tools only: `service.py` does the work, `present.py` phrases the
replies. `memento-code` and `python -m memento.servers.code` start it. It
refuses to start if the sandbox cannot run.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from memento.servers.common.runner import serve
from memento.servers.common.tooling import (
    READ_ONLY_CLOSED_WORLD,
    MaxLength,
    Probe,
    StartIndex,
    call_inputs,
    lifespan_state,
    server_with_lifespan,
    tool,
)

from . import present
from .limits import describe_limits
from .results import FileListing, FileRead, InstallResult, RunResult, SessionInfo, SessionList, WriteResult
from .sandbox import UNSANDBOXED_WARNING, Sandbox
from .service import CodeService
from .session import SESSION_PATTERN
from .settings import CodeSettings

RUNS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
# Packages come from the package index: the one tool that reaches outside the server.
INSTALLS = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)

Session = Annotated[str, Field(pattern=SESSION_PATTERN, description="Session name: its own variables, workspace and packages.")]
Timeout = Annotated[float, Field(gt=0, description="Wall-time limit of this call in seconds (at most MEMENTO_CODE_MAX_TIMEOUT_S).")]
WorkspacePath = Annotated[str, Field(description="Path relative to /workspace, or absolute under /workspace or /inputs.")]


def _service(ctx: Context, session: str | None = None) -> CodeService:
    """The service; with `session`, that session made (or checked) with the attachments the host confined the call to."""
    service = lifespan_state(ctx, CodeService)
    if session is not None:
        # The host's folder must lie in MEMENTO_CODE_INPUTS (an eval's folder of per-task folders); it becomes /inputs.
        allowed = [service.settings.code_inputs] if service.settings.code_inputs is not None else []
        inputs = call_inputs(ctx, allowed)
        if inputs is not None:
            service.sessions.get(session, inputs)
    return service


def _instructions(settings: CodeSettings) -> str:
    where = "in a bubblewrap sandbox with no network" if settings.code_sandbox == "bwrap" else f"WITHOUT a sandbox ({UNSANDBOXED_WARNING})"
    return (
        f"Runs Python and shell commands {where}. Each session keeps its variables between calls (like a "
        "notebook) and has its own folder, /workspace (the working directory); attachments, when configured, are "
        "read-only at /inputs. numpy, pandas, scipy, sympy, matplotlib and openpyxl are installed; plots come back "
        f"as images. Limits: {describe_limits(settings)}."
    )


def build(settings: CodeSettings) -> MCPServer:
    sandbox = Sandbox(settings)
    sandbox.check()  # no sandbox, no server (unless MEMENTO_CODE_SANDBOX=none): a SettingsError stops the start

    server = server_with_lifespan("memento-code", _instructions(settings), lambda: closing(CodeService(settings, sandbox)))

    @tool(server, RUNS, Probe({"code": "print('memento servers check')"}, "memento servers check"))
    def run_python(
        code: Annotated[str, Field(description="Python source; the value of a last bare expression is shown.")],
        ctx: Context,
        session: Session = "default",
        timeout_s: Timeout = settings.code_timeout_s,
    ) -> Annotated[CallToolResult, RunResult]:
        """Run Python code in a persistent session and return stdout, stderr, the last expression's value,
        the traceback on error, and the files it created or changed.

        Variables, imports and functions persist between calls in the same session until reset_session or
        idle expiry, like cells of a notebook. The working directory is /workspace; attachments (if any) are
        read-only under /inputs. numpy, pandas, scipy, sympy, matplotlib and openpyxl are installed; other
        packages can be added with install_packages. There is NO network access: download nothing, read files.
        matplotlib figures are returned as images (no need for plt.show()). Long output is cut with a note:
        write big results to a file and read_file it in parts. Processes the code starts end with the call.

        Example: run_python(code="import pandas as pd\\ndf = pd.read_csv('/inputs/sales.csv')\\ndf.describe()")
        """
        service = _service(ctx, session)
        return present.run(service.run("run", code, session, timeout_s), service.warning)

    @tool(server, RUNS)
    def run_shell(
        command: Annotated[str, Field(description='A /bin/sh command line, e.g. "unzip -o data.zip && ls".')],
        ctx: Context,
        session: Session = "default",
        timeout_s: Timeout = settings.code_timeout_s,
    ) -> Annotated[CallToolResult, RunResult]:
        """Run a shell command in the session's sandbox and workspace; return stdout, stderr and the exit code.

        For file chores: ls, grep, head, sort, wc, unzip, tar, sed, awk, file. Same sandbox, workspace and limits
        as run_python; no network. A non-zero exit code is reported, not treated as a failure.
        Example: run_shell(command="head -5 /inputs/data.csv && wc -l /inputs/data.csv")
        """
        service = _service(ctx, session)
        return present.run(service.run("shell", command, session, timeout_s), service.warning)

    @tool(server, READ_ONLY_CLOSED_WORLD)
    def list_files(
        ctx: Context,
        path: WorkspacePath = ".",
        session: Session = "default",
        recursive: Annotated[bool, Field(description="Also list the contents of subfolders.")] = False,
    ) -> Annotated[CallToolResult, FileListing]:
        """List a folder of the session's workspace (or of /inputs) with sizes.

        Example: list_files(path="results", recursive=true) or list_files(path="/inputs")
        """
        return present.file_listing(_service(ctx, session).list_files(path, session, recursive))

    @tool(server, READ_ONLY_CLOSED_WORLD)
    def read_file(
        path: WorkspacePath,
        ctx: Context,
        session: Session = "default",
        start_index: StartIndex = 0,
        max_length: MaxLength = 20_000,
    ) -> Annotated[CallToolResult, FileRead]:
        """Read a file from the workspace or /inputs: text in parts, images as images, other binary files as
        their size and type.

        When the reply ends with "[... Call again with start_index=N ...]", call again with that start_index.
        Example: read_file(path="report.md") or read_file(path="plot.png")
        """
        return present.file_read(_service(ctx, session).read_file(path, session, start_index, max_length))

    @tool(server, WRITES)
    def write_file(
        path: Annotated[str, Field(description="Path relative to /workspace; missing folders are created.")],
        content: Annotated[str, Field(description="The text to write (UTF-8).")],
        ctx: Context,
        session: Session = "default",
        append: Annotated[bool, Field(description="Add to the end instead of replacing the file.")] = False,
    ) -> Annotated[CallToolResult, WriteResult]:
        """Write a text file into the session's workspace, e.g. a script or data for run_python to use.

        Example: write_file(path="data/points.csv", content="x,y\\n1,2\\n2,4\\n")
        """
        return present.written(_service(ctx, session).write_file(path, content, session, append))

    @tool(server, INSTALLS)
    def install_packages(
        names: Annotated[list[str], Field(description='Requirement strings, e.g. ["statsmodels", "networkx>=3"].')],
        ctx: Context,
        session: Session = "default",
    ) -> Annotated[CallToolResult, InstallResult]:
        """Install Python packages (wheels from the package index) for one session only.

        The server downloads them, since the sandbox has no network, into the session's own package folder;
        they can be imported right after. Use it only for packages that are not already there.
        Example: install_packages(names=["statsmodels"])
        """
        return present.installed(_service(ctx, session).install(names, session))

    @tool(server, WRITES)
    def reset_session(
        ctx: Context,
        session: Session = "default",
        delete_files: Annotated[bool, Field(description="Also delete the workspace files and installed packages.")] = False,
    ) -> Annotated[CallToolResult, SessionInfo]:
        """Forget a session's variables by restarting its interpreter; optionally delete its files too.

        Example: reset_session(session="default", delete_files=false)
        """
        return present.reset(_service(ctx, session).reset(session, delete_files), delete_files)

    @tool(server, READ_ONLY_CLOSED_WORLD)
    def list_sessions(ctx: Context) -> Annotated[CallToolResult, SessionList]:
        """List sessions: running or stopped, calls, idle time, workspace size, installed packages; and the limits."""
        service = _service(ctx)
        return present.sessions(service.list_sessions(), service.warning)

    return server


def main(argv: Sequence[str] | None = None) -> int:
    return serve("code", CodeSettings, build, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
