"""Hostile code is contained, over stdio: each case checks the host and the server afterwards, not only the
error text. Limits are set small so the cases are quick."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.code_helpers import FAKE_SECRET, descendants, peak_address_space, run, sandbox_pid, shell
from tests.mcp_servers import ROOT, stdio_client_for

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MEMORY = 512 * 1024**2
FILE_MAX = 20 * 1000**2
WORKSPACE_MAX = 60 * 1000**2
OUTPUT_MAX = 20_000
PROCESSES = 32


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
async def client(home: Path):
    env = {
        "MEMENTO_HOME": str(home),
        "MEMENTO_CODE_MEMORY": str(MEMORY),
        "MEMENTO_CODE_MAX_FILE_SIZE": str(FILE_MAX),
        "MEMENTO_CODE_WORKSPACE_SIZE": str(WORKSPACE_MAX),
        "MEMENTO_CODE_MAX_OUTPUT": str(OUTPUT_MAX),
        "MEMENTO_CODE_MAX_PROCESSES": str(PROCESSES),
        "MEMENTO_CODE_CPU_S": "2",
        "OPENAI_API_KEY": FAKE_SECRET,  # what a host hands a server; must never reach the code
    }
    async with stdio_client_for("code", env=env) as client:
        yield client


async def _alive(client, session: str = "default") -> None:
    result, text, _ = await run(client, "6 * 7", session=session)
    assert not result.is_error and text == "Out: 42", text


def _settles(condition, timeout_s: float = 10.0) -> bool:
    """Bounded polling: dead processes take a moment to be reaped."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _server_pid(sandbox: int) -> int:
    return int(Path(f"/proc/{sandbox}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def test_an_infinite_loop_is_stopped_at_its_timeout_and_keeps_the_variables(client) -> None:
    await run(client, "kept = 'still here'", session="loop")
    pid = await sandbox_pid(client, "loop")
    started = time.monotonic()
    result, text, data = await run(client, "while True:\n    pass", session="loop", timeout_s=1)
    assert result.is_error and "Stopped after 1 s" in data["error"] and "variables set before the stop are kept" in text
    assert time.monotonic() - started < 10
    _, text, _ = await run(client, "kept", session="loop")
    assert text == "Out: 'still here'" and await sandbox_pid(client, "loop") == pid


async def test_code_that_ignores_interrupts_or_never_returns_is_killed_with_its_sandbox(client) -> None:
    enders = [
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)",
        "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\nwhile True:\n    time.sleep(0.05)",
        "import os\nos._exit(0)",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "import ctypes\nctypes.string_at(0)",  # a segfault
    ]
    for code in enders:
        await run(client, "x = 1", session="enders")
        old = await sandbox_pid(client, "enders")
        result, text, data = await run(client, code, session="enders", timeout_s=1)
        assert result.is_error and "variables are lost" in data["error"], (code, text)
        assert not Path(f"/proc/{old}").exists(), code  # the whole sandbox is gone from the host
        result, _, data = await run(client, "x", session="enders")  # a fresh interpreter answers
        assert result.is_error and "NameError" in data["error"]


async def test_a_cpu_hog_is_stopped_by_its_cpu_time_limit(client) -> None:
    result, text, data = await run(client, "while True:\n    pass", session="cpu", timeout_s=60)
    assert result.is_error and "CpuLimitExceeded" in data["error"] and "MEMENTO_CODE_CPU_S" in text
    await _alive(client, "cpu")


async def test_a_fork_bomb_is_capped_and_leaves_no_process_behind(client) -> None:
    started = time.monotonic()
    result, text, data = await run(client, "import os\nwhile True:\n    os.fork()", session="bomb", timeout_s=20)
    assert result.is_error and "Resource temporarily unavailable" in data["error"] and "MEMENTO_CODE_MAX_PROCESSES" in text
    assert time.monotonic() - started < 20
    pid = await sandbox_pid(client, "bomb")
    assert _settles(lambda: len(descendants(pid)) <= 2)  # bwrap's init and the interpreter, nothing else
    result, text, data = await shell(client, "bomb() { bomb | bomb; }; bomb", session="bomb", timeout_s=5)
    assert "Cannot fork" in data["stderr"] and data["exit_code"] != 0
    pid = await sandbox_pid(client, "bomb")
    assert _settles(lambda: len(descendants(pid)) <= 2)
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes
    await _alive(client, "bomb")


async def test_a_memory_hog_gets_a_memory_error_and_never_holds_more_than_the_limit(client) -> None:
    result, text, data = await run(client, "big = bytearray(8 * 1024**3)", session="hog")
    assert result.is_error and "MemoryError" in data["error"] and "MEMENTO_CODE_MEMORY" in text
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024**2))"
    result, text, data = await run(client, code, session="hog", timeout_s=60)
    assert result.is_error and "MemoryError" in data["error"]
    pid = await sandbox_pid(client, "hog")
    peaks = [peak_address_space(p) for p in descendants(pid)]
    assert peaks and max(peaks) <= MEMORY
    _, text, _ = await run(client, "n = len(chunks)\ndel chunks\nn > 10", session="hog")
    assert text == "Out: True"
    await _alive(client, "hog")


