"""The README stays a short front page: the two commands first, then links into docs/ that lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

# The pages the README is the way into; tests/test_docs.py checks what they say.
DOCS_PAGES = [
    "docs/servers/documents.md",
    "docs/servers/search.md",
    "docs/servers/browse.md",
    "docs/servers/code.md",
    "docs/servers/casebank.md",
    "docs/memory.md",
    "docs/configuration.md",
    "docs/hosts.md",
    "docs/cli.md",
    "docs/adding-a-server.md",
    "docs/local-models.md",
    "docs/development.md",
]


def test_the_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    assert README.index("```bash") < README.index("\n## "), "the two commands come before any section"


def test_the_readme_links_every_docs_page_and_each_exists() -> None:
    linked = set(re.findall(r"\]\((docs/[^)#\s]+)", README))
    assert not [page for page in DOCS_PAGES if page not in linked], "link every docs page from the README"
    assert not [page for page in linked if not (ROOT / page).is_file()], "a docs page the README links is missing"


def test_the_readme_stays_short() -> None:
    assert len(README.encode()) < 10_000, "the README is a front page; move details into docs/"
