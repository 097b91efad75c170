"""What every Memento server shares: settings, errors, pagination, logging, URL safety, the entry point.

The tool layer's pieces (reply builder, annotations, paging arguments, lifespan
state) are in `tooling`, imported by each server's `server.py` and `present.py`.
"""

from .errors import (
    AccessDenied,
    ConversionFailed,
    FetchFailed,
    InvalidInput,
    NotFound,
    ServerError,
    TimedOut,
    TooLarge,
    UnsupportedFormat,
    tool_errors,
)
from .paging import Page, paginate
from .settings import CommonSettings, SettingsError

__all__ = [
    "AccessDenied",
    "CommonSettings",
    "ConversionFailed",
    "FetchFailed",
    "InvalidInput",
    "NotFound",
    "Page",
    "ServerError",
    "SettingsError",
    "TimedOut",
    "TooLarge",
    "UnsupportedFormat",
    "paginate",
    "tool_errors",
]
