"""The README stays true: its worked example runs, and it documents every setting."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
from mcp import Client

from memento.memory.settings import MemorySettings
from memento.servers.browse.settings import BrowseSettings
from memento.servers.code.settings import CodeSettings
from memento.servers.documents.settings import DocumentsSettings
from memento.servers.search.settings import SearchSettings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


def test_every_setting_is_documented_in_the_readme() -> None:
    variables = [variable for variable, _, _ in DocumentsSettings.describe()]
    variables += [variable for variable, _, _ in CodeSettings.describe()]
    variables += [variable for variable, _, _ in SearchSettings.describe()]
    variables += [variable for variable, _, _ in BrowseSettings.describe()]
    variables += [f"MEMENTO_{name.upper()}" for name in MemorySettings.model_fields]
    missing = [variable for variable in variables if f"`{variable}`" not in README]
    assert not missing


@pytest.mark.anyio
async def test_the_add_a_server_example_works() -> None:
    source = re.search(r"```python\n(# servers/wordcount/server.py\n.*?)```", README, re.S).group(1)
    module = types.ModuleType("wordcount_example")
    exec(compile(source, "README wordcount example", "exec"), module.__dict__)
    server = module.build(module.WordcountSettings.from_env({"MEMENTO_WORDCOUNT_MAX_CHARS": "20"}))
    async with Client(server) as client:
        ok = await client.call_tool("count_words", {"text": "three small words"})
        assert not ok.is_error and ok.content[0].text == "3"
        too_long = await client.call_tool("count_words", {"text": "x" * 21})
        assert too_long.is_error and "the limit is 20" in too_long.content[0].text
