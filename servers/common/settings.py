"""Settings every server shares, on the `memento.core` settings base.

Each server declares a subclass of `CommonSettings`; the entry point reads it
once with `from_env()` and passes it down (see `memento.core.settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ByteSize, Field, field_validator

from memento.core.errors import SettingsError
from memento.core.settings import SECRET, MementoSettings, env_name, split_list

if TYPE_CHECKING:
    from .urls import UrlPolicy

__all__ = ["SECRET", "ByteSize", "CommonSettings", "SettingsError", "env_name", "shown_as", "split_list"]


def shown_as(shown: str, **field: Any) -> Any:
    """A settings `Field` whose default the docs show as `shown`: an empty or machine-dependent default
    (a path found at run time, a core count) means something its value alone does not say."""
    return Field(json_schema_extra={"shown_default": shown}, **field)


class CommonSettings(MementoSettings):
    """Settings every server shares. Subclass and add fields with descriptions."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level of the servers' stderr logs.")
    http_timeout_s: float = Field(default=30.0, gt=0, description="Time limit of one HTTP download, in seconds.")
    user_agent: str = Field(
        default="Mozilla/5.0 (compatible; Memento/0.1; research agent)",
        description="User-Agent header of HTTP requests.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Allow URLs that resolve to loopback, private or link-local addresses (cloud metadata addresses stay blocked).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names exempt from the private-address check, comma-separated.",
    )
    http_session_idle_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description=(
            "With --transport http: a session with no request in flight and no open event stream for this many "
            "seconds is closed; its client gets 404 and starts a new session."
        ),
    )
    http_max_sessions: int = Field(
        default=100,
        ge=1,
        description="With --transport http: most sessions open at once; a client asking for one more gets HTTP 503 until one ends or expires.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def url_policy(self) -> UrlPolicy:
        from .urls import UrlPolicy

        return UrlPolicy(
            allow_private=self.allow_private_urls,
            allow_hosts=frozenset(h.lower() for h in self.allowed_hosts),
        )
