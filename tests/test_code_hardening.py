"""The code server against the attacks of the hardening review: package names that are files, sessions starving
each other of processes, a workspace quota hidden behind many entries, forged reply frames, threads that
outlive their call, nested user namespaces. Each case checks what happened on the host, not only the text."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from memento.servers.code.server import build
from memento.servers.code.settings import CodeSettings
from tests.code_helpers import run, shell

pytestmark = pytest.mark.anyio

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="per-session users are what the server does as root")


async def _until(condition, timeout_s: float = 20.0) -> None:
    """Bounded polling of something the host can see."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await anyio.sleep(0.02)


def _settings(home: Path, **extra: str) -> CodeSettings:
    return CodeSettings.from_env({"MEMENTO_HOME": str(home), **{f"MEMENTO_CODE_{k.upper()}": v for k, v in extra.items()}})


# ---- 5. install_packages never installs a file and never builds ----------------------------------------------


def _sdist_that_plants(folder: Path, marker: Path) -> None:
    """evil-1.0.tar.gz whose setup.py writes `marker` if anything ever runs it."""
    import io
    import tarfile

    setup = f"open({str(marker)!r}, 'w').write('ran')\nfrom setuptools import setup\nsetup(name='evil', version='1.0')\n"
    with tarfile.open(folder / "evil-1.0.tar.gz", "w:gz") as archive:
        data = setup.encode()
        info = tarfile.TarInfo("evil-1.0/setup.py")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))


@pytest.mark.integration
async def test_a_package_name_that_is_a_file_in_the_servers_folder_is_refused_and_never_run(tmp_path: Path) -> None:
    from tests.mcp_servers import stdio_client_for

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    marker = tmp_path / "setup-py-ran"
    _sdist_that_plants(cwd, marker)
    (cwd / "evil-1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    index = tmp_path / "index"
    index.mkdir()
    env = {"MEMENTO_HOME": str(tmp_path / "home"), "MEMENTO_CODE_INDEX_URL": index.as_uri() + "/"}
    async with stdio_client_for("code", env=env, cwd=cwd) as client:
        for name in ("evil-1.0.tar.gz", "evil-1.0-py3-none-any.whl", "./evil-1.0.tar.gz", "evil.zip"):
            result = await client.call_tool("install_packages", {"names": [name], "session": "pk"})
            text = result.content[0].text
            assert result.is_error and ("is a file name" in text or "is not a package name" in text), (name, text)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["evil-1.0.tar.gz", "evil-1.0-py3-none-any.whl", "evil.zip", "Evil-1.0.TGZ", "./evil-1.0.tar.gz", "x.egg"])
def test_file_names_are_refused_as_package_names(name: str) -> None:
    from memento.servers.code import packages
    from memento.servers.common.errors import InvalidInput

    with pytest.raises(InvalidInput):
        packages.check_names([name], CodeSettings.from_env({}))


def test_pip_gets_canonical_names_wheels_only_and_neither_configuration_nor_variables(tmp_path: Path, monkeypatch) -> None:
    from memento.servers.code import packages

    names = packages.check_names(["Foo.Bar_baz[Extra_1]>=1.0", "zope.interface"], CodeSettings.from_env({}))
    assert names == ["foo-bar-baz[extra-1]>=1.0", "zope-interface"]
    monkeypatch.setenv("PIP_FIND_LINKS", "/tmp/planted")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-pip")
    argv = packages.pip_command(names, tmp_path / "site", CodeSettings.from_env({}), "python")
    assert {"--isolated", "--only-binary=:all:", "--no-cache-dir"} <= set(argv) and "--find-links" not in argv
    assert argv[argv.index("--") + 1 :] == names
    host = {"PIP_FIND_LINKS": "/tmp/planted", "OPENAI_API_KEY": "sk-not-for-pip", "HTTPS_PROXY": "http://proxy:3128", "TMPDIR": "/x"}
    env = packages.pip_environment(tmp_path, CodeSettings.from_env(host))
    assert not any(k.startswith("PIP_") for k in env) and "OPENAI_API_KEY" not in env and env["HOME"] == str(tmp_path)
    assert env["HTTPS_PROXY"] == "http://proxy:3128" and env["TMPDIR"] == str(tmp_path)


# ---- 6. every session has its own process budget ----------------------------------------------------------------

_HOG = """
import pathlib, threading, time
stop = threading.Event()
held = []
try:
    while True:
        thread = threading.Thread(target=stop.wait, args=(30,), daemon=True)
        thread.start()
        held.append(thread)
except RuntimeError:
    pass
pathlib.Path('full').write_text(str(len(held)))
deadline = time.monotonic() + 30
while not pathlib.Path('release').exists() and time.monotonic() < deadline:
    time.sleep(0.02)
stop.set()
len(held)
"""


