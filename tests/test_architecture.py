"""The rules of the house, kept true by reading the sources: no import cycles, no hidden inputs,
declared dependencies only, no private MCP modules, one error tree.

Sources are read with `ast`, so nothing here runs project code except the error-tree test,
which imports the library modules to see each exception class's real bases.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The library: the folders pyproject installs as memento.* (agent/, convert/, core/, memory/, servers/).
LIBRARY = {name.removeprefix("memento."): ROOT / folder for name, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items()}

# The only places that read the process environment: the settings' from_env (the CLI and every
# server's entry point call it once) and what the settings pass on. (module, function qualname)
ENVIRONMENT_EDGES = {
    ("core.settings", "MementoSettings.from_env"),
    ("agent.settings", "AgentSettings.from_env"),
}

# Exception classes that must keep a stdlib base, and why.
NOT_MEMENTO_ERRORS = {
    # Runs alone inside the sandbox (`python -I kernel.py`): it cannot import memento.
    "servers.code.kernel.CpuLimitExceeded": "the sandbox kernel imports nothing of memento",
}


@dataclass(frozen=True)
class Module:
    name: str  # without the memento. prefix: servers.search.settings
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def tree(self) -> ast.Module:
        return _parse(self.path)


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@cache
def library_modules() -> dict[str, Module]:
    modules = {}
    for top, folder in LIBRARY.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            if any(not p.isidentifier() for p in parts):
                continue
            modules[".".join(parts)] = Module(".".join(parts), path, is_package)
    return modules


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, also inside functions and under `if TYPE_CHECKING:`: two modules whose
    annotations need each other are as entangled as two that call each other."""
    return (node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)))


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    """The absolute dotted name an ImportFrom reads from, without the memento. prefix."""
    if not node.level:
        return (node.module or "").removeprefix("memento.")
    base = module.package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_names(module: Module) -> Iterator[str]:
    """Dotted names this module imports: a submodule where `from X import sub` names one, else X."""
    for node in _imports(module.tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.removeprefix("memento.") for alias in node.names)
        else:
            base = _absolute(module, node)
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in library_modules() else base


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph() -> dict[str, set[str]]:
    """module → project modules it makes Python execute.

    Importing a.b.c also runs the package a.b's __init__; that edge counts only for a module
    outside a.b: a module inside it is imported by (or after) that __init__, which is then
    already in sys.modules, so a package importing its own submodules is no cycle.
    """
    modules = library_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in modules.items():
        own = {name, *_ancestors(name)}
        for target in imported_names(module):
            while target and target not in modules:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if not target:
                continue
            graph[name].update(t for t in [*_ancestors(target), target] if t in modules and t not in own)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


# -- the rules --------------------------------------------------------------------------------------


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import_and_a_package_init() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    modules = library_modules()
    assert "servers.search.backends" in modules and modules["servers.search.backends"].is_package
    # search/service.py imports `from .backends import ...`: an edge to the package's __init__.
    assert "servers.search.backends" in import_graph()["servers.search.service"]


def test_no_module_of_the_library_imports_itself_back_even_from_inside_a_function() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (each line one cycle):\n" + "\n".join(" ↔ ".join(c) for c in found)


