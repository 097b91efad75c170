"""`memento servers new`: a new server is one command away, plugs in with no edit of this project, and checks itself.

The end-to-end test does what a user does: scaffold, `pip install -e`, `pytest`, `memento servers check`. It
installs into a throwaway virtualenv that sees this one's packages (a `.pth` file), so this venv stays as it was.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner
from mcp import Client
from mcp.server.mcpserver import MCPServer

from memento.agent.checks import declared_probe
from memento.agent.cli import cli
from memento.agent.hosts import load_config, plugin_entries
from memento.agent.llm.base import ToolSpec
from memento.agent.planner import system_prompt, tool_catalogue
from memento.agent.scaffold import GENERATED
from memento.servers.common.tooling import Probe, tool

ROOT = Path(__file__).resolve().parent.parent


def new(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["servers", "new", *args], prog_name="memento")
    return result.exit_code, result.output


def test_the_scaffold_writes_a_package_an_mcp_json_and_tests(tmp_path: Path) -> None:
    code, output = new("unit_convert", "--dir", str(tmp_path / "uc"))
    assert code == 0, output
    written = sorted(str(p.relative_to(tmp_path / "uc")) for p in (tmp_path / "uc").rglob("*") if p.is_file())
    assert written == sorted(
        [
            "pyproject.toml",
            "mcp.json",
            "memento_unit_convert/__init__.py",
            "memento_unit_convert/__main__.py",
            "memento_unit_convert/server.py",
            "memento_unit_convert/settings.py",
            "tests/test_server.py",
        ]
    )
    for path in (tmp_path / "uc").rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # every file is valid Python once the name is filled in
    server = (tmp_path / "uc" / "memento_unit_convert" / "server.py").read_text()
    assert "class UnitConvertSettings" in (tmp_path / "uc" / "memento_unit_convert" / "settings.py").read_text()
    assert "{{" not in server and "memento-unit-convert" in server
    assert '"command": "memento-unit-convert"' in (tmp_path / "uc" / "mcp.json").read_text()
    assert "pip install -e" in output and "servers check --config" in output


def test_the_generated_code_passes_this_projects_linter_and_formatter(tmp_path: Path) -> None:
    code, output = new("a_long_server_name_for_wrapping", "--dir", str(tmp_path / "out"))
    assert code == 0, output
    config = str(ROOT / "pyproject.toml")
    # I001 left out: in its own project the package sorts as first-party, here it would not.
    for command in (["check", "--ignore", "I001"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--config", config, str(tmp_path / "out")], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_help_explains_every_generated_file() -> None:
    code, output = new("--help")
    assert code == 0
    for _, target, _ in GENERATED:
        assert target.format(package="memento_NAME") in output, target


@pytest.mark.parametrize("name", ["Units", "2units", "unit-convert", "units__x", "class", "a" * 41, ""])
def test_an_invalid_name_is_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    code, output = new(name, "--dir", str(tmp_path / "out"))
    assert code != 0
    assert "Error:" in output and "name" in output
    assert not (tmp_path / "out").exists()


def test_a_name_whose_command_is_installed_is_refused(tmp_path: Path) -> None:
    code, output = new("documents", "--dir", str(tmp_path / "out"))
    assert code != 0
    assert "memento-documents is already installed" in output
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_empty_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, output = new("units", "--dir", str(tmp_path))
    assert code != 0
    assert "not an empty folder" in output
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_empty_folder_is_filled(tmp_path: Path) -> None:
    code, output = new("units", "--dir", str(tmp_path))
    assert code == 0, output
    assert (tmp_path / "memento_units" / "server.py").is_file()


@pytest.mark.anyio
async def test_a_declared_probe_travels_in_the_tool_list_and_the_checker_reads_it() -> None:
    server = MCPServer("probed")

    @tool(server)
    def other() -> str:
        """Not the probe."""
        return "no"

    @tool(server, probe=Probe({"word": "ping"}, "pong"))
    def answer(word: str) -> str:
        """Answer pong."""
        return "pong" if word == "ping" else "?"

    async with Client(server) as client:
        listed = (await client.list_tools()).tools
    assert declared_probe(listed) == ("answer", {"word": "ping"}, "pong")
    assert declared_probe([t for t in listed if t.name == "other"]) is None


def test_a_new_servers_tools_reach_the_planners_catalogue() -> None:
    spec = ToolSpec("units__echo", "Send a text back, a window at a time.\n\nMore.", {"type": "object"})
    prompt = system_prompt(3, today=datetime.date(2026, 1, 1), tools=tool_catalogue([spec]))
    assert "- units__echo: Send a text back, a window at a time." in prompt


def _installed_plugin(where: Path, monkeypatch: pytest.MonkeyPatch, settings_class: str = "FooSettings") -> None:
    """A server package `foo` as pip would leave it (its module and its .dist-info), found on sys.path."""
    package = where / "memento_foo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(
        "from pydantic import Field\n"
        "from memento.servers.common.settings import CommonSettings\n\n\n"
        "class FooSettings(CommonSettings):\n"
        "    foo_depth: int = Field(default=3, description='How deep foo digs.')\n\n\n"
        "class NotSettings:\n    pass\n"
    )
    info = where / "memento_foo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: memento-foo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[memento.servers]\nfoo = memento_foo.server:main\n\n[memento.settings]\nfoo = memento_foo.settings:{settings_class}\n"
    )
    monkeypatch.syspath_prepend(str(where))


def test_an_installed_server_package_joins_every_config_which_wins_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _installed_plugin(tmp_path, monkeypatch)
    [entry] = plugin_entries()
    # No memento-foo command beside this Python: the server starts as `python -m` of its entry point's module.
    assert (entry.name, entry.command, entry.args) == ("foo", sys.executable, ["-m", "memento_foo.server"])
    config = tmp_path / "mcp.json"
    config.write_text('{"mcpServers": {"bar": {"command": "bar"}}}')
    assert [e.name for e in load_config(config)] == ["bar", "foo"]
    assert [e.name for e in load_config(config, plugins=False)] == ["bar"]
    config.write_text('{"mcpServers": {"foo": {"command": "my-foo"}}}')
    assert [(e.name, e.command) for e in load_config(config)] == [("foo", "my-foo")]


def test_memento_config_lists_an_installed_servers_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _installed_plugin(tmp_path, monkeypatch)
    result = CliRunner().invoke(cli, ["config", "--markdown"], prog_name="memento")
    assert result.exit_code == 0, result.output
    assert "## Foo server (plug-in)" in result.output
    assert "| `MEMENTO_FOO_DEPTH` | `3` | How deep foo digs. |" in result.output
    assert result.output.count("| `MEMENTO_LOG_LEVEL` |") == 1  # the shared settings stay in their own section


def test_a_declared_settings_entry_that_is_no_settings_class_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _installed_plugin(tmp_path, monkeypatch, settings_class="NotSettings")
    result = CliRunner().invoke(cli, ["config"], prog_name="memento")
    assert result.exit_code != 0
    assert "memento_foo.settings:NotSettings" in result.output and "not a settings class" in result.output


HUB_CATALOGUE = """
import os, anyio
from memento.agent.hosts import default_config_path, load_config
from memento.agent.hub import ToolHub
from memento.agent.planner import tool_catalogue

