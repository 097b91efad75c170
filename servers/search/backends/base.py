"""The one interface every search backend implements, and the HTTP plumbing they share.

A backend turns a `Query` into that vendor's request and the vendor's JSON into
`SearchResult`s; nothing else. Failures become `BackendError` with a `kind` that decides
what happens next (retry, fall back) and a reason the model reads, naming the
setting to fix. API keys are scrubbed from every message, and requests never
follow redirects, so a custom auth header cannot travel to another host.

    FetchFailed (memento.servers.common.errors)
     └── BackendError       kind: auth | quota | rate_limited | unavailable | timeout
                                  | unreachable | malformed | rejected | not_configured
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx

from memento.core.secrets import scrub_text
from memento.servers.common.errors import FetchFailed
from memento.servers.common.settings import env_name

from ..model import Query, SearchResult
from ..pacing import parse_retry_after
from ..urlnorm import clean_url

__all__ = ["Backend", "BackendError", "BackendSettings", "plain_text"]

_RETRYABLE = frozenset({"rate_limited", "unavailable"})
# Failures that will not go away in the next minutes: the backend is rested instead of asked again each time.
_LASTING = frozenset({"auth", "quota", "not_configured"})
_QUOTA = re.compile(r"credit|quota|run out|ran out|usage limit|plan limit|exceeds? your|insufficient|payment", re.I)
_AUTH = re.compile(r"token[ _]?invalid|invalid[ _]?(api[ _]?)?(key|token)|api[ _]?key|unauthori[sz]ed|forbidden", re.I)
_TAGS = re.compile(r"<[^>]{0,200}>")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]|$)")


class BackendError(FetchFailed):
    """A backend could not answer. `reason` is short (for the result's notes); str() adds what to do."""

    def __init__(self, backend: str, kind: str, reason: str, hint: str = "", retry_after: float | None = None) -> None:
        self.backend = backend
        self.kind = kind
        self.reason = reason
        self.hint = hint
        self.retry_after = retry_after
        super().__init__(reason)

    def __str__(self) -> str:
        return f"{self.backend}: {self.describe()}"

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE

    @property
    def lasting(self) -> bool:
        return self.kind in _LASTING

    def describe(self) -> str:
        return f"{self.reason}. {self.hint}".strip() if self.hint else self.reason


def plain_text(value: Any, limit: int = 600) -> str:
    """Vendor snippets carry <strong> tags and entities; the model gets plain text."""
    if not isinstance(value, str):
        return ""
    text = " ".join(html.unescape(_TAGS.sub("", value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BackendSettings(Protocol):
    """What backends read from the search settings; `SearchSettings` provides it.

    A protocol rather than the settings class, because the settings module asks the
    backends to validate their own options: importing it here would make a cycle.
    Key and URL fields are read by name (`key_field`, `url_field`, `needs`).
    """

    @property
    def search_backends(self) -> list[str]: ...
    @property
    def search_timeout_s(self) -> float: ...
    @property
    def search_safesearch(self) -> str: ...
    @property
    def serpapi_engine(self) -> str: ...
    @property
    def ddgs_backend(self) -> str: ...
    @property
    def index_dir(self) -> Path: ...


class Backend:
    """Subclasses set the class attributes and implement `search`."""

    name: ClassVar[str]
    label: ClassVar[str]  # the vendor's product name, for messages
    key_field: ClassVar[str | None] = None  # settings field holding the API key, if the vendor needs one
    url_field: ClassVar[str | None] = None  # settings field holding the endpoint
    needs: ClassVar[str | None] = None  # settings field that must be set for the backend to work
    default_rate: ClassVar[float] = 5.0  # requests per second unless MEMENTO_SEARCH_RATE_LIMITS says otherwise
    automatic: ClassVar[bool] = True  # chosen automatically when configured
    cacheable: ClassVar[bool] = True
    pages: ClassVar[bool] = True  # False: the vendor has no page parameter (see Query.window)

    def __init__(self, settings: BackendSettings, **resources: object) -> None:
        self.settings = settings  # resources: shared objects some backends use (the local index); others ignore them

    # -- what the registry asks ------------------------------------------------------------

    @classmethod
    def options(cls) -> set[str]:
        """The settings fields this backend owns (its key and endpoint), which it validates."""
        return {f for f in (cls.key_field, cls.url_field, cls.needs) if f}

    @classmethod
    def check_option(cls, field: str, value: Any) -> Any:
        """Validate one of this backend's options and return the value to keep; ValueError says what is wrong.

        Endpoints must be http(s) URLs and lose a trailing '/', so paths can be appended.
        Subclasses with options of their own extend this and call it for the rest.
        """
        if field == cls.url_field and isinstance(value, str):
            if not value.startswith(("http://", "https://")):
                raise ValueError("must be an http:// or https:// URL")
            return value.rstrip("/")
        return value

    @classmethod
    def configured(cls, settings: BackendSettings) -> bool:
        return cls.needs is None or bool(getattr(settings, cls.needs))

    @classmethod
    def requirement(cls) -> str:
        """The variable a user sets to enable this backend ('' when nothing is needed)."""
        return env_name(cls.needs) if cls.needs else ""

    @classmethod
    def off_reason(cls) -> str:
        """What to do to make an unconfigured backend usable."""
        return f"set {cls.requirement()}" if cls.needs else "available"

    # -- the work --------------------------------------------------------------------------

    async def search(self, query: Query, http: httpx.AsyncClient) -> list[SearchResult]:
        raise NotImplementedError

    # -- helpers for subclasses --------------------------------------------------------------

    @property
    def key(self) -> str:
        secret = getattr(self.settings, self.key_field) if self.key_field else None
        if secret is None:
            raise BackendError(self.name, "not_configured", "no API key", f"Set {env_name(self.key_field or '')}.")
        return secret.get_secret_value()

    @property
    def endpoint(self) -> str:
        return getattr(self.settings, self.url_field) if self.url_field else ""

    def hit(self, title: Any, url: Any, snippet: Any = "", published: Any = None) -> SearchResult | None:
        if not isinstance(url, str) or not url.strip():
            return None
        return SearchResult(
            title=plain_text(title, 300) or url,
            url=clean_url(url),
            snippet=plain_text(snippet),
            published=_date(published),
            engines=[self.name],
        )

    def results(self, body: Any, *path: str) -> list[Any]:
        """The list at `body[path…]`; absent means no results, any other shape is malformed."""
        if not isinstance(body, dict):
            raise self.malformed(f"a JSON {type(body).__name__} instead of an object")
        value: Any = body
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
            if value is None:
                return []
        if not isinstance(value, list):
            raise self.malformed(f"'{'.'.join(path)}' is a {type(value).__name__}, not a list")
        return value

    def malformed(self, what: str) -> BackendError:
        where = f"; check {env_name(self.url_field)}" if self.url_field else ""
        return BackendError(
            self.name,
            "malformed",
            f"answered JSON of an unexpected shape ({what})",
            f"The vendor's API may have changed or the address points at something else{where}.",
        )

    async def request_json(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        timeout = self.settings.search_timeout_s
        host = httpx.URL(url).host
        try:
            response = await http.request(method, url, params=_drop_none(params), json=json, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise BackendError(
                self.name,
                "timeout",
                f"no answer from {host} within {timeout:g} s",
                "MEMENTO_SEARCH_TIMEOUT_S sets the limit.",
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendError(
                self.name,
                "unreachable",
                f"could not connect to {host} ({self.scrub(type(exc).__name__ + ': ' + str(exc))})",
                f"Check {env_name(self.url_field)} and the network." if self.url_field else "",
            ) from exc
        if response.status_code >= 300:
            raise self.status_error(response)
        try:
            return response.json()
        except ValueError as exc:
            start = self.scrub(response.text[:60].strip())
            raise BackendError(
                self.name,
                "malformed",
                f"answered HTTP {response.status_code} with a body that is not JSON ({start!r}…)",
                f"Check that {env_name(self.url_field or '')} points at the {self.label} API.",
            ) from exc

    def status_error(self, response: httpx.Response) -> BackendError:
        """Classify a failed answer. Subclasses add vendor quirks and call this for the rest."""
        status = response.status_code
        message = self.scrub(_vendor_message(response))
        shown = f"HTTP {status}" + (f": {message}" if message else "")
        if 300 <= status < 400:
            where = httpx.URL(response.headers.get("location", "")).host or "another address"
            return BackendError(
                self.name,
                "rejected",
                f"redirected to {where} ({shown})",
                f"Set {env_name(self.url_field or '')} to the final address; redirects are not followed.",
            )
        if status in (402, 432, 433) or (status in (400, 403, 429) and _QUOTA.search(message)):
            return BackendError(
                self.name,
                "quota",
                f"quota exhausted ({shown})",
                f"Top up the {self.label} plan, or leave {self.name} out of MEMENTO_SEARCH_BACKENDS.",
            )
        if status in (401, 403) or (status in (400, 422) and _AUTH.search(message)):
            if not self.key_field:
                return BackendError(
                    self.name,
                    "auth",
                    f"access refused ({shown})",
                    f"The server at {env_name(self.url_field or '')} (or a proxy in front of it) wants credentials; "
                    "point it at an instance this server may use.",
                )
            return BackendError(
                self.name, "auth", f"API key rejected ({shown})", f"Set a valid {self.label} key in {env_name(self.key_field)}."
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            after = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return BackendError(self.name, "rate_limited", f"rate limited ({shown}{after})", retry_after=retry_after)
        if status >= 500:
            return BackendError(self.name, "unavailable", f"server error ({shown})")
        return BackendError(self.name, "rejected", f"refused the request ({shown})")

    def scrub(self, text: str) -> str:
        """Mask the API key, and anything credential-shaped, in text that will be shown or logged."""
        secret = getattr(self.settings, self.key_field, None) if self.key_field else None
        return scrub_text(text, [secret.get_secret_value()] if secret is not None else [])


def _vendor_message(response: httpx.Response) -> str:
    """The human-readable part of a vendor's error body, whatever its shape."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:200] if text and not text.startswith("<") else ""
    parts: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            for key in ("code", "error", "detail", "message", "msg", "tag"):
                if key in value:
                    collect(value[key])

    collect(body)
    text = " - ".join(dict.fromkeys(p.strip() for p in parts if p.strip()))
    return text[:300]


def _date(value: Any) -> str | None:
    """ISO timestamps shortened to their date; other forms ("2 days ago", "May 1, 2024") kept as the vendor wrote them."""
    if not value:
        return None
    text = str(value).strip()
    return text[:10] if _ISO_DATE.match(text) else text[:60]


def _drop_none(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in params.items() if v is not None} if params else params
