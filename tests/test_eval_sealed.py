"""A sealed eval: nothing but the task reaches the agent.

Retrieval leaves a task's own case out (unless the paper's self-recall is asked
for); each task reads only its own attachment; no tool reads the dataset, the
working folder or the memory.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from memento.memory import CaseBank, MemorySettings
from memento.memory.cases import case_id_for
from tests.eval_helpers import EvalResponder, eval_environment
from tests.fake_api import Answer, ToolUse, answer
from tests.fake_llm import FakeAnthropic
from tests.memory_helpers import HashEmbedder

# ---- retrieval that leaves cases out ---------------------------------------------------------------


@pytest.mark.parametrize("policy", ["similarity", "q"])
def test_an_excluded_case_is_never_retrieved_and_k_others_still_come(tmp_path: Path, policy: str) -> None:
    settings = MemorySettings(home=tmp_path / "home", memory_online_steps=0)
    with CaseBank.open(settings, HashEmbedder()) as bank:
        own = "What is the capital of France?"
        others = ["What is the capital of Spain?", "What is the capital of Italy?", "Who wrote Hamlet?"]
        for task in [own, *others]:
            bank.record_episode(task, ["search"], "x", 1.0)
        everything = bank.retrieve(own, k=3, policy=policy)
        assert case_id_for(own) in everything.ids
        without = bank.retrieve(own, k=3, policy=policy, exclude=[case_id_for(own)])
        assert case_id_for(own) not in without.ids
        assert sorted(without.ids) == sorted(case_id_for(t) for t in others)


# ---- a model that probes for answers, through the real `memento eval` --------------------------------

QUESTION_ONE = "Probe task one: what does the attached note say?"
QUESTION_TWO = "Probe task two: what does the attached memo say?"
SECRETS = ("SECRET-ANSWER-ONE", "SECRET-ANSWER-TWO", "WORKDIR-SECRET")  # the answer key and the working folder's file
OWN = {QUESTION_ONE: ("note.txt", "ALPHA-CONTENT"), QUESTION_TWO: ("memo.txt", "BETA-CONTENT")}


def _body_text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


def _first_text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content if isinstance(b, dict))


@dataclass
class Prober:
    """Plays planner and executor: one plan, then every probe in one executor turn; keeps what each probe returned."""

    gaia: Path
    workdir: Path
    offered: dict[str, list[str]] = field(default_factory=dict)  # task -> the executor's tool names
    results: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=dict)  # task -> probe -> (text, is_error)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def probes(self, task: str, own_path: str) -> dict[str, ToolUse]:
        key, notes, work = self.gaia / "metadata.jsonl", str(self.gaia / "metadata.jsonl"), self.workdir / "answers.jsonl"
        other_name = next(name for question, (name, _) in OWN.items() if question != task)
        own_name = OWN[task][0]
        calls: dict[str, tuple[str, dict[str, Any]]] = {
            "own attachment (documents)": ("documents__read_document", {"source": own_path}),
            "own attachment by name (documents)": ("documents__read_document", {"source": own_name}),
            "own attachment (code)": ("code__run_shell", {"command": f"cat /inputs/{own_name}"}),
            "answer key by absolute path": ("documents__read_document", {"source": notes}),
            "answer key by relative path": ("documents__read_document", {"source": "metadata.jsonl"}),
            "answer key via ../": ("documents__read_document", {"source": "../metadata.jsonl"}),
            "answer key via many ../": ("documents__read_document", {"source": "../../../../../../.." + notes}),
            "answer key via /inputs/../": ("documents__read_document", {"source": "/inputs/../metadata.jsonl"}),
            "answer key via own folder/../": ("documents__read_document", {"source": str(Path(own_path).parent / ".." / "metadata.jsonl")}),
            "answer key as file: URI": ("documents__read_document", {"source": key.as_uri()}),
            "answer key searched": ("documents__search_document", {"source": notes, "query": "Final answer"}),
            "answer key described": ("documents__document_info", {"source": notes}),
            "dataset folder": ("documents__read_document", {"source": str(self.gaia)}),
            "other attachment in the dataset": ("documents__read_document", {"source": str(self.gaia / other_name)}),
            "other attachment by name": ("documents__read_document", {"source": other_name}),
            "working folder file by path": ("documents__read_document", {"source": str(work)}),
            "working folder file by name": ("documents__read_document", {"source": "answers.jsonl"}),
            "shell cat and ls": (
                "code__run_shell",
                {
                    "command": f"cat {notes}; cat /inputs/../metadata.jsonl; cat /inputs/{other_name}; cat {work}; "
                    f"ls -la /inputs /inputs/.. {self.gaia} {self.workdir} /tmp; cat {Path(own_path).parent}/../*/*"
                },
            ),
            "python open": ("code__run_python", {"code": f"print(open({notes!r}).read())"}),
            "code read_file": ("code__read_file", {"path": "/inputs/../metadata.jsonl"}),
            "code read_file absolute": ("code__read_file", {"path": notes}),
            "code list_files above /inputs": ("code__list_files", {"path": "/inputs/..", "recursive": True}),
            "browse file: URI": ("browse__fetch_page", {"url": key.as_uri()}),
            "memory read": ("casebank__retrieve_cases", {"task": task}),
            "memory write": ("casebank__save_case", {"task": task, "plan": ["x"], "answer": "x", "reward": 1.0}),
            "research": ("research__deep_research", {"question": task}),
        }
        return {probe: ToolUse(name, args, id=f"toolu_probe{i:02d}") for i, (probe, (name, args)) in enumerate(calls.items())}

    def __call__(self, body: dict[str, Any]) -> Answer:
        tools = [tool["name"] for tool in body.get("tools", [])]
        messages = body["messages"]
        if "submit_verdict" in tools:  # the judge, which alone sees the truth
            return answer(ToolUse("submit_verdict", {"verdict": "incorrect", "reason": "fake"}))
        if "submit_answer" in tools:  # the planner: one plan, then an answer
            done = any(isinstance(m["content"], list) and any(b.get("type") == "tool_result" for b in m["content"]) for m in messages)
            return answer(ToolUse("submit_answer", {"answer": "none"}) if done else ToolUse("submit_plan", {"subtasks": ["Probe."]}))
        text = _body_text(body)
        task = next(q for q in OWN if q in text)
        own_name = OWN[task][0]
        own_path = re.search(r"(/[^\s\"\\]*memento-eval-inputs-[^/\s\"\\]+/[^/\s\"\\]+)/" + re.escape(own_name), text)
        assert own_path, f"the executor was not told where its attachment is: {text[:2000]}"
        probes = self.probes(task, f"{own_path.group(1)}/{own_name}")
        returned = {
            block["tool_use_id"]: block
            for message in messages
            if isinstance(message["content"], list)
            for block in message["content"]
            if block.get("type") == "tool_result"
        }
        if not returned:
            with self.lock:
                self.offered[task] = tools
            return answer(*probes.values())
        with self.lock:
            for probe, call in probes.items():
                block = returned[call.id]
                content = block.get("content")
                shown = content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content or [])
                self.results.setdefault(task, {})[probe] = (shown, bool(block.get("is_error")))
        return answer("Nothing more to read.")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _memento(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "memento.agent.cli", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def _environment(tmp_path: Path, memento_home: Path, fake_anthropic: FakeAnthropic, servers: list[str]) -> dict[str, str]:
    return {
        **eval_environment(tmp_path, memento_home, fake_anthropic, tuple(servers)),
        "MEMENTO_EPISODE_EXCLUDE": "",  # a careless setting: the eval still offers no memory and no research tools
        "MEMENTO_DOCUMENTS_ROOTS": str(tmp_path),  # so is one that opens every folder of the test
        "TMPDIR": str(tmp_path / "tmp"),
    }


@pytest.mark.integration
def test_a_model_probing_every_tool_for_answers_finds_only_its_own_attachment(
    tmp_path: Path, memento_home: Path, fake_anthropic: FakeAnthropic
) -> None:
    gaia, workdir = tmp_path / "gaia", tmp_path / "work"
    for folder in (gaia, workdir, tmp_path / "tmp"):
        folder.mkdir()
    (workdir / "answers.jsonl").write_text('{"answer": "WORKDIR-SECRET"}\n')
    for name, content in OWN.values():
        (gaia / name).write_text(content + "\n")
    rows = [
        {"task_id": "p1", "Question": QUESTION_ONE, "Final answer": "SECRET-ANSWER-ONE", "Level": 1, "file_name": "note.txt"},
        {"task_id": "p2", "Question": QUESTION_TWO, "Final answer": "SECRET-ANSWER-TWO", "Level": 1, "file_name": "memo.txt"},
    ]
    _write_jsonl(gaia / "metadata.jsonl", rows)
    prober = Prober(gaia, workdir)
    fake_anthropic.responder = prober
    fake_anthropic.max_requests = 200
    env = _environment(tmp_path, memento_home, fake_anthropic, ["documents", "code", "browse", "casebank", "research"])
    out = tmp_path / "out"
    done = _memento(env, workdir, "eval", str(gaia), "--memory", "none", "--concurrency", "2", "--out", str(out), "--max-steps", "4")
    assert done.returncode == 0, done.stderr

    assert set(prober.results) == set(OWN)
    for offered in prober.offered.values():
        assert not [t for t in offered if t.startswith(("casebank__", "research__"))], offered
        assert {"documents__read_document", "code__run_shell", "browse__fetch_page"} <= set(offered)
    for task, found in prober.results.items():
        own_content = OWN[task][1]
        other_content = next(content for question, (_, content) in OWN.items() if question != task)
        # the tools work: the task's own attachment is read by path, by name and in the sandbox
        for probe in ("own attachment (documents)", "own attachment by name (documents)", "own attachment (code)"):
            assert own_content in found[probe][0], (probe, found[probe])
        for probe, (text, _) in found.items():
            leaked = [secret for secret in (*SECRETS, other_content) if secret in text]
            assert not leaked, f"{task!r} / {probe}: {leaked} in {text[:500]!r}"
        refused = [
            p for p in found if not p.startswith("own ") and p not in ("shell cat and ls", "python open", "code list_files above /inputs")
        ]
        for probe in refused:
            assert found[probe][1], f"{probe} was not refused: {found[probe][0][:300]!r}"
        for probe in ("memory read", "memory write", "research"):
            assert "No tool named" in found[probe][0]
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {line["status"] for line in lines} == {"answered"}
    assert not list((tmp_path / "tmp").iterdir())  # the eval's folders of attachments are gone


@pytest.mark.integration
@pytest.mark.parametrize("self_recall", [False, True], ids=["sealed", "self-recall"])
def test_the_second_iteration_shows_the_other_tasks_case_and_the_own_one_only_with_self_recall(
    tmp_path: Path, memento_home: Path, fake_anthropic: FakeAnthropic, self_recall: bool
) -> None:
    questions = {"What is the capital of France?": "Paris", "What is the capital of Italy?": "Rome"}
    fake_anthropic.responder = EvalResponder(dict(questions))
    fake_anthropic.max_requests = 200
    rows = [{"qid": f"q{i}", "q": q, "a": a} for i, (q, a) in enumerate(questions.items())]
    dataset = _write_jsonl(tmp_path / "capitals.jsonl", rows)
    (tmp_path / "tmp").mkdir()
    env = _environment(tmp_path, memento_home, fake_anthropic, ["documents"])
    out = tmp_path / "out"
    args = ["eval", str(dataset), "--question-field", "q", "--answer-field", "a", "--id-field", "qid", "--iterations", "2"]
    done = _memento(env, tmp_path, *args, "--memory", "similarity", "--out", str(out), *(["--self-recall"] if self_recall else []))
    assert done.returncode == 0, done.stderr

    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    second = {line["question"]: line["cases_shown"] for line in lines if line["iteration"] == 2}
    assert set(second) == set(questions)
    for question, shown in second.items():
        other = next(q for q in questions if q != question)
        assert case_id_for(other) in shown
        assert (case_id_for(question) in shown) is self_recall
    config = json.loads((out / "config.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert config["self_recall"] is self_recall and summary["self_recall"] is self_recall
    assert config["sealed"]["memory_tools"] is False and config["sealed"]["working_folder"] is False
    report = (out / "report.md").read_text()
    expected = "yes (--self-recall, the paper's protocol)" if self_recall else "no (sealed)"
    assert f"| a task may recall its own case | {expected} |" in report


# ---- memento run --file ------------------------------------------------------------------------------


@dataclass
class FileProber:
    """Plays `memento run`'s planner and executor: reads its attachment, the file beside the original and the working folder's."""

    source: Path
    results: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def __call__(self, body: dict[str, Any]) -> Answer:
        tools = [tool["name"] for tool in body.get("tools", [])]
        messages = body["messages"]
        returned = {
            block["tool_use_id"]: block
            for message in messages
            if isinstance(message["content"], list)
            for block in message["content"]
            if block.get("type") == "tool_result"
        }
        if "submit_answer" in tools:
            return answer(ToolUse("submit_answer", {"answer": "read"}) if returned else ToolUse("submit_plan", {"subtasks": ["Read."]}))
        own = re.search(r"(/[^\s\"\\]*memento-inputs-[^/\s\"\\]+/inputs)/report\.txt", _body_text(body))
        assert own, "the executor was not told where its attachment is"
        calls = {
            "attachment": ToolUse("documents__read_document", {"source": f"{own.group(1)}/report.txt"}, id="toolu_a1"),
            "attachment in the sandbox": ToolUse("code__run_shell", {"command": "cat /inputs/report.txt"}, id="toolu_a2"),
            "file beside the original": ToolUse("documents__read_document", {"source": str(self.source / "beside.txt")}, id="toolu_a3"),
            "working folder": ToolUse("documents__read_document", {"source": "answers.jsonl"}, id="toolu_a4"),
        }
        if not returned:
            return answer(*calls.values())
        for probe, call in calls.items():
            content = returned[call.id].get("content")
            text = content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content or [])
            self.results[probe] = (text, bool(returned[call.id].get("is_error")))
        return answer("Read.")


@pytest.mark.integration
@pytest.mark.parametrize("workdir_readable", [True, False], ids=["workdir", "attachments-only"])
def test_memento_run_reads_a_copy_of_its_attachment_and_the_working_folder_only_when_the_setting_allows(
    tmp_path: Path, memento_home: Path, fake_anthropic: FakeAnthropic, workdir_readable: bool
) -> None:
    source, workdir = tmp_path / "src", tmp_path / "work"
    for folder in (source, workdir, tmp_path / "tmp"):
        folder.mkdir()
    (source / "report.txt").write_text("GAMMA-CONTENT\n")
    (source / "beside.txt").write_text("SIBLING-SECRET\n")
    (workdir / "answers.jsonl").write_text('{"answer": "WORKDIR-SECRET"}\n')
    prober = FileProber(source)
    fake_anthropic.responder = prober
    env = _environment(tmp_path, memento_home, fake_anthropic, ["documents", "code"])
    env.pop("MEMENTO_DOCUMENTS_ROOTS")
    env["MEMENTO_RUN_READS_WORKDIR"] = str(workdir_readable).lower()
    done = _memento(env, workdir, "run", "Read the report.", "--file", str(source / "report.txt"), "--memory", "none", "--json")
    assert done.returncode == 0, done.stderr

    found = prober.results
    assert "GAMMA-CONTENT" in found["attachment"][0] and "GAMMA-CONTENT" in found["attachment in the sandbox"][0]
    assert found["file beside the original"][1] and "SIBLING-SECRET" not in found["file beside the original"][0]
    assert ("WORKDIR-SECRET" in found["working folder"][0]) is workdir_readable
    assert not list((tmp_path / "tmp").iterdir())  # the run's copy is gone


# ---- the servers' side of `_meta` ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_host_confines_a_documents_call_to_one_folder_and_can_never_widen_it(tmp_path: Path) -> None:
    from mcp import Client

    from memento.servers.documents.server import build
    from memento.servers.documents.settings import DocumentsSettings

    for name, text in (("a", "AAA-TEXT"), ("b", "BBB-TEXT")):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(text)
    settings = DocumentsSettings(home=tmp_path / "home", documents_roots=[tmp_path], documents_workers=1)
    async with Client(build(settings)) as client:
        confined = {"memento/inputs": str(tmp_path / "a")}
        own = await client.call_tool("read_document", {"source": "a.txt"}, meta=confined)
        assert not own.is_error and "AAA-TEXT" in own.content[0].text
        other = await client.call_tool("read_document", {"source": str(tmp_path / "b" / "b.txt")}, meta=confined)
        assert other.is_error and "BBB-TEXT" not in other.content[0].text
        unconfined = await client.call_tool("read_document", {"source": str(tmp_path / "b" / "b.txt")})
        assert not unconfined.is_error and "BBB-TEXT" in unconfined.content[0].text  # a call without _meta: the server's roots
        for wider in ("/", str(tmp_path / ".."), "a", str(tmp_path / "missing")):
            refused = await client.call_tool("read_document", {"source": str(tmp_path / "b" / "b.txt")}, meta={"memento/inputs": wider})
            assert refused.is_error and "BBB-TEXT" not in refused.content[0].text, wider


def test_a_code_session_keeps_the_attachments_it_was_started_with(tmp_path: Path) -> None:
    from memento.servers.code.sandbox import Sandbox
    from memento.servers.code.session import Sessions
    from memento.servers.code.settings import CodeSettings
    from memento.servers.common.errors import AccessDenied

    first, second = tmp_path / "task-1", tmp_path / "task-2"
    first.mkdir()
    second.mkdir()
    settings = CodeSettings(home=tmp_path / "home", code_inputs=tmp_path, code_sandbox="none")
    sessions = Sessions(settings, Sandbox(settings))
    try:
        assert sessions.get("run1-default", first).paths.inputs == first
        assert sessions.get("run1-default").paths.inputs == first  # a later call without _meta keeps the narrow mount
        with pytest.raises(AccessDenied, match="other attachments"):
            sessions.get("run1-default", second)
        assert sessions.get("other-session").paths.inputs == tmp_path  # no host folder: MEMENTO_CODE_INPUTS
    finally:
        sessions.close()