async def test_writing_10_gb_stops_at_the_file_and_workspace_limits(client, home: Path) -> None:
    code = "with open('big.bin', 'wb') as f:\n    for _ in range(10 * 1024):\n        f.write(bytes(1024**2))"
    result, text, data = await run(client, code, session="disk", timeout_s=60)
    assert result.is_error and "File too large" in data["error"] and "MEMENTO_CODE_MAX_FILE_SIZE" in text
    workspace = home / "workspaces" / "disk"
    assert (workspace / "big.bin").stat().st_size <= FILE_MAX
    code = "i = 0\nwhile True:\n    open(f'part{i}.bin', 'wb').write(bytes(5 * 1000**2))\n    i += 1"
    result, text, data = await run(client, code, session="disk", timeout_s=60)
    assert result.is_error and "over its" in data["error"] and "MEMENTO_CODE_WORKSPACE_SIZE" in text
    used = sum(p.stat().st_size for p in workspace.iterdir())
    assert used <= WORKSPACE_MAX + 100 * 1000**2  # stopped within a check interval
    write_more = "with open('more.txt', 'w') as f:\n    f.write('x' * 10)"
    result, text, data = await run(client, write_more, session="disk")
    assert result.is_error and "File too large" in data["error"] and "writing files is blocked" in text
    await shell(client, "rm -f part*.bin big.bin", session="disk")
    result, _, _ = await run(client, write_more, session="disk")
    assert not result.is_error and (workspace / "more.txt").stat().st_size == 10  # room again


async def test_printing_a_gigabyte_is_cut_with_a_note_and_costs_the_server_nothing(client) -> None:
    started = time.monotonic()
    result, text, data = await run(client, "for _ in range(1000):\n    print('x' * 10**6)", session="flood", timeout_s=120)
    assert len(data["stdout"]) == OUTPUT_MAX and not result.is_error
    assert f"stdout cut: {1000 * (10**6 + 1) - OUTPUT_MAX:,} more bytes not shown" in text
    result, text, data = await shell(client, "head -c 300000000 /dev/zero | tr '\\0' y", session="flood", timeout_s=120)
    assert data["stdout"] == "y" * OUTPUT_MAX and f"{300_000_000 - OUTPUT_MAX:,} more bytes" in text
    assert time.monotonic() - started < 90
    server = _server_pid(await sandbox_pid(client, "flood"))
    rss_peak = int(next(line for line in Path(f"/proc/{server}/status").read_text().splitlines() if line.startswith("VmHWM")).split()[1])
    assert rss_peak < 400 * 1024  # KiB: the server never held the flood
    await _alive(client, "flood")


async def test_no_network_neither_loopback_nor_outside(client) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        code = (
            "import socket, errno\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2); tcp = 'connected'\n"
            "except OSError as e:\n    tcp = errno.errorcode[e.errno]\n"
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"  # UDP connect only picks a route: no packet
            "try:\n    u.connect(('192.0.2.1', 53)); udp = 'routed'\n"
            "except OSError as e:\n    udp = errno.errorcode[e.errno]\n"
            "try:\n    socket.getaddrinfo('example.com', 80); dns = 'resolved'\n"
            "except OSError as e:\n    dns = type(e).__name__\n"
            "routes = open('/proc/net/route').read().splitlines()[1:]\n"
            "(tcp, udp, dns, [n for _, n in socket.if_nameindex()], routes)"
        )
        _, text, _ = await run(client, code, session="net")
        assert text == "Out: ('ECONNREFUSED', 'ENETUNREACH', 'gaierror', ['lo'], [])"
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached the host's loopback
    finally:
        listener.close()


