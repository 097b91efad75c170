"""Every failure Memento raises on purpose, under one root.

A caller catches `MementoError` and has caught them all; the CLI turns one into
a single line and a non-zero exit, a server into an MCP tool error. Each
message says what went wrong and what to do next.

    MementoError
     ├── SettingsError              a MEMENTO_* value (or a flag) cannot be used; names the variable
     ├── ConfigError                an MCP host config (mcp.json) is missing or malformed
     ├── ServerError                a tool failure the model can act on (sent as `isError`)
     │    ├── InvalidInput          an argument is malformed or out of range
     │    ├── NotFound              the thing named does not exist
     │    ├── AccessDenied          outside the allowed roots, or a blocked URL
     │    ├── TooLarge              over a size or count limit
     │    ├── TimedOut              took longer than its time limit
     │    ├── UnsupportedFormat     content of a kind no converter reads
     │    ├── ConversionFailed      a reader failed on corrupt or encrypted content
     │    ├── FetchFailed           a download failed (DNS, refused, HTTP status)
     │    │    ├── HttpStatusError       servers/common/webclient.py: a 4xx or 5xx answer; `.status`
     │    │    └── BackendError          servers/search/backends/base.py: a search backend could not
     │    │                              answer; `.kind` decides retry or fall back
     │    ├── NotAWebPage           servers/browse/rendering.py: the URL is a download, not a page
     │    ├── BrowserUnavailable    servers/browse/browser.py: Chromium could not be started
     │    ├── StartFailed           servers/code/interpreter.py: a session's interpreter did not start
     │    └── OversizedReply        servers/code/interpreter.py: a kernel announced a reply over the
     │                              limit (caught with EOFError: either ends the conversation)
     ├── CaseMemoryError            the case memory failed
     │    ├── EmbeddingError        the embedding model could not be loaded or run
     │    ├── ImportFormatError     a JSONL line is malformed: names the line and field
     │    ├── CaseNotFound          no case or run with that id
     │    ├── StoreError            the Chroma store failed or is locked
     │    └── QFunctionError        Q cannot be trained, loaded or used as asked
     ├── AgentError                 the research agent could not go on
     │    ├── ModelNotConfigured    no key or endpoint for the chosen provider; names the variable
     │    ├── ModelFailed           a model call failed for good (retries spent, request refused)
     │    ├── MessagesApiError      agent/llm/messages_api.py: a Messages API call failed after its
     │    │    │                    retries (AnthropicModel turns it into ModelFailed)
     │    │    ├── ApiConnectionError   no answer read: connection failed, stream broke off
     │    │    │    └── ApiTimeout      connecting, sending or a read took too long
     │    │    └── ApiStatusError   an HTTP error status or an error event in a started stream
     │    ├── ToolHubError          the MCP tool servers could not be started or reached
     │    ├── RunNotFound           no stored run with that id
     │    └── BudgetExhausted       agent/budget.py: internal signal, a run's budget is spent;
     │                              the episode ends the run with its best answer
     ├── DatasetError               agent/evals/datasets.py: an eval dataset cannot be read as asked
     ├── EvalError                  agent/evals/runner.py: an eval cannot start or continue as asked
     └── CostCapReached             agent/evals/runner.py: the eval's cost cap stopped it early

Classes without a path live in this module (the servers' ones are re-exported by
`memento.servers.common.errors`). Outside the tree on purpose: the sandbox kernel's
CpuLimitExceeded (servers/code/kernel.py runs alone in the sandbox and imports no
memento code). tests/test_architecture.py keeps this drawing complete.

Third-party errors are translated where they are caught, `raise X(...) from exc`.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AgentError",
    "CaseMemoryError",
    "CaseNotFound",
    "ConfigError",
    "ConversionFailed",
    "EmbeddingError",
    "FetchFailed",
    "ImportFormatError",
    "InvalidInput",
    "MementoError",
    "ModelFailed",
    "ModelNotConfigured",
    "NotFound",
    "QFunctionError",
    "RunNotFound",
    "ServerError",
    "SettingsError",
    "StoreError",
    "TimedOut",
    "ToolHubError",
    "TooLarge",
    "UnsupportedFormat",
]


class MementoError(Exception):
    """Any failure Memento raises on purpose; its message says what to do next."""


class SettingsError(MementoError):
    """A `MEMENTO_*` variable holds a value that cannot be used."""


class ConfigError(MementoError):
    """An MCP host configuration cannot be read or used."""


class ServerError(MementoError):
    """A failure a model can act on; servers send it back as a tool error."""


class InvalidInput(ServerError):
    """An argument is malformed or out of range."""


class NotFound(ServerError):
    """The thing named does not exist."""


class AccessDenied(ServerError):
    """Outside the allowed roots, or a blocked URL."""


class TooLarge(ServerError):
    """Over a size or count limit."""


class TimedOut(ServerError):
    """Took longer than its time limit."""


class UnsupportedFormat(ServerError):
    """Content of a kind no converter reads."""


class ConversionFailed(ServerError):
    """A reader failed on corrupt or encrypted content."""


class FetchFailed(ServerError):
    """A download failed: DNS, refused connection, HTTP status."""


class CaseMemoryError(MementoError):
    """A failure of the case memory."""


class EmbeddingError(CaseMemoryError):
    """The embedding model could not be loaded or run."""


class ImportFormatError(CaseMemoryError):
    """A line of an imported JSONL file is malformed; nothing was imported."""

    def __init__(self, path: str, line: int, field: str, problem: str) -> None:
        super().__init__(f"{path}, line {line}, field {field!r}: {problem}. Nothing was imported.")
        self.path, self.line, self.field = path, line, field


class CaseNotFound(CaseMemoryError):
    """No case or run with that id."""


class StoreError(CaseMemoryError):
    """The Chroma store failed or is locked."""


class QFunctionError(CaseMemoryError):
    """The Q-function cannot be trained, loaded or used as asked."""


class AgentError(MementoError):
    """The research agent could not go on."""


class ModelNotConfigured(AgentError):
    """No key or endpoint for the chosen provider; the message names the variable to set."""


class ModelFailed(AgentError):
    """A model call failed for good: retries spent, or the request refused."""


class ToolHubError(AgentError):
    """The MCP tool servers could not be started or reached."""


class RunNotFound(AgentError):
    """No stored run with that id."""
