"""Code server parts without a server: path confinement, output capture, package names, settings, the sandbox
command line, the kernel's framing. Fast; no interpreter is started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memento.servers.code import files, kernel_io, packages, workspace
from memento.servers.code.output import Capture
from memento.servers.code.sandbox import Sandbox, SessionPaths
from memento.servers.code.settings import CodeSettings
from memento.servers.common.errors import AccessDenied, InvalidInput
from memento.servers.common.settings import SettingsError


@pytest.fixture
def root(tmp_path: Path) -> workspace.Root:
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / "data.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("outside-secret")
    os.symlink("/etc/passwd", ws / "abs_out")
    os.symlink("../secret.txt", ws / "rel_out")
    os.symlink(tmp_path, ws / "dir_out")
    os.symlink("sub/data.txt", ws / "rel_in")
    os.symlink("/workspace/sub/data.txt", ws / "abs_in")
    os.symlink("loop_b", ws / "loop_a")
    os.symlink("loop_a", ws / "loop_b")
    return workspace.Root("/workspace", ws, writable=True)


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "sub/../../secret.txt",
        "/etc/passwd",
        "/workspace/../secret.txt",
        "abs_out",
        "rel_out",
        "dir_out/secret.txt",
        "/inputs/x",
    ],
)
def test_paths_leading_out_of_the_workspace_are_refused(root: workspace.Root, path: str) -> None:
    with pytest.raises(AccessDenied):
        files.read([root], path, 0, 1000, 10_000)


@pytest.mark.parametrize("path", ["sub/data.txt", "/workspace/sub/data.txt", "rel_in", "abs_in", "sub/./x/../data.txt"])
def test_paths_and_links_inside_the_workspace_are_followed(root: workspace.Root, path: str) -> None:
    assert files.read([root], path, 0, 1000, 10_000).page.content == "inside"


def test_a_link_loop_is_an_error_not_a_hang(root: workspace.Root) -> None:
    with pytest.raises(InvalidInput, match="symbolic links"):
        root.locate("loop_a")


def test_writing_through_a_link_out_of_the_workspace_creates_nothing_outside(root: workspace.Root, tmp_path: Path) -> None:
    for path in ("dir_out/planted.txt", "../planted.txt", "abs_out"):
        with pytest.raises(AccessDenied):
            files.write([root], path, "x", False, 1000, 10_000, None)
    assert not (tmp_path / "planted.txt").exists()
    assert Path("/etc/passwd").read_text() != "x"


def test_a_link_swapped_in_after_resolution_is_not_followed(root: workspace.Root) -> None:
    parts = root.locate("sub/data.txt")
    os.rename(root.host / "sub", root.host / "sub_real")
    os.symlink(str(root.host.parent), root.host / "sub")  # what racing code could do
    with pytest.raises((AccessDenied, InvalidInput)):
        root.open(parts, os.O_RDONLY)


def test_the_size_walk_does_not_follow_links_out(root: workspace.Root) -> None:
    assert workspace.total_size(root.host) == len("inside")


def test_snapshots_tell_created_changed_and_deleted_files(tmp_path: Path) -> None:
    (tmp_path / "keep").write_text("a")
    (tmp_path / "change").write_text("a")
    (tmp_path / "gone").write_text("a")
    before = workspace.snapshot(tmp_path)
    (tmp_path / "change").write_text("longer")
    (tmp_path / "gone").unlink()
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "made.csv").write_text("x,y")
    found = workspace.changes(before, workspace.snapshot(tmp_path))
    assert found.created == [("new/made.csv", 3)]
    assert found.changed == [("change", 6)]
    assert found.deleted == ["gone"]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=400))
def test_a_capture_stops_at_its_marker_however_the_bytes_are_split(body: bytes, chunk: int, limit: int) -> None:
    end = kernel_io.marker("abc123")
    stream = body.replace(end, b"") + end + b"after the marker"
    capture = Capture(end, limit)
    for start in range(0, len(stream), chunk):
        if capture.feed(stream[start : start + chunk]):
            break
    clean = body.replace(end, b"")
    assert capture.done.is_set()
    assert bytes(capture.kept) == clean[:limit]
    assert capture.dropped == max(0, len(clean) - limit)


def test_kernel_frames_round_trip_through_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    try:
        message = {"op": "run", "code": "print('é\\udcff')", "id": 7}
        kernel_io.write_frame(write_fd, message)
        assert kernel_io.read_frame(read_fd) == message
    finally:
        os.close(read_fd)
        os.close(write_fd)


@pytest.mark.parametrize(
    "name",
    ["-r/etc/passwd", "--index-url=http://evil", "pkg @ https://evil/x.whl", "../local", "git+https://x/y", "C:\\pkg", "not a name!"],
)
def test_package_names_that_are_not_plain_requirements_are_refused(name: str) -> None:
    with pytest.raises((InvalidInput, AccessDenied)):
        packages.check_names([name], CodeSettings.from_env({}))


def test_the_allow_list_limits_what_can_be_installed() -> None:
    settings = CodeSettings.from_env({"MEMENTO_CODE_INSTALL_ALLOW": "statsmodels, NetworkX"})
    assert packages.check_names(["statsmodels>=0.14", "networkx"], settings) == ["statsmodels>=0.14", "networkx"]
    with pytest.raises(AccessDenied, match="not on this server's list"):
        packages.check_names(["requests"], settings)
    with pytest.raises(AccessDenied, match="turned off"):
        packages.check_names(["statsmodels"], CodeSettings.from_env({"MEMENTO_CODE_INSTALL": "false"}))


def test_code_settings_have_safe_defaults_and_name_bad_variables() -> None:
    s = CodeSettings.from_env({})
    assert s.code_sandbox == "bwrap"
    assert int(s.code_memory) == 2 * 1024**3 and s.code_max_processes == 64 and s.code_timeout_s == 30
    for variable, value in [
        ("MEMENTO_CODE_SANDBOX", "docker"),
        ("MEMENTO_CODE_MEMORY", "lots"),
        ("MEMENTO_CODE_INPUTS", "/no/such/folder"),
        ("MEMENTO_CODE_MAX_PROCESSES", "1"),
    ]:
        with pytest.raises(SettingsError, match=f"{variable}="):
            CodeSettings.from_env({variable: value})


def test_the_sandbox_command_carries_no_server_secret_and_mounts_only_what_it_needs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    settings = CodeSettings.from_env({"MEMENTO_HOME": str(tmp_path / "home")})
    sandbox = Sandbox(settings)
    sandbox.bwrap = "/usr/bin/bwrap"
    paths = SessionPaths(workspace=tmp_path / "ws", site=tmp_path / "site")
    launch = sandbox.launch(paths, uid=3_000_000 if sandbox.per_session_users else None)
    assert "sk-test-secret" not in " ".join(launch.argv) + " ".join(launch.env.values())
    assert "OPENAI_API_KEY" not in launch.env and launch.env["HOME"] == "/workspace"
    argv = launch.expanded_argv()  # bwrap reads its options from a descriptor
    launch.close_fds()
    assert {"--unshare-net", "--unshare-pid", "--die-with-parent"} <= set(argv)
    binds = {argv[i + 2] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind", "--ro-bind-try")}
    writable = {argv[i + 2] for i, a in enumerate(argv) if a == "--bind"}
    assert writable == {"/workspace"}
    assert "/" not in binds and "/etc" not in binds and "/etc/shadow" not in binds and "/home" not in binds
    assert str(Path(__file__).resolve().parent.parent) not in binds  # the project itself is not mounted


def test_a_missing_bwrap_stops_the_server_with_what_to_do(tmp_path: Path) -> None:
    settings = CodeSettings.from_env({"MEMENTO_HOME": str(tmp_path), "MEMENTO_CODE_BWRAP": "/no/such/bwrap"})
    with pytest.raises(SettingsError, match=r"apt-get install bubblewrap.*MEMENTO_CODE_SANDBOX=none"):
        Sandbox(settings).check()


def test_a_reply_announced_over_the_limit_is_refused_before_it_is_read_and_ends_the_conversation() -> None:
    from memento.core.errors import MementoError
    from memento.servers.code import interpreter

    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, kernel_io.HEADER.pack(1_000_000))
        with pytest.raises(interpreter.OversizedReply, match="1,000,000 bytes") as caught:
            interpreter._Replies(read_fd, limit=1000).next(5.0)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert isinstance(caught.value, MementoError)
    assert isinstance(caught.value, interpreter._GONE)  # caught wherever a closed reply pipe is
