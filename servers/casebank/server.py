"""The casebank MCP server: gives any MCP host (Claude Desktop, Claude Code…) an experience memory.

Before a task, `retrieve_cases` shows how similar tasks went (plans that worked,
plans that failed); after it, `save_case` records how this one went, and
`give_feedback` corrects a reward that arrives later. The bank is the same one
the Memento agent uses (MEMENTO_HOME/casebank, or a Chroma server).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from memento.servers.common.errors import InvalidInput, NotFound, tool_errors
from memento.servers.common.runner import serve
from memento.servers.common.settings import CommonSettings

INSTRUCTIONS = """\
An experience memory. Before planning a task, call retrieve_cases to see how similar past tasks went:
imitate the plans of successes and avoid what the failures did. After finishing, call save_case with
the plan you followed, the answer and a reward from 0 (failed) to 1 (solved). If you learn later whether
the answer was right, call give_feedback with the case id."""


class LazyBank:
    """Opens the case bank on first use (Chroma and the embedding model are slow to load)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._bank: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._bank is None:
                from memento.memory import CaseBank

                self._bank = CaseBank.open(self.settings)
            return self._bank

    def close(self) -> None:
        with self._lock:
            if self._bank is not None:
                self._bank.close()
                self._bank = None

    def warm(self) -> None:
        with contextlib.suppress(Exception):  # a failure here shows up, explained, on the first call
            self.get().embedder.embed(["warm up"])


@contextlib.contextmanager
def _memory_errors() -> Iterator[None]:
    """The memory's own errors, as tool errors a model can act on."""
    from memento.memory import CaseMemoryError, CaseNotFound

    try:
        yield
    except CaseNotFound as exc:
        raise NotFound(str(exc)) from exc
    except CaseMemoryError as exc:
        raise InvalidInput(str(exc)) from exc


class CaseView(BaseModel):
    id: str
    task: str
    plan: list[str]
    answer: str
    reward: float
    outcome: str
    score: float = Field(description="Similarity, or the learned Q value, the case was ranked by.")
    times_shown: int
    success_rate_when_shown: float


class Retrieved(BaseModel):
    policy: str
    successes: list[CaseView]
    failures: list[CaseView]


class Saved(BaseModel):
    case_id: str
    run_id: str
    created: bool
    near_duplicate_of: str | None


def _view(scored: Any) -> CaseView:
    case = scored.case
    return CaseView(
        id=case.id,
        task=case.task,
        plan=case.plan,
        answer=case.answer,
        reward=case.reward,
        outcome=case.outcome,
        score=round(scored.score, 4),
        times_shown=case.uses,
        success_rate_when_shown=round(case.success_rate, 3),
    )


def build(settings: CommonSettings, memory_settings: Any) -> MCPServer:
    bank = LazyBank(memory_settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[LazyBank]:
        threading.Thread(target=bank.warm, name="warm-casebank", daemon=True).start()
        try:
            yield bank
        finally:
            bank.close()

    server = MCPServer("memento-casebank", instructions=INSTRUCTIONS, lifespan=lifespan)

    def _bank(ctx: Context) -> Any:
        return ctx.request_context.lifespan_context.get()

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    @tool_errors
    def retrieve_cases(
        task: Annotated[str, Field(description="The task you are about to plan, in full.")],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=20, description="How many past cases to return.")] = 4,
        policy: Annotated[str, Field(description="'similarity' (nearest tasks) or 'q' (learned: which cases helped).")] = "similarity",
    ) -> Retrieved:
        """Past tasks like this one, with the plans used and whether they succeeded.

        Use it before planning: follow what worked in the successes, avoid what the failures did.
        Example: retrieve_cases(task="Which river flows through the capital of Hungary?", k=4)
        """
        with _memory_errors():
            found = _bank(ctx).retrieve(task, k=k, policy=policy)
        return Retrieved(policy=found.policy, successes=[_view(s) for s in found.positive], failures=[_view(s) for s in found.negative])

    @server.tool()
    @tool_errors
    def save_case(
        task: Annotated[str, Field(description="The task, as it was given.")],
        plan: Annotated[list[str], Field(description="The steps you followed, in order.")],
        answer: Annotated[str, Field(description="The final answer or outcome.")],
        reward: Annotated[float, Field(ge=0, le=1, description="1 solved, 0 failed, or a value between.")],
        ctx: Context,
        notes: Annotated[str, Field(description="A short summary: tools used, key findings, what went wrong.")] = "",
        shown_case_ids: Annotated[list[str] | None, Field(description="Ids of the cases retrieve_cases showed you for this task.")] = None,
    ) -> Saved:
        """Remember how a task went, so later tasks can learn from it.

        Saving the same task again updates its case (and keeps the better plan). Pass shown_case_ids so the
        memory learns which past cases actually helped.
        Example: save_case(task="...", plan=["search X", "read Y"], answer="42", reward=1.0)
        """
        with _memory_errors():
            done = _bank(ctx).record_episode(task, plan, answer, reward, shown_case_ids=shown_case_ids or (), summary=notes, source="mcp")
        return Saved(case_id=done.case_id, run_id=done.run_id, created=done.created, near_duplicate_of=done.near_duplicate_of)

    @server.tool()
    @tool_errors
    def give_feedback(
        case_id: Annotated[str, Field(description="A case id (case-…) or run id (run-…) from save_case.")],
        reward: Annotated[float, Field(ge=0, le=1, description="The corrected reward, 0 to 1.")],
        ctx: Context,
    ) -> dict[str, Any]:
        """Correct the reward of a saved case or run when you learn later whether it was right.

        Example: give_feedback(case_id="run-3f2a…", reward=0.0)
        """
        with _memory_errors():
            return _bank(ctx).feedback(case_id, reward)

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    @tool_errors
    def memory_stats(ctx: Context) -> dict[str, Any]:
        """How many cases the memory holds (successes, failures), transitions, and the learned policy's state."""
        with _memory_errors():
            return _bank(ctx).stats()

    return server


def main(argv: Sequence[str] | None = None) -> int:
    from memento.memory.settings import MemorySettings

    def build_with_memory(settings: CommonSettings) -> MCPServer:
        # A bad memory variable raises SettingsError, which stops the start with its message.
        return build(settings, MemorySettings.from_env(home=settings.home))

    return serve("casebank", CommonSettings, build_with_memory, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
