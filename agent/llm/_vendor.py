"""What the hosted-vendor models share: the client's set-up from settings, one timed call per `generate`, vendor errors as `ModelFailed`.

A subclass says how to build its client (a vendor SDK's, or a wire client of our
own), shape a request, send it and read the answer, and names the client's error
classes; it does not catch them itself. Nothing here imports a vendor SDK.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Unpack

from memento.core.errors import ModelFailed

from ._failure import connection_failed, status_failed, timed_out
from ._names import ToolNames
from .base import CallOptions, Message, Reply, ToolChoice, ToolSpec, callable_tools
from .pricing import Price

if TYPE_CHECKING:
    from memento.agent.settings import AgentSettings

__all__ = ["Call", "Endpoint", "SdkErrors", "VendorModel"]


@dataclass(frozen=True)
class Endpoint:
    """Where a model's calls go and how its messages name the vendor and the variables to fix."""

    label: str  # as a message names it: "Anthropic", "the OpenAI-compatible endpoint"
    api_key: str = field(repr=False)
    base_url: str
    key_variable: str
    url_variable: str


@dataclass(frozen=True)
class SdkErrors:
    """A client's error classes: the official SDKs and our Messages API client raise the same four kinds."""

    any: type[Exception]
    timeout: type[Exception]
    connection: type[Exception]
    status: type[Exception]


@dataclass(frozen=True)
class Call:
    """One `generate` call's inputs, as a provider shapes them into its request."""

    system: str
    messages: list[Message]
    tools: list[ToolSpec]
    tool_choice: ToolChoice = "auto"
    max_tokens: int | None = None
    allowed: tuple[str, ...] | None = None  # the tools this reply may call, when fewer than `tools` (described)


class VendorModel(ABC):
    """A `Model` over a vendor's async client; the key stays inside the client, never in a repr or a message."""

    provider: ClassVar[str]
    errors: ClassVar[SdkErrors]
    # Whether `request` describes tools a call may not use (`Call.allowed`); else only the allowed ones are sent.
    describes_unallowed: ClassVar[bool] = False

    def __init__(self, model: str, settings: AgentSettings, endpoint: Endpoint, *, context_tokens: int) -> None:
        self.model = model
        self.name = f"{self.provider}:{model}"
        self.context_tokens = context_tokens
        self._max_tokens = settings.model_max_tokens
        self._retries = settings.model_retries
        self._timeout_s = settings.model_timeout_s
        self._fallback = Price.flat(settings.price_input_per_mtok, settings.price_output_per_mtok)
        self._label = endpoint.label
        self._key_variable = endpoint.key_variable
        self._url_variable = endpoint.url_variable
        self._secrets = (endpoint.api_key,)
        # An explicit base URL keeps the SDK from reading its own *_BASE_URL variable: settings decide.
        self._client = self.connect(endpoint.api_key, endpoint.base_url, retries=self._retries, timeout_s=self._timeout_s)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    async def aclose(self) -> None:
        await self._client.close()

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec], **options: Unpack[CallOptions]) -> Reply:
        """`Model.generate`: `options` are its keywords, tool_choice, max_tokens and allowed."""
        if not self.describes_unallowed:
            tools = callable_tools(tools, tool_choice=options.get("tool_choice", "auto"), allowed=options.get("allowed"))
            options = {**options, "allowed": None}
        names = ToolNames(t.name for t in tools)  # the vendor sees safe aliases; replies are mapped back
        request = self.request(Call(system, messages, tools, **options), names)
        started = time.monotonic()
        try:
            answer = await self.send(request)
        except (self.errors.any, ValueError) as exc:  # ValueError: an SDK could not parse what the vendor streamed
            raise self.failed(exc) from exc
        return self.reply(answer, names, time.monotonic() - started)

    # -- what a vendor says ------------------------------------------------------------------------

    @abstractmethod
    def connect(self, api_key: str, base_url: str, *, retries: int, timeout_s: float) -> Any:
        """The SDK's async client; it retries 429/5xx itself."""

    @abstractmethod
    def request(self, call: Call, names: ToolNames) -> dict[str, Any]:
        """The keyword arguments of the SDK call for `call` (public for tests and traces)."""

    @abstractmethod
    async def send(self, request: dict[str, Any]) -> Any:
        """The vendor's answer to `request`; SDK errors pass through."""

    @abstractmethod
    def reply(self, answer: Any, names: ToolNames, latency: float) -> Reply:
        """The vendor's answer as a `Reply`, priced."""

    def status(self, exc: Any) -> tuple[int, Any]:
        """(HTTP status, error body) of an SDK status error, body shaped `{"error": …}`."""
        return exc.status_code, exc.body

    # -- failures ----------------------------------------------------------------------------------

    def failed(self, exc: Exception) -> ModelFailed:
        """The one-line `ModelFailed` for an SDK error its retries did not cure."""
        if isinstance(exc, self.errors.timeout):
            return timed_out(self._label, self.name, self._timeout_s, retries=self._retries)
        if isinstance(exc, self.errors.connection):
            detail = getattr(exc, "message", str(exc))
            return connection_failed(
                self._label, self.name, detail, retries=self._retries, url_variable=self._url_variable, secrets=self._secrets
            )
        if isinstance(exc, self.errors.status):
            status, body = self.status(exc)
            return status_failed(
                self._label, self.name, status, body, retries=self._retries, key_variable=self._key_variable, secrets=self._secrets
            )
        return ModelFailed(f"The call to {self.name} failed: {type(exc).__name__}: {exc}"[:400])