@ROOT_ONLY
async def test_a_session_using_all_its_processes_leaves_other_sessions_and_servers_able_to_run(tmp_path: Path) -> None:
    one = build(_settings(tmp_path / "one", max_processes="16"))
    two = build(_settings(tmp_path / "two", max_processes="16"))
    hog_folder = tmp_path / "one" / "workspaces" / "hog"
    outcome: dict = {}
    async with Client(one) as first, Client(two) as second:

        async def hog() -> None:
            outcome["hog"] = await run(first, _HOG, session="hog", timeout_s=60)

        async with anyio.create_task_group() as group:
            group.start_soon(hog)
            await _until(lambda: (hog_folder / "full").exists())
            try:
                for client, session in ((first, "neighbour"), (second, "other-server")):
                    result, text, _ = await run(
                        client, "import threading\nt = threading.Thread(target=print)\nt.start(); t.join()\n6 * 7", session=session
                    )
                    assert not result.is_error and text.endswith("Out: 42"), (session, text)
            finally:
                (hog_folder / "release").write_text("")
    _, text, _ = outcome["hog"]
    assert int((hog_folder / "full").read_text()) >= 10, text  # it really held (nearly) all of its 16


@ROOT_ONLY
async def test_an_interpreter_that_cannot_start_is_a_clean_tool_error(tmp_path: Path) -> None:
    uid = 3_999_917  # the only sandbox user this server may use; this test fills its process budget first
    sleepers = [subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[], stdin=subprocess.DEVNULL) for _ in range(4)]
    try:
        async with Client(build(_settings(tmp_path, max_processes="4", uid_range=f"{uid}-{uid}"))) as client:
            result, text, _ = await run(client, "6 * 7")
            assert result.is_error and "Traceback" not in text and 'File "' not in text, text
            assert "could not start" in text and "MEMENTO_CODE_MAX_PROCESSES" in text, text
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()


@ROOT_ONLY
async def test_when_every_sandbox_user_is_taken_a_new_session_is_told_so(tmp_path: Path) -> None:
    uid = 3_999_918
    async with Client(build(_settings(tmp_path, uid_range=f"{uid}-{uid}"))) as client:
        result, text, _ = await run(client, "1", session="first")
        assert not result.is_error
        result, text, _ = await run(client, "1", session="second")
        assert result.is_error and "MEMENTO_CODE_UID_RANGE" in text and "Traceback" not in text, text
        await client.call_tool("reset_session", {"session": "first"})  # its user is free again
        result, text, _ = await run(client, "open('f', 'w').write('x')", session="second")
        assert not result.is_error, text


def test_a_sandbox_user_id_is_held_by_one_session_on_the_whole_machine_until_released() -> None:
    from memento.servers.code.users import SandboxUsers
    from memento.servers.common.errors import ServerError

    first_server, second_server = SandboxUsers(3_999_930, 3_999_931), SandboxUsers(3_999_930, 3_999_931)
    a = first_server.take("home\0a")
    b = second_server.take("home\0a")  # the same session name in another server: the other id
    assert {a.uid, b.uid} == {3_999_930, 3_999_931}
    with pytest.raises(ServerError, match="MEMENTO_CODE_UID_RANGE"):
        first_server.take("home\0c")
    a.release()
    c = second_server.take("home\0c")
    assert c.uid == a.uid
    for lease in (b, c):
        lease.release()


@ROOT_ONLY
def test_a_workspace_is_handed_to_its_user_without_following_links(tmp_path: Path) -> None:
    from memento.servers.code import workspace

    outside = tmp_path / "outside.txt"
    outside.write_text("host")
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / "f.txt").write_text("x")
    os.symlink(outside, ws / "link")
    os.symlink(tmp_path, ws / "sub" / "up")
    workspace.hand_over(ws, 3_999_940)
    assert {p.lstat().st_uid for p in [ws, *ws.rglob("*")]} == {3_999_940}
    assert outside.stat().st_uid == os.getuid() and tmp_path.stat().st_uid == os.getuid()


# ---- 7. the workspace quota cannot be hidden behind many entries ------------------------------------------------

_HIDE = """
import os
os.makedirs('zzz', exist_ok=True)
for i in range(20_001):
    open(f'zzz/{i}', 'w').close()
os.makedirs('aaa', exist_ok=True)
for i in range(100):
    with open(f'aaa/part{i}.bin', 'wb') as f:
        f.write(os.urandom(4 * 1000**2))
"""


async def test_thousands_of_empty_files_do_not_hide_data_from_the_workspace_quota(tmp_path: Path) -> None:
    limit = 20 * 1000**2
    async with Client(build(_settings(tmp_path, workspace_size=str(limit)))) as client:
        result, text, data = await run(client, _HIDE, session="hide", timeout_s=120)
        assert result.is_error and "over its" in data["error"] and "MEMENTO_CODE_WORKSPACE_SIZE" in text, text
    on_disk = sum(p.stat().st_size for p in (tmp_path / "workspaces" / "hide" / "aaa").iterdir())
    print(f"written under a {limit:,}-byte quota: {on_disk:,} bytes")
    assert on_disk <= limit + 100 * 1000**2  # stopped within a check interval, far from the 400 MB it tried


