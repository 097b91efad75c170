"""Export a finished run as an OpenTelemetry trace (OTLP over HTTP), following the GenAI semantic conventions.

Imported only when `MEMENTO_OTEL_ENDPOINT` is set. `OtelExport` is a listener
of the run's events (events.py): it keeps what the spans need as the run goes,
and sends the whole tree once the run has ended: a root `invoke_agent` span
for the episode, a `chat` span per model call and an `execute_tool` span per
MCP tool call, each with its real start and duration and the token usage. No
prompt, answer, tool argument or result goes into a span (the conventions make
content opt-in, and arguments may hold what the user did not mean to send), and
the exporter's headers (an `Authorization` for a hosted collector) go to the
transport only. Export failures are logged, never raised: a run does not fail
because a collector is down.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import anyio

from .events import Event, ModelCalled, RunFinished, RunStarted, ToolCalled

__all__ = ["OtelExport", "export_run", "parse_headers", "traces_url"]

log = logging.getLogger("memento.agent.otel")

SCOPE = "memento.agent"


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector: a bare `http://host:4318` gets `/v1/traces`."""
    endpoint = endpoint.strip()
    return endpoint.rstrip("/") + "/v1/traces" if urlsplit(endpoint).path in ("", "/") else endpoint


def parse_headers(text: str) -> dict[str, str]:
    """`"Authorization=Basic abc,X-Team=ml"` → a dict (values may contain `=`)."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {name.strip(): value.strip() for name, value in pairs if name.strip()}


class OtelExport:
    """A listener that exports each finished run to an OTLP/HTTP collector.

    Spans are built from events, not read back from the trace, so the export does not
    depend on how runs.sqlite stores a run. A run that never finishes (interrupted) is
    not sent; the send itself happens in `flush`, in a thread, since the exporter blocks.
    """

    def __init__(self, endpoint: str, headers: dict[str, str] | None = None) -> None:
        self.endpoint = endpoint
        self.headers = headers or {}
        self._runs: dict[str, dict[str, Any]] = {}  # run id -> the record export_run reads, as it grows
        self._ready: list[dict[str, Any]] = []

    def handle(self, event: Event) -> None:
        match event:
            case RunStarted():
                self._runs[event.run_id] = {
                    "id": event.run_id,
                    "started_ts": event.at,
                    "planner": event.planner,
                    "executor": event.executor,
                    "model_calls": [],
                    "tool_calls": [],
                }
            case ModelCalled() if event.run_id in self._runs:
                run = self._runs[event.run_id]
                run["model_calls"].append(
                    {
                        "offset_s": event.at - run["started_ts"],
                        "latency_s": event.latency_s,
                        "model": event.model,
                        "role": event.role,
                        "usage": event.usage.to_json(),
                        "stop_reason": event.stop_reason,
                        "error": event.error,
                    }
                )
            case ToolCalled() if event.run_id in self._runs:
                run = self._runs[event.run_id]
                run["tool_calls"].append(
                    {
                        "offset_s": event.at - run["started_ts"],
                        "seconds": event.seconds,
                        "server": event.server,
                        "tool": event.tool,
                        "result_chars": event.result_chars,
                        "is_error": event.is_error,
                    }
                )
            case RunFinished() if event.run_id in self._runs:
                run = self._runs.pop(event.run_id)
                run.update(
                    finished_ts=event.at,
                    status=event.status,
                    usage=event.usage.to_json(),
                    cost_usd=event.usage.cost_usd,
                    reward=event.reward,
                    error=event.error,
                )
                if event.status != "interrupted":  # Ctrl-C should not wait on a collector
                    self._ready.append(run)

    async def flush(self) -> None:
        ready, self._ready = self._ready, []
        for run in ready:
            await anyio.to_thread.run_sync(export_run, run, self.endpoint, self.headers)


def _input_tokens(usage: dict[str, Any]) -> int:
    """All the prompt tokens of a usage record, cached or not (what GenAI's input_tokens counts)."""
    return int(usage["input_tokens"] + usage["cache_read_tokens"] + usage["cache_write_tokens"])


def _provider_of(model: str) -> str:
    return model.split(":", 1)[0] if ":" in model else "unknown"


def _model_of(model: str) -> str:
    return model.split(":", 1)[1] if ":" in model else model


def export_run(run: dict[str, Any], endpoint: str, headers: dict[str, str] | None = None, timeout_s: float = 5.0) -> bool:
    """Send `run` (as `OtelExport` builds it: a subset of a `RunStore.get_run` record) to the collector; whether it was accepted."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

    ended: list[ReadableSpan] = []

    class _Collect(SpanProcessor):  # the spans go out together, in one request, once the tree is complete
        def on_end(self, span: ReadableSpan) -> None:
            ended.append(span)

    provider = TracerProvider(resource=Resource.create({"service.name": "memento-agent"}))
    provider.add_span_processor(_Collect())
    tracer = provider.get_tracer(SCOPE)
    start = int(run["started_ts"] * 1e9)
    end = int(run["finished_ts"] * 1e9) if run.get("finished_ts") else start
    usage = run["usage"]
    root = tracer.start_span(
        "invoke_agent memento",
        kind=SpanKind.INTERNAL,
        start_time=start,
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "memento",
            "gen_ai.conversation.id": run["id"],
            "gen_ai.usage.input_tokens": _input_tokens(usage),
            "gen_ai.usage.output_tokens": usage["output_tokens"],
            "memento.run.id": run["id"],
            "memento.run.status": run["status"],
            "memento.run.cost_usd": run["cost_usd"],
            "memento.planner.model": run["planner"],
            "memento.executor.model": run["executor"],
            **({"memento.run.reward": run["reward"]} if run.get("reward") is not None else {}),
        },
    )
    if run["status"] == "failed":
        root.set_status(Status(StatusCode.ERROR, (run.get("error") or "failed")[:200]))
    context = set_span_in_context(root)

    def child(name: str, kind: SpanKind, call: dict[str, Any], seconds: float | None, attributes: dict[str, Any]) -> tuple[Any, int]:
        """The started span of one step, and when it ended: a step is logged as it ends, its duration reaches back."""
        finished = start + int(call["offset_s"] * 1e9)
        began = max(start, finished - int((seconds or 0) * 1e9))  # within its run, whatever a clock or a stand-in's duration says
        span = tracer.start_span(name, context=context, kind=kind, start_time=began, attributes=attributes)
        return span, finished

    for call in run["model_calls"]:
        used = call["usage"]
        span, finished = child(
            f"chat {_model_of(call['model'])}",
            SpanKind.CLIENT,
            call,
            call["latency_s"],
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": _provider_of(call["model"]),
                "gen_ai.request.model": _model_of(call["model"]),
                "gen_ai.usage.input_tokens": _input_tokens(used),
                "gen_ai.usage.output_tokens": used["output_tokens"],
                "memento.agent.role": call["role"],
                **({"gen_ai.response.finish_reasons": [call["stop_reason"]]} if call.get("stop_reason") else {}),
            },
        )
        if call.get("error"):
            span.set_attribute("error.type", "model_call_failed")
            span.set_status(Status(StatusCode.ERROR, str(call["error"])[:200]))
        span.end(end_time=finished)
    for call in run["tool_calls"]:
        name = f"{call['server']}__{call['tool']}"
        span, finished = child(
            f"execute_tool {name}",
            SpanKind.INTERNAL,
            call,
            call["seconds"],
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.type": "extension",
                "memento.tool.server": call["server"],
                "memento.tool.result_chars": call["result_chars"],
            },
        )
        if call["is_error"]:
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=finished)
    root.end(end_time=max([end, start, *(span.end_time or 0 for span in ended)]))
    exporter = OTLPSpanExporter(endpoint=traces_url(endpoint), headers=headers or {}, timeout=timeout_s)
    try:
        ok = exporter.export(ended) == SpanExportResult.SUCCESS
    except Exception as exc:  # the exporter logs most failures itself; anything else must not end the run
        log.warning("exporting run %s failed: %s", run["id"], exc)
        ok = False
    finally:
        exporter.shutdown()
        provider.shutdown()
    if not ok:
        log.warning("the run %s could not be exported to %s", run["id"], traces_url(endpoint))
    return ok
