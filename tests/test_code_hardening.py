"""The code server against the attacks of the hardening review: package names that are files, sessions starving
each other of processes, a workspace quota hidden behind many entries, forged reply frames, threads that
outlive their call, nested user namespaces. Each case checks what happened on the host, not only the text."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import pytest

from memento.servers.code.settings import CodeSettings

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
    env = packages.pip_environment(tmp_path)
    assert not any(k.startswith("PIP_") for k in env) and "OPENAI_API_KEY" not in env and env["HOME"] == str(tmp_path)
