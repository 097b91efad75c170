"""Typed settings read once from `MEMENTO_*` environment variables.

Each server declares a `Settings` subclass; `from_env()` maps the field
`documents_roots` to `MEMENTO_DOCUMENTS_ROOTS`, validates it, and on a bad value
raises `SettingsError` naming the variable. Library code never reads
`os.environ`: the entry point builds the settings and passes them down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator

__all__ = ["ByteSize", "CommonSettings", "SettingsError", "env_name", "split_list"]

PREFIX = "MEMENTO_"


class SettingsError(ValueError):
    """A `MEMENTO_*` variable holds a value that cannot be used."""


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def split_list(value: str) -> list[str]:
    """Split a list setting on the platform path separator or commas."""
    parts: list[str] = []
    for chunk in value.split(os.pathsep):
        parts.extend(p.strip() for p in chunk.split(","))
    return [p for p in parts if p]


class CommonSettings(BaseModel):
    """Settings every server shares. Subclass and add fields with descriptions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Fields whose environment value is a list (split on ':' or ',').
    list_fields: ClassVar[frozenset[str]] = frozenset({"allowed_hosts"})

    home: Path = Field(
        default_factory=lambda: Path.home() / ".memento",
        json_schema_extra={"shown_default": "~/.memento"},
        description="State directory: case bank, run traces, caches, code workspaces.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the servers' stderr logs."
    )
    http_timeout_s: float = Field(default=30.0, gt=0, description="Time limit of one HTTP download, in seconds.")
    user_agent: str = Field(
        default="Mozilla/5.0 (compatible; Memento/0.1; research agent)",
        description="User-Agent header of HTTP requests.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Allow URLs that resolve to loopback, private or link-local addresses "
        "(cloud metadata addresses stay blocked).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names exempt from the private-address check, comma-separated.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def url_policy(self):
        from .urls import UrlPolicy

        return UrlPolicy(
            allow_private=self.allow_private_urls,
            allow_hosts=frozenset(h.lower() for h in self.allowed_hosts),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any):
        """Build settings from `MEMENTO_*` variables (empty values count as unset)."""
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        shown: dict[str, Any] = {}
        for name in cls.model_fields:
            value = environ.get(env_name(name))
            if value is None or value.strip() == "":
                continue
            shown[name] = value.strip()
            raw[name] = split_list(value) if name in cls.list_fields else value.strip()
        raw.update(overrides)
        shown.update(overrides)
        try:
            return cls(**raw)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, shown)) from None

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(variable, default, description) for every setting, for docs and `memento config`."""
        rows = []
        for name, field in cls.model_fields.items():
            value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
            default = field.json_schema_extra.get("shown_default") if isinstance(field.json_schema_extra, dict) else None
            default = default or _show(value)
            rows.append((env_name(name), default, field.description or ""))
        return rows


def _show(value: Any) -> str:
    if isinstance(value, ByteSize):
        return value.human_readable(decimal=False).replace("B", "B", 1)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "(empty)"
    if value is None:
        return "(unset)"
    return str(value)


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        shown = raw.get(field, "<default>")
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{env_name(field)}={shown!r} is not valid: {message}")
    return "; ".join(lines)
