"""Settings: typed, validated, defaults safe, and bad values name their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from memento.servers.common.settings import CommonSettings, SettingsError
from memento.servers.documents.settings import DocumentsSettings


def test_defaults_are_safe() -> None:
    settings = DocumentsSettings.from_env({})
    assert settings.allow_private_urls is False
    assert settings.documents_roots == [Path.cwd().resolve()]
    assert int(settings.documents_max_bytes) == 200 * 1024**2


def test_values_are_parsed_from_their_variables(tmp_path: Path) -> None:
    other = tmp_path / "b"
    other.mkdir()
    settings = DocumentsSettings.from_env(
        {
            "MEMENTO_DOCUMENTS_ROOTS": f"{tmp_path},{other}",
            "MEMENTO_DOCUMENTS_MAX_BYTES": "5MiB",
            "MEMENTO_ALLOW_PRIVATE_URLS": "true",
            "MEMENTO_ALLOWED_HOSTS": "intranet.local, wiki.local",
            "MEMENTO_LOG_LEVEL": "debug",
            "MEMENTO_HOME": str(tmp_path / "home"),
        }
    )
    assert settings.documents_roots == [tmp_path.resolve(), other.resolve()]
    assert int(settings.documents_max_bytes) == 5 * 1024**2
    assert settings.allow_private_urls is True
    assert settings.allowed_hosts == ["intranet.local", "wiki.local"]
    assert settings.log_level == "DEBUG"
    assert settings.cache_dir == tmp_path / "home" / "cache"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEMENTO_DOCUMENTS_TIMEOUT_S", "soon"),
        ("MEMENTO_DOCUMENTS_TIMEOUT_S", "-1"),
        ("MEMENTO_DOCUMENTS_MAX_BYTES", "lots"),
        ("MEMENTO_DOCUMENTS_ROOTS", "/no/such/folder"),
        ("MEMENTO_ALLOW_PRIVATE_URLS", "perhaps"),
        ("MEMENTO_LOG_LEVEL", "loud"),
        ("MEMENTO_DOCUMENTS_WORKERS", "0"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        DocumentsSettings.from_env({variable: value})
    assert f"{variable}={value!r} is not valid" in str(caught.value)


def test_empty_values_count_as_unset() -> None:
    assert DocumentsSettings.from_env({"MEMENTO_DOCUMENTS_TIMEOUT_S": " "}).documents_timeout_s == 60.0


def test_every_setting_is_described_for_the_docs() -> None:
    rows = DocumentsSettings.describe()
    names = [row[0] for row in rows]
    assert "MEMENTO_HOME" in names and "MEMENTO_DOCUMENTS_ROOTS" in names
    assert all(description for _, _, description in rows)
    assert len(CommonSettings.describe()) < len(rows)


def test_settings_keep_the_variables_they_pass_on_and_nothing_else_of_the_environment(tmp_path: Path) -> None:
    from memento.agent.settings import AgentSettings
    from memento.servers.code.settings import CodeSettings

    environ = {"HTTPS_PROXY": "http://proxy:3128", "OPENAI_API_KEY": "sk-x", "PIP_INDEX_URL": "http://evil", "MEMENTO_HOME": str(tmp_path)}
    assert CodeSettings.from_env(environ).passed_environment == {"HTTPS_PROXY": "http://proxy:3128"}
    agent = AgentSettings.from_env({**environ, "MEMENTO_BRAVE_API_KEY": "b", "PATH": "/opt/bin"})
    assert agent.passed_environment == {"MEMENTO_HOME": str(tmp_path), "MEMENTO_BRAVE_API_KEY": "b", "PATH": "/opt/bin"}
    assert "proxy" not in repr(agent) and "MEMENTO_BRAVE_API_KEY" not in repr(agent)
    assert CodeSettings(home=tmp_path).passed_environment == {}  # built in code: nothing was read


def test_a_launched_server_gets_the_agents_memento_settings_and_home_and_its_command_is_found_on_the_given_path(
    tmp_path: Path,
) -> None:
    from memento.agent.hosts import ServerEntry, server_environment, stdio_parameters
    from memento.agent.settings import AgentSettings

    tool = tmp_path / "bin" / "some-mcp-server"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    settings = AgentSettings.from_env({"MEMENTO_SEARCH_MODE": "fuse", "OPENAI_API_KEY": "sk-x", "PATH": str(tool.parent)}, home=tmp_path)
    entry = ServerEntry("tool", "some-mcp-server", env={"MEMENTO_LOG_LEVEL": "DEBUG"})
    params = stdio_parameters(entry, server_environment(settings), quiet=True)
    assert params.command == str(tool)
    assert params.env is not None and "OPENAI_API_KEY" not in params.env
    assert params.env["MEMENTO_SEARCH_MODE"] == "fuse" and params.env["MEMENTO_HOME"] == str(tmp_path)
    assert params.env["MEMENTO_LOG_LEVEL"] == "DEBUG"  # the config's own value wins over quiet