async def test_a_workspace_with_more_entries_than_allowed_stops_the_call(tmp_path: Path) -> None:
    async with Client(build(_settings(tmp_path, workspace_files="1000"))) as client:
        code = "import os, time\nfor i in range(5000):\n    open(f'f{i}', 'w').close()\ntime.sleep(5)"
        result, text, data = await run(client, code, session="many", timeout_s=60)
        assert result.is_error and "MEMENTO_CODE_WORKSPACE_FILES" in text, text
        assert "Stopped after" not in data["error"]


# ---- 8. the server enforces the output caps itself ------------------------------------------------------------

_FORGE = """
import base64, gc, json, os, struct, zlib
kernel = next(o for o in gc.get_objects() if type(o).__name__ == 'Kernel')
def chunk(kind, data):
    return struct.pack('!I', len(data)) + kind + data + struct.pack('!I', zlib.crc32(kind + data))
png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('!IIBBBBB', 1, 1, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(b'\\x00\\x00')) + chunk(b'IEND', b'')
forged = {'id': kernel.running, 'value': 'v' * 3_000_000, 'error': None, 'images': [base64.b64encode(png).decode()] * 40}
payload = json.dumps(forged).encode()
os.write(kernel.replies, struct.pack('!I', len(payload)) + payload)
"""

_HUGE_HEADER = """
import gc, os, struct, time
kernel = next(o for o in gc.get_objects() if type(o).__name__ == 'Kernel')
os.write(kernel.replies, struct.pack('!I', 200 * 1024**2) + b'{')
time.sleep(20)
"""


async def test_a_forged_reply_frame_gets_no_more_output_through_than_the_caps(tmp_path: Path) -> None:
    async with Client(build(_settings(tmp_path, max_output="20000", max_images="3"))) as client:
        result, text, data = await run(client, _FORGE, session="forge")
        images = [c for c in result.content if c.type == "image"]
        assert len(images) <= 3 and data["images"] <= 3
        assert data["value"] is None or len(data["value"]) <= 20_000 + 200, len(data["value"])
        assert len(text) < 25_000
        started = time.monotonic()
        result, text, data = await run(client, _HUGE_HEADER, session="forge", timeout_s=15)
        assert result.is_error and "reply" in text and time.monotonic() - started < 10, text
        _, text, _ = await run(client, "6 * 7", session="forge")
        assert text.endswith("Out: 42")


# ---- 9. threads outlive their call, by design, but cannot grow files between calls -------------------------------

_WRITER = """
import threading, time
def keep_writing():
    with open('log.txt', 'a') as log:
        for _ in range(500):
            try:
                log.write('x' * 1000)
                log.flush()
            except OSError:
                pass
            time.sleep(0.01)
threading.Thread(target=keep_writing, daemon=True).start()
time.sleep(0.2)
"""


async def test_a_thread_left_running_is_reported_and_cannot_grow_files_between_calls(tmp_path: Path) -> None:
    log = tmp_path / "workspaces" / "threads" / "log.txt"
    async with Client(build(_settings(tmp_path))) as client:
        result, text, _ = await run(client, _WRITER, session="threads")
        assert not result.is_error and "1 thread started by the code is still running" in text, text
        size = log.stat().st_size
        assert size > 0  # it wrote during the call
        await anyio.sleep(1.0)
        assert log.stat().st_size == size  # and nothing after it
        result, text, _ = await run(client, "import time\ntime.sleep(0.5)", session="threads")
        assert log.stat().st_size > size  # a call lets it write again, under the call's watch


# ---- 10. no nested user namespaces; no host paths in the sandbox's process 1 ---------------------------------

_UNSHARE = """
import ctypes, os
def in_child(flags):  # a forked child has one thread, as unshare(CLONE_NEWUSER) requires
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.unshare(flags) == 0 else ctypes.get_errno())
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
[in_child(0x10000000), in_child(0x10000000 | 0x00020000), in_child(0)]  # NEWUSER, NEWUSER|NEWNS, nothing
"""


async def test_code_cannot_make_user_namespaces_and_process_1_shows_no_host_path(tmp_path: Path) -> None:
    import errno

    async with Client(build(_settings(tmp_path))) as client:
        _, text, _ = await run(client, _UNSHARE, session="ns")
        assert text == f"Out: [{errno.EPERM}, {errno.EPERM}, 0]", text
        _, text, data = await shell(client, "unshare -r id -u; echo rc=$?; cat /proc/1/cmdline | tr '\\0' ' '", session="ns")
        assert "rc=0" not in data["stdout"] and "rc=" in data["stdout"], text
        assert str(tmp_path) not in text and "--bind" not in text, text
        _result, text, _ = await run(
            client,
            "import threading, subprocess\nt = threading.Thread(target=print); t.start(); t.join()\nsubprocess.run(['true']).returncode",
            session="ns",
        )
        assert text.endswith("Out: 0"), text