async def main():
    entries = [e for e in load_config(default_config_path()) if e.name == "units"]
    async with ToolHub.start(entries, environ=dict(os.environ)) as hub:
        print(tool_catalogue(hub.specs()))

anyio.run(main)
"""


def _throwaway_venv(where: Path) -> Path:
    """A virtualenv whose Python also sees this one's packages (memento, pip, setuptools, pytest): nothing to download."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # `import` lines of a .pth run at start-up; addsitedir also runs this venv's own .pth files (the editable memento).
    Path(site, "memento_base.pth").write_text(f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    return python


@pytest.mark.integration
def test_a_scaffolded_server_installs_passes_its_tests_and_passes_servers_check(tmp_path: Path) -> None:
    folder, python = tmp_path / "units", _throwaway_venv(tmp_path / "venv")
    env = {**os.environ, "MEMENTO_HOME": str(tmp_path / "home"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MEMENTO_MCP_CONFIG", None)

    def run(*command: str, cwd: Path = tmp_path) -> str:
        done = subprocess.run(
            [str(python), *command], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run("-m", "memento.agent.cli", "servers", "new", "units", "--dir", str(folder))
    # The build backend (setuptools) is this venv's own: no isolated build environment to download.
    run("-m", "pip", "install", "--quiet", "--no-build-isolation", "-e", str(folder))
    assert (python.parent / "memento-units").is_file()

    tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder), cwd=folder)
    assert "4 passed" in tests

    checked = run("-m", "memento.agent.cli", "servers", "check", "--config", str(folder / "mcp.json"))
    [row] = [line for line in checked.splitlines() if line.startswith("units ")]
    assert row.split()[1] == "ok" and "echo: ok" in row

    # Installed, it plugs in with no config edit: the default config offers it and `memento config` lists its setting.
    listed = run("-m", "memento.agent.cli", "servers", "list")
    assert any(line.split()[:1] == ["units"] and "memento-units" in line for line in listed.splitlines()), listed
    assert "MEMENTO_UNITS_MAX_CHARS" in run("-m", "memento.agent.cli", "config")
    # The agent's tool hub, over the same default config, offers its tool and the planner's catalogue names it.
    catalogue = run("-c", HUB_CATALOGUE)
    assert "- units__echo: Send a text back, a window at a time." in catalogue, catalogue
