"""OpenTelemetry export: a run reaches an OTLP/HTTP collector as GenAI spans, and nothing is sent or imported without one.

The collector is a stand-in on 127.0.0.1 that decodes the protobuf payload with the
official OTLP message classes; the episode is the real loop with scripted models.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from memento.agent.otel import parse_headers, traces_url
from memento.agent.traces import RunStore
from tests.scripted_model import ScriptedModel, call, text_reply, tool_reply
from tests.test_episode import StubHub, answer, episode, plan, usage

pytestmark = pytest.mark.anyio


class Collector:
    """An OTLP/HTTP traces endpoint on loopback that keeps every request's spans and headers."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[Any]:
        found = []
        for _, body in self.requests:
            message = ExportTraceServiceRequest()
            message.ParseFromString(body)
            for resource in message.resource_spans:
                for scope in resource.scope_spans:
                    found += list(scope.spans)
        return found


@pytest.fixture
def collector() -> Iterator[Collector]:
    stand_in = Collector()
    stand_in.thread.start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()
        stand_in.thread.join(5)


def attributes(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in span.attributes:
        value = item.value
        kind = value.WhichOneof("value")
        out[item.key] = [v.string_value for v in value.array_value.values] if kind == "array_value" else getattr(value, kind)
    return out


@pytest.fixture
def store(memento_home: Path) -> Iterator[RunStore]:
    with RunStore.open(memento_home) as opened:
        yield opened


async def test_a_run_reaches_the_collector_as_an_agent_span_with_model_and_tool_spans(store: RunStore, collector: Collector) -> None:
    hub = StubHub({"code__run_python": lambda a: "4"})
    planner = ScriptedModel([plan("Add the numbers"), answer("4")], name="anthropic:claude-sonnet-4-5")
    executor = ScriptedModel(
        [tool_reply(call("code__run_python", q="2+2"), usage=usage(30)), text_reply("It is 4", usage=usage(20))], name="openai:o3"
    )
    headers = "Authorization=Basic c2VjcmV0LXRva2Vu,X-Team=ml"
    run = episode(planner, executor, hub, store, otel_endpoint=collector.url, otel_headers=headers)
    result = await run.run("What is 2 + 2? My key is sk-ant-do-not-export", policy="none")
    assert result.status == "answered"

    [(sent_headers, body)] = collector.requests  # one request for the whole run
    assert sent_headers["authorization"] == "Basic c2VjcmV0LXRva2Vu" and sent_headers["x-team"] == "ml"
    assert b"sk-ant-do-not-export" not in body and b"c2VjcmV0LXRva2Vu" not in body  # no content, no credentials in spans
    spans = collector.spans()
    by_name = {span.name: span for span in spans}
    root = by_name["invoke_agent memento"]
    assert attributes(root)["gen_ai.operation.name"] == "invoke_agent" and attributes(root)["memento.run.id"] == result.run_id
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert {s.name for s in chats} == {"chat claude-sonnet-4-5", "chat o3"} and len(chats) == 4
    first = attributes(next(s for s in chats if s.name == "chat o3"))
    assert first["gen_ai.provider.name"] == "openai" and first["gen_ai.request.model"] == "o3" and first["gen_ai.usage.input_tokens"] == 30
    tool = by_name["execute_tool code__run_python"]
    assert attributes(tool)["gen_ai.tool.name"] == "code__run_python" and attributes(tool)["gen_ai.operation.name"] == "execute_tool"
    for span in spans:
        assert span.trace_id == root.trace_id
        assert span is root or span.parent_span_id == root.span_id
        assert root.start_time_unix_nano <= span.start_time_unix_nano <= span.end_time_unix_nano <= root.end_time_unix_nano
    total_in = sum(attributes(s)["gen_ai.usage.input_tokens"] for s in chats)
    assert attributes(root)["gen_ai.usage.input_tokens"] == total_in


async def test_a_collector_that_refuses_does_not_fail_the_run(store: RunStore, collector: Collector) -> None:
    collector.status = 400  # refused at once, so the exporter does not retry
    run = episode(ScriptedModel([answer("4")]), ScriptedModel(), StubHub({}), store, otel_endpoint=collector.url)
    result = await run.run("What is 2 + 2?", policy="none")
    assert result.status == "answered" and collector.requests


def test_without_an_endpoint_the_exporter_is_never_imported() -> None:
    code = (
        "import sys, anyio\n"
        "from memento.agent.episode import Episode\n"
        "from memento.agent.settings import AgentSettings\n"
        "assert not AgentSettings().otel_endpoint\n"
        "print('opentelemetry.exporter.otlp.proto.http' in sys.modules, 'memento.agent.otel' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_endpoints_and_headers_are_read_as_users_write_them() -> None:
    assert traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("https://collector.internal/otlp/v1/traces") == "https://collector.internal/otlp/v1/traces"
    assert parse_headers("Authorization=Basic a=b, X-Team = ml,bad") == {"Authorization": "Basic a=b", "X-Team": "ml"}
