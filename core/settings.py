"""The settings base: typed values read once from `MEMENTO_*` environment variables.

Every area declares a subclass; `from_env()` maps the field `documents_roots`
to `MEMENTO_DOCUMENTS_ROOTS`, splits list fields on ':' or ',', validates, and
on a bad value raises `SettingsError` naming the variable and the value.
`describe()` gives (variable, default, description) rows for `memento config`
and the generated configuration page. Library code never reads `os.environ`:
an entry point builds the settings once and passes them down.

Mark a field secret with `json_schema_extra=SECRET` (or type it `SecretStr`):
its value is never shown, in a repr or in `describe()`. Standard variables a
subclass must hand on to the programs it starts (a proxy, certificates) are
named in `passed_on`, read by `from_env` too, and kept in `passed_environment`.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ByteSize, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo

from .errors import SettingsError
from .secrets import MASK

__all__ = ["SECRET", "MementoSettings", "env_name", "split_list"]

PREFIX = "MEMENTO_"

# json_schema_extra of a field whose value must never be shown.
SECRET: dict[str, Any] = {"secret": True}


def env_name(field: str) -> str:
    """The environment variable of a settings field: `memory_k` → `MEMENTO_MEMORY_K`."""
    return PREFIX + field.upper()


def split_list(value: str) -> list[str]:
    """Split a list setting on the platform path separator or commas."""
    parts: list[str] = []
    for chunk in value.split(os.pathsep):
        parts.extend(p.strip() for p in chunk.split(","))
    return [p for p in parts if p]


class MementoSettings(BaseModel):
    """The base of every settings class: the state directory and the reading machinery."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Variables the programs this area starts need as the user set them (HTTPS_PROXY for pip, MEMENTO_* for
    # the servers the agent launches); a trailing '*' names a prefix.
    passed_on: ClassVar[tuple[str, ...]] = ()
    _passed: dict[str, str] = PrivateAttr(default_factory=dict)

    home: Path = Field(
        default_factory=lambda: Path.home() / ".memento",
        json_schema_extra={"shown_default": "~/.memento"},
        description="State directory: case bank, run traces, caches, code workspaces.",
    )

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Build settings from `MEMENTO_*` variables (empty values count as unset); `overrides` win."""
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        shown: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            value = environ.get(env_name(name))
            if value is None or value.strip() == "":
                continue
            shown[name] = MASK if is_secret(field) else value.strip()
            raw[name] = split_list(value) if _is_list(field) else value.strip()
        raw.update(overrides)
        shown.update({k: MASK if k in cls.model_fields and is_secret(cls.model_fields[k]) else v for k, v in overrides.items()})
        try:
            settings = cls(**raw)
        except ValidationError as exc:
            raise SettingsError(_problems(exc, shown)) from None
        settings._passed = {name: value for name, value in environ.items() if value and _named(name, cls.passed_on)}
        return settings

    @property
    def passed_environment(self) -> dict[str, str]:
        """The `passed_on` variables that were set when the settings were read (empty when built directly)."""
        return dict(self._passed)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(variable, default, description) of every setting, for `memento config` and the docs."""
        rows = []
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if extra.get("shown_default"):
                default = str(extra["shown_default"])
            elif is_secret(field):
                default = "(secret)"
            else:
                value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
                default = _show(value)
            rows.append((env_name(name), default, field.description or ""))
        return rows


def _named(variable: str, patterns: tuple[str, ...]) -> bool:
    """Whether `variable` is one of `patterns` (a trailing '*' matches any rest: 'MEMENTO_*')."""
    return any(variable == p or (p.endswith("*") and variable.startswith(p[:-1])) for p in patterns)


def is_secret(field: FieldInfo) -> bool:
    """Whether a field's value must never be shown: marked `SECRET`, or typed `SecretStr`."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return bool(extra.get("secret")) or SecretStr in _types(field.annotation)


def _is_list(field: FieldInfo) -> bool:
    return list in _types(field.annotation)


def _types(annotation: Any) -> set[Any]:
    """The annotation and, for unions (`X | None`), its members, each reduced to its origin."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, _UnionType) else (annotation,)
    return {typing.get_origin(m) or m for m in members}


_UnionType = type(int | None)


def _show(value: Any) -> str:
    if isinstance(value, ByteSize):
        return value.human_readable(decimal=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "(empty)"
    if value is None:
        return "(unset)"
    if value == "":
        return "(empty)"
    return str(value)


def _problems(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        shown = raw.get(field, "<default>")
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{env_name(field)}={shown!r} is not valid: {message}")
    return "; ".join(lines)
