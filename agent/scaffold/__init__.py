"""`memento servers new`: a standalone MCP server package, written from the templates in `template/`.

It checks the name and the folder, renders every file in memory, and only then
writes them, so bad input writes nothing. It starts, imports and installs nothing.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from memento.core.errors import SettingsError

__all__ = ["GENERATED", "Scaffold", "plan_scaffold", "write_scaffold"]

# Lower case, a letter first, words joined by "_": it names the package, the command, the settings and mcp.json.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

# Template (under template/) → the path it is written to (`{package}` is memento_NAME), and what the file is for.
GENERATED: tuple[tuple[str, str, str], ...] = (
    ("pyproject.toml.tmpl", "pyproject.toml", "the package: its console script memento-NAME and its settings entry point"),
    ("mcp.json.tmpl", "mcp.json", "the host config entry that starts it (memento servers check --config, Claude, Cursor…)"),
    ("package/__init__.py.tmpl", "{package}/__init__.py", "the package's one-line description"),
    ("package/__main__.py.tmpl", "{package}/__main__.py", "python -m memento_NAME, the same as the command"),
    ("package/settings.py.tmpl", "{package}/settings.py", "NAMESettings: its MEMENTO_NAME_* variables, read once at start"),
    ("package/server.py.tmpl", "{package}/server.py", "build(settings) with one typed, paginated tool and its servers-check probe; main()"),
    ("tests/test_server.py.tmpl", "tests/test_server.py", "tests in memory (Client(build(...))) and one over stdio (marked integration)"),
)


@dataclass(frozen=True)
class Scaffold:
    """What `write_scaffold` writes: the folder and each file's relative path and text."""

    name: str
    folder: Path
    files: dict[str, str]

    @property
    def command(self) -> str:
        return f"memento-{self.name.replace('_', '-')}"


def plan_scaffold(name: str, folder: Path) -> Scaffold:
    """Every file of server `name` in `folder`, rendered; raises `SettingsError` (and writes nothing) on bad input."""
    if not _NAME.fullmatch(name) or name.endswith("_") or "__" in name:
        raise SettingsError(
            f"{name!r} is not a server name: use lower-case letters, digits and single underscores, a letter first "
            "(at most 40 characters), e.g. units or unit_convert."
        )
    if keyword.iskeyword(name):
        raise SettingsError(f"{name!r} is a Python keyword; choose another server name.")
    dist = name.replace("_", "-")
    taken = _installed_commands()
    if f"memento-{dist}" in taken:
        raise SettingsError(f"The command memento-{dist} is already installed ({taken[f'memento-{dist}']}); choose another server name.")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise SettingsError(f"{folder} already exists and is not an empty folder; pass --dir with a new or empty one.")
    values = {
        "{{name}}": name,
        "{{NAME}}": name.upper(),
        "{{Name}}": "".join(part.capitalize() for part in name.split("_")),
        "{{dist}}": dist,
        "{{package}}": f"memento_{name}",
    }
    template = resources.files(__package__).joinpath("template")
    files = {}
    for source, target, _ in GENERATED:
        text = template.joinpath(source).read_text(encoding="utf-8")
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        files[target.format(package=values["{{package}}"])] = text
    return Scaffold(name, folder, files)


def write_scaffold(scaffold: Scaffold) -> list[Path]:
    """Write the planned files (creating the folder) and return their paths."""
    written = []
    for relative, text in scaffold.files.items():
        path = scaffold.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _installed_commands() -> dict[str, str]:
    """Console scripts of this environment named memento-*, with what they run: a new server must not shadow one."""
    return {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts") if ep.name.startswith("memento")}