def _environment_uses(module: Module) -> Iterator[tuple[int, str]]:
    """(line, enclosing function qualname) of every os.environ / getenv / putenv / unsetenv use."""
    names = {"environ", "environb", "getenv", "putenv", "unsetenv", "getenvb"}

    def visit(node: ast.AST, scope: list[str]) -> Iterator[tuple[int, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from visit(child, [*scope, child.name])
                continue
            if isinstance(child, ast.Attribute) and child.attr in names and isinstance(child.value, ast.Name) and child.value.id == "os":
                yield child.lineno, ".".join(scope)
            elif isinstance(child, ast.ImportFrom) and child.module == "os" and any(a.name in names for a in child.names):
                yield child.lineno, ".".join(scope)
            yield from visit(child, scope)

    yield from visit(module.tree, [])


def test_library_code_reads_the_environment_only_in_the_settings_edge() -> None:
    hidden = [
        f"{module.path.relative_to(ROOT)}:{line} in {scope or '<module>'}"
        for module in library_modules().values()
        for line, scope in _environment_uses(module)
        if (module.name, scope) not in ENVIRONMENT_EDGES
    ]
    assert not hidden, "os.environ outside the settings' from_env; read it there and pass it down:\n" + "\n".join(hidden)


def _declared(extra: str | None = None) -> set[str]:
    requirements = list(PYPROJECT["project"]["dependencies"])
    if extra:
        requirements += PYPROJECT["project"]["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _third_party(paths: list[Path], local: set[str]) -> dict[str, set[str]]:
    """top-level module name → the files importing it, leaving out the stdlib, memento and `local` names."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Import):
                tops = [alias.name.partition(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops = [node.module.partition(".")[0]]
            else:
                continue
            for top in tops:
                if (path.parent / f"{top}.py").exists():  # a script's sibling (the sandbox kernel runs from its folder)
                    continue
                if top not in sys.stdlib_module_names and top != "memento" and top not in local and top != "__future__":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("area", ["library", "tests and bench"])
def test_every_third_party_module_imported_comes_from_a_declared_distribution(area: str) -> None:
    if area == "library":
        paths = [m.path for m in library_modules().values()]
        declared, local = _declared(), set()
    else:
        paths = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
        declared, local = _declared("dev"), {p.stem for p in paths} | {p.parent.name for p in paths}
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for top, files in sorted(_third_party(paths, local).items()):
        owners = {canonicalize_name(d) for d in distributions.get(top, [])}
        if not owners & declared:
            owner = ", ".join(sorted(owners)) or "no installed distribution"
            problems.append(f"{top} ({owner}) imported by {', '.join(sorted(files)[:3])}")
    assert not problems, "imported but not declared in pyproject.toml:\n" + "\n".join(problems)


def test_nothing_imports_a_private_module_of_the_mcp_sdk() -> None:
    paths = [m.path for m in library_modules().values()] + sorted((ROOT / "tests").rglob("*.py"))
    private = []
    for path in paths:
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Import):
                dotted = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                dotted = [node.module, *(f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_"))]
            else:
                continue
            for name in dotted:
                parts = name.split(".")
                if parts[0] in ("mcp", "mcp_types") and any(p.startswith("_") for p in parts[1:]):
                    private.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not private, "private MCP SDK modules (use the public names, or a Protocol in core/streams.py):\n" + "\n".join(private)


def _exception_classes() -> Iterator[tuple[str, type[BaseException]]]:
    """Every exception class defined in a library module (entry-point __main__ modules left out)."""
    for name, module in library_modules().items():
        if name.endswith("__main__") or not any(isinstance(n, ast.ClassDef) for n in ast.walk(module.tree)):
            continue
        loaded = importlib.import_module(f"memento.{name}")
        for value in vars(loaded).values():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == loaded.__name__:
                yield f"{name}.{value.__qualname__}", value


@pytest.mark.slow
def test_every_exception_class_of_the_library_derives_from_memento_error() -> None:
    from memento.core.errors import MementoError

    strays = [
        f"{name} ({', '.join(b.__name__ for b in cls.__bases__)})"
        for name, cls in _exception_classes()
        if not issubclass(cls, MementoError) and name not in NOT_MEMENTO_ERRORS
    ]
    assert not strays, "exception classes outside the MementoError tree (core/errors.py):\n" + "\n".join(strays)


def drawn_tree(drawing: str) -> dict[str, str]:
    """class name → its parent in a tree drawn as `Root` / `├── Child` / `│    └── Grandchild` lines."""
    parents: dict[str, str] = {}
    open_branches: list[tuple[int, str]] = []  # (column of the name, name) from the root down
    for line in drawing.splitlines():
        found = re.match(r"^(\s*)([A-Z]\w*Error)\s*$", line) or re.search(r"[├└]── ([A-Z]\w*)", line)
        if not found:
            continue
        name = found.group(found.lastindex or 1)
        column = found.start(found.lastindex or 1)
        while open_branches and open_branches[-1][0] >= column:
            open_branches.pop()
        if open_branches:
            parents[name] = open_branches[-1][1]
        open_branches.append((column, name))
    return parents


def test_the_tree_reader_finds_each_class_under_its_parent() -> None:
    drawing = """
    Root
     ├── Left          text
     │    └── Inner    more text
     │                 continued
     └── Right
    """.replace("Root", "RootError")
    assert drawn_tree(drawing) == {"Left": "RootError", "Inner": "Left", "Right": "RootError"}


@pytest.mark.slow
def test_the_error_tree_drawn_in_core_errors_shows_every_error_class_under_its_real_base() -> None:
    from memento.core import errors

    drawn = drawn_tree(errors.__doc__ or "")
    wrong = []
    for name, cls in [("core.errors.MementoError", errors.MementoError), *_exception_classes()]:
        if cls.__name__.startswith("_") or name in NOT_MEMENTO_ERRORS or cls is errors.MementoError:
            continue
        base = cls.__bases__[0].__name__
        if drawn.get(cls.__name__) != base:
            wrong.append(f"{name}: drawn under {drawn.get(cls.__name__, 'nothing')}, derives from {base}")
    assert not wrong, "the tree in core/errors.py's docstring is out of date:\n" + "\n".join(wrong)


MAX_MODULE_LINES = 500  # past ~400 a module is usually two ideas; past 500 it must be split


def test_no_python_module_of_the_project_passes_500_lines() -> None:
    folders = [*LIBRARY.values(), ROOT / "tests", ROOT / "bench"]
    long = {
        str(path.relative_to(ROOT)): lines
        for folder in folders
        for path in folder.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these along an honest seam: {long}"
