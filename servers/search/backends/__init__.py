"""The search backends, in the order automatic choice tries them, and how a list of them is chosen.

Adding a backend: one module with a `Backend` subclass, one line in `BACKENDS`,
its settings in `SearchSettings`. The settings ask this registry to check their
values (`check_setting`); nothing here imports the settings module.
"""

from __future__ import annotations

from typing import Any

from memento.servers.common.settings import SettingsError

from .base import Backend, BackendError, BackendSettings
from .brave import BraveBackend
from .ddg import DuckDuckGoBackend
from .exa import ExaBackend
from .local import LocalBackend
from .searxng import SearxngBackend
from .serpapi import SerpapiBackend
from .serper import SerperBackend
from .tavily import TavilyBackend

__all__ = ["BACKENDS", "Backend", "BackendError", "BackendSettings", "backend_names", "build_backends", "check_setting"]

BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls
    for cls in (SearxngBackend, BraveBackend, TavilyBackend, SerperBackend, SerpapiBackend, ExaBackend, DuckDuckGoBackend, LocalBackend)
}


def check_setting(field: str, value: Any) -> Any:
    """Validate a search setting that concerns the backends: the list of names, or an option a backend owns."""
    if field == "search_backends":
        names = [n.strip().lower() for n in value]
        unknown = [n for n in names if n not in BACKENDS]
        if unknown:
            raise ValueError(f"unknown backend {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
        return list(dict.fromkeys(names))
    for cls in BACKENDS.values():
        if field in cls.options():
            return cls.check_option(field, value)
    return value


def backend_names(settings: BackendSettings) -> list[str]:
    """MEMENTO_SEARCH_BACKENDS as given, else every configured web backend, then duckduckgo."""
    if settings.search_backends:
        for name in settings.search_backends:
            cls = BACKENDS[name]
            if cls.needs and not cls.configured(settings):
                raise SettingsError(
                    f"MEMENTO_SEARCH_BACKENDS names {name}, which needs {cls.requirement()}; set it, or leave {name} out of the list."
                )
        return list(settings.search_backends)
    automatic = [n for n, cls in BACKENDS.items() if cls.automatic and cls.needs and cls.configured(settings)]
    return [*automatic, DuckDuckGoBackend.name]


def build_backends(names: list[str], settings: BackendSettings, **resources: object) -> list[Backend]:
    """Instances of the named backends; `resources` (e.g. the shared local index) go to those that take them."""
    return [BACKENDS[name](settings, **resources) for name in names]
