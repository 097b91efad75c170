"""The code server's modes and lifecycle: no sandbox means no start (unless asked, and then loud warnings),
streamable HTTP, the MCP Inspector CLI, per-session packages, idle expiry and the session cap."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from mcp import Client

from memento.servers.code.sandbox import UNSANDBOXED_WARNING
from memento.servers.code.server import build
from memento.servers.code.settings import CodeSettings
from tests.code_helpers import png_images, run
from tests.mcp_servers import ROOT, http_client_for, run_inspector, server_env, stdio_client_for

pytestmark = pytest.mark.anyio


def _start(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Start the server on stdio with no client: it starts (or refuses), reads end-of-input and exits."""
    return subprocess.run(
        [sys.executable, "-m", "memento.servers.code"],
        env={**os.environ, **env},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.integration
def test_without_bubblewrap_the_server_refuses_to_start_and_says_what_to_do(tmp_path: Path) -> None:
    started = _start({"MEMENTO_HOME": str(tmp_path), "MEMENTO_CODE_BWRAP": "/no/such/bwrap"})
    assert started.returncode == 2
    assert "bubblewrap" in started.stderr and "apt-get install bubblewrap" in started.stderr
    assert "MEMENTO_CODE_SANDBOX=none" in started.stderr


@pytest.mark.integration
async def test_the_unsandboxed_mode_works_and_warns_on_start_and_in_every_result(tmp_path: Path) -> None:
    started = _start({"MEMENTO_HOME": str(tmp_path), "MEMENTO_CODE_SANDBOX": "none"})
    assert started.returncode == 0 and UNSANDBOXED_WARNING in started.stderr
    env = {"MEMENTO_HOME": str(tmp_path), "MEMENTO_CODE_SANDBOX": "none"}
    async with stdio_client_for("code", env=env) as client:
        result, text, data = await run(client, "import os\nvalue = os.getcwd()\nvalue")
        assert text.startswith(UNSANDBOXED_WARNING) and text.count(UNSANDBOXED_WARNING) == 1
        assert data["notes"][0] == UNSANDBOXED_WARNING
        assert data["value"] == repr(str(tmp_path / "workspaces" / "default"))
        result, text, data = await run(client, "1 / 0")
        assert result.is_error and text.startswith(UNSANDBOXED_WARNING)
        listing = await client.call_tool("list_sessions", {})
        assert UNSANDBOXED_WARNING in listing.content[0].text and listing.structured_content["sandbox"] == "none"
        _, _, data = await run(client, "import subprocess\nsubprocess.Popen(['sleep', '60']).pid", timeout_s=5)
        child = Path(f"/proc/{data['value']}")
        deadline = time.monotonic() + 10
        while child.exists() and time.monotonic() < deadline:  # the call's processes end with it, here too
            time.sleep(0.02)
        assert not child.exists()


@pytest.mark.integration
async def test_the_server_works_over_streamable_http(tmp_path: Path) -> None:
    async with http_client_for("code", env={"MEMENTO_HOME": str(tmp_path)}) as client:
        await run(client, "import matplotlib.pyplot as plt\nxs = [1, 2, 3]")
        result, text, _data = await run(client, "plt.plot(xs, [v * v for v in xs])\nsum(xs)", timeout_s=60)
        assert text.startswith("Out: 6") and len(png_images(result)) == 1
        listed = await client.call_tool("list_files", {})
        assert not listed.is_error


@pytest.mark.integration
def test_the_tools_work_from_the_mcp_inspector_cli(tmp_path: Path) -> None:
    settings = server_env({"MEMENTO_HOME": str(tmp_path)})

    def inspector(*args: str) -> dict:
        return run_inspector([sys.executable, "-m", "memento.servers.code"], *args, settings=settings)

    names = {tool["name"] for tool in inspector("--method", "tools/list")["tools"]}
    assert {"run_python", "run_shell", "install_packages", "list_sessions"} <= names
    reply = inspector("--method", "tools/call", "--tool-name", "run_python", "--tool-arg", "code=sum(range(10))")
    assert reply["content"][0]["text"] == "Out: 45"


def _wheel(folder: Path, name: str = "memento_demo_pkg", version: str = "1.0") -> Path:
    """A tiny pure-Python wheel, and a simple-index page for it."""
    project = folder / "index" / name.replace("_", "-")
    project.mkdir(parents=True)
    wheel = project / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "ANSWER = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: memento-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    (project / "index.html").write_text(f'<html><body><a href="{wheel.name}">{wheel.name}</a></body></html>')
    return folder / "index"


@pytest.mark.integration
async def test_installed_packages_belong_to_one_session_and_load_without_a_restart(tmp_path: Path) -> None:
    index = _wheel(tmp_path)
    env = {"MEMENTO_HOME": str(tmp_path / "home"), "MEMENTO_CODE_INDEX_URL": index.as_uri() + "/", "PIP_CONFIG_FILE": os.devnull}
    async with stdio_client_for("code", env=env) as client:
        await run(client, "before = 'running'", session="pk")  # an interpreter already running sees the install
        done = await client.call_tool("install_packages", {"names": ["memento-demo-pkg"], "session": "pk"})
        assert not done.is_error, done.content[0].text
        assert done.structured_content["installed"] == ["memento_demo_pkg==1.0"]
        _, text, _ = await run(client, "import memento_demo_pkg\n(before, memento_demo_pkg.ANSWER)", session="pk")
        assert text == "Out: ('running', 42)"
        result, _, data = await run(client, "import memento_demo_pkg", session="other")
        assert result.is_error and "ModuleNotFoundError" in data["error"]
        missing = await client.call_tool("install_packages", {"names": ["no-such-package-here"], "session": "pk"})
        assert missing.is_error and "pip could not install" in missing.content[0].text
        refused = await client.call_tool("install_packages", {"names": ["--index-url=http://evil/"], "session": "pk"})
        assert refused.is_error and "not a package name" in refused.content[0].text
        listing = await client.call_tool("list_sessions", {})
        packages = {s["name"]: s["packages"] for s in listing.structured_content["sessions"]}
        assert packages["pk"] == ["memento_demo_pkg==1.0"] and packages["other"] == []


async def _wait_stopped(client, name: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listing = await client.call_tool("list_sessions", {})
        if not {s["name"]: s for s in listing.structured_content["sessions"]}[name]["running"]:
            return
        await _pause()
    raise AssertionError(f"session {name} still running")


async def _pause() -> None:
    import anyio

    await anyio.sleep(0.05)


async def test_an_idle_interpreter_is_stopped_and_the_next_call_is_told(tmp_path: Path) -> None:
    settings = CodeSettings.from_env({"MEMENTO_HOME": str(tmp_path), "MEMENTO_CODE_IDLE_S": "0.3"})
    async with Client(build(settings)) as client:
        await run(client, "x = 1\nopen('kept.txt', 'w').write('k')")
        await _wait_stopped(client, "default")
        result, text, data = await run(client, "open('kept.txt').read() + str(x)")
        assert result.is_error and "NameError" in data["error"]
        assert "idle" in text and "files in /workspace remain" in text
        _, text, _ = await run(client, "open('kept.txt').read()")
        assert text == "Out: 'k'"  # told once


async def test_past_the_session_cap_the_least_recently_used_interpreter_makes_room(tmp_path: Path) -> None:
    settings = CodeSettings.from_env({"MEMENTO_HOME": str(tmp_path), "MEMENTO_CODE_MAX_SESSIONS": "1"})
    async with Client(build(settings)) as client:
        await run(client, "x = 'a'", session="a")
        _, text, _ = await run(client, "x = 'b'\nx", session="b")
        assert text == "Out: 'b'"
        result, text, _ = await run(client, "x", session="a")
        assert result.is_error and "make room for session 'a'" not in text and "make room for session 'b'" in text


@pytest.mark.integration
async def test_the_sandboxes_die_with_the_server(tmp_path: Path) -> None:
    import signal

    from tests.code_helpers import descendants, sandbox_pid

    params_env = {"MEMENTO_HOME": str(tmp_path)}
    with pytest.raises(BaseException) as ended:  # the client notices its server is gone
        async with stdio_client_for("code", env=params_env) as client:
            await run(client, "import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()")
            sandbox = await sandbox_pid(client)
            inside = descendants(sandbox)
            server = int(Path(f"/proc/{sandbox}/stat").read_text().rsplit(")", 1)[1].split()[1])
            os.kill(server, signal.SIGKILL)  # the server this test started, abruptly
            deadline = time.monotonic() + 20
            while any(Path(f"/proc/{p}").exists() for p in [sandbox, *inside]) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not any(Path(f"/proc/{p}").exists() for p in [sandbox, *inside])
            raise _Done
    assert ended.group_contains(_Done) if isinstance(ended.value, BaseExceptionGroup) else isinstance(ended.value, _Done)


class _Done(Exception):
    """Raised once the check is done, to leave the client of a killed server."""