async def test_host_secrets_the_server_env_and_its_files_are_invisible(client, home: Path) -> None:
    code = (
        "import os, glob\n"
        "seen = []\n"
        "for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n"
        "    try:\n        seen.append(open(path, 'rb').read())\n    except OSError:\n        pass\n"
        f"(os.path.exists('/etc/shadow'), {FAKE_SECRET!r} in repr(os.environ) + repr(seen),\n"
        f" os.path.exists({str(ROOT / 'servers')!r}), os.path.exists({str(home)!r}), sorted(os.listdir('/home')) if os.path.exists('/home') else None)"
    )
    _result, text, _ = await run(client, code, session="peek")
    assert text == "Out: (False, False, False, False, None)", text
    _, text, data = await shell(client, "env; cat /etc/shadow; ls /root; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'", session="peek")
    assert FAKE_SECRET not in text and "OPENAI_API_KEY" not in data["stdout"]
    assert "No such file" in data["stderr"]


async def test_killing_the_parent_or_everything_leaves_the_server_running(client) -> None:
    await run(client, "marker = 1", session="killer")
    pid = await sandbox_pid(client, "killer")
    _result, _text, _data = await run(
        client, "import os\nos.kill(os.getppid(), 9)\nos.kill(1, 9)\nos.kill(-1, 9)\n'survived'", session="killer"
    )
    assert await sandbox_pid(client, "killer") == pid and Path(f"/proc/{_server_pid(pid)}").exists()
    await run(client, "import os, signal\nos.killpg(0, signal.SIGKILL)", session="killer")
    await _alive(client, "killer")
    await _alive(client)


async def test_dot_dot_and_symlinks_do_not_escape_the_workspace(client, home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "host-secret.txt"
    outside.write_text("host-only-token")
    outside.chmod(0o644)
    code = (
        "import os\n"
        f"os.symlink('/etc/passwd', 'pw'); os.symlink('../..', 'up'); os.symlink({str(outside)!r}, 'hs')\n"
        f"os.symlink({str(tmp_path)!r}, 'hostdir')\n"
        "found = []\n"
        f"for p in ('../../etc/shadow', 'hs', 'hostdir/host-secret.txt', 'up/up/up/etc/shadow', {str(outside)!r}):\n"
        "    try:\n        found.append(open(p).read())\n    except OSError as e:\n        found.append(type(e).__name__)\n"
        "(found, sorted(os.listdir('/work/main')) if os.path.exists('/work/main') else [])"
    )
    _, text, _ = await run(client, code, session="escape")
    assert "host-only-token" not in text and "FileNotFoundError" in text and "'servers'" not in text
    for tool, arguments in [
        ("read_file", {"path": "hs"}),
        ("read_file", {"path": "hostdir/host-secret.txt"}),
        ("read_file", {"path": "pw"}),
        ("read_file", {"path": "up/workspaces/default/x"}),
        ("read_file", {"path": "../escape/hs"}),
        ("list_files", {"path": "up"}),
        ("list_files", {"path": "hostdir"}),
        ("list_files", {"path": ".."}),
        ("write_file", {"path": "hostdir/planted.txt", "content": "x"}),
        ("write_file", {"path": "../planted.txt", "content": "x"}),
        ("write_file", {"path": "hs", "content": "overwritten"}),
    ]:
        result = await client.call_tool(tool, {**arguments, "session": "escape"})
        assert result.is_error, (tool, arguments, result.content[0].text)
        assert "host-only-token" not in result.content[0].text and "root:" not in result.content[0].text
    assert outside.read_text() == "host-only-token"
    assert not (tmp_path / "planted.txt").exists() and not (home / "workspaces" / "planted.txt").exists()
