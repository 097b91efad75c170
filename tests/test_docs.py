"""docs/ stays true: the configuration page is generated, links lead somewhere, the worked example runs."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
from click.testing import CliRunner
from mcp import Client

from memento.agent.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _prose(page: Path) -> str:
    """A page's text without its fenced code blocks, where brackets are code, not links."""
    return re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", _prose(page), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_the_configuration_page_is_generated_from_the_settings() -> None:
    result = CliRunner().invoke(cli, ["config", "--markdown"])
    assert result.exit_code == 0, result.output
    page = DOCS / "configuration.md"
    assert page.read_text() == result.output, (
        "docs/configuration.md is stale: it is generated from the settings classes' Field(description=...). "
        "Regenerate it with `make docs` (.venv/bin/memento config --markdown > docs/configuration.md)."
    )


def test_the_configuration_page_lists_every_setting_once() -> None:
    from memento.agent.cli.config import settings_tables

    text = (DOCS / "configuration.md").read_text()
    variables = [row[0] for _, _, rows in settings_tables() for row in rows]
    assert len(variables) == len(set(variables))
    assert all(text.count(f"| `{variable}` |") == 1 for variable in variables)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_point_at_files_and_headings_that_exist(page: Path) -> None:
    broken = []
    for target in LINK.findall(_prose(page)):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: checked by no one offline
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to what does not exist: {broken}"


@pytest.mark.parametrize("page", sorted((DOCS / "servers").glob("*.md")), ids=lambda page: page.name)
def test_server_pages_link_to_their_settings_instead_of_repeating_them(page: Path) -> None:
    text = page.read_text()
    assert "| Variable |" not in text, "settings tables live in docs/configuration.md only"
    assert "../configuration.md#" in text


@pytest.mark.anyio
async def test_the_add_a_server_example_works() -> None:
    page = (DOCS / "adding-a-server.md").read_text()
    source = re.search(r"```python\n(# servers/wordcount/server.py\n.*?)```", page, re.S).group(1)
    module = types.ModuleType("wordcount_example")
    exec(compile(source, "docs/adding-a-server.md wordcount example", "exec"), module.__dict__)
    server = module.build(module.WordcountSettings.from_env({"MEMENTO_WORDCOUNT_MAX_CHARS": "20"}))
    async with Client(server) as client:
        ok = await client.call_tool("count_words", {"text": "three small words"})
        assert not ok.is_error and ok.content[0].text == "3"
        too_long = await client.call_tool("count_words", {"text": "x" * 21})
        assert too_long.is_error and "the limit is 20" in too_long.content[0].text
