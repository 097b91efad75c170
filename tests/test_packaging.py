"""The distribution installs one top-level package, `memento`, whatever folder a user runs from."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FOLDERS = {"agent", "convert", "core", "memory", "servers"}


def test_the_distribution_declares_exactly_one_top_level_package() -> None:
    assert metadata.distribution("memento-agent").read_text("top_level.txt").split() == ["memento"]
    packages = PYPROJECT["tool"]["setuptools"]["packages"]
    assert {name.split(".")[0] for name in packages} == {"memento"}


def test_every_package_folder_is_installed_under_memento() -> None:
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert mapping == {f"memento.{folder}": folder for folder in FOLDERS}
    folders = {init.parent.relative_to(ROOT) for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")}
    expected = {"memento." + ".".join(path.parts) for path in folders}
    assert set(PYPROJECT["tool"]["setuptools"]["packages"]) == expected


def test_the_generic_folder_names_are_not_importable_outside_the_checkout(tmp_path: Path) -> None:
    probe = (
        "import importlib.util, memento.agent.cli, memento.servers.documents.server, memento.memory, memento.core, memento.convert;"
        "print([importlib.util.find_spec(n) is None for n in ('agent', 'memory', 'servers', 'core', 'convert')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[True, True, True, True, True]"


def test_every_console_script_points_into_the_package_it_names() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts["memento"] == "memento.agent.cli:main"
    for script, target in scripts.items():
        module, _, function = target.partition(":")
        if script == "memento":
            continue
        # memento-NAME starts the server of servers/NAME, whose server module has the main function named.
        assert script.startswith("memento-"), script
        name = script.removeprefix("memento-").replace("-", "_")
        assert module == f"memento.servers.{name}.server", (script, target)
        assert function == "main", (script, target)
        assert (ROOT / "servers" / name / "__main__.py").is_file(), f"python -m memento.servers.{name} does not start {script}"


def test_every_server_folder_has_its_console_script() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    servers = {path.parent.name for path in (ROOT / "servers").glob("*/server.py")}
    assert servers, "no server found"
    assert {f"memento-{name.replace('_', '-')}" for name in servers} <= set(scripts)


def test_the_scaffold_templates_are_package_data() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["memento.agent.scaffold"]
    templates = {p.relative_to(ROOT / "agent" / "scaffold") for p in (ROOT / "agent" / "scaffold" / "template").rglob("*") if p.is_file()}
    assert templates, "no template found"
    assert all(any(t.match(pattern) for pattern in patterns) for t in templates), templates
