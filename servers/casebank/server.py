"""The casebank MCP server: gives any MCP host (Claude Desktop, Claude Code…) an experience memory.

Before a task, `retrieve_cases` shows how similar tasks went (plans that worked,
plans that failed); after it, `save_case` records how this one went, and
`give_feedback` corrects a reward that arrives later. The bank is the same one
the Memento agent uses (MEMENTO_HOME/casebank, or a Chroma server). This module
registers the tools only: `service.py` does the work, `present.py` shapes results.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from memento.servers.common.runner import serve
from memento.servers.common.settings import CommonSettings
from memento.servers.common.tooling import READ_ONLY_CLOSED_WORLD, Probe, lifespan_state, server_with_lifespan, tool
from memento.servers.common.warmup import warm_later

from . import present
from .present import Retrieved, Saved
from .service import CaseBankService

if TYPE_CHECKING:
    from memento.memory import MemorySettings
    from memento.memory.embeddings import TextEmbedder

INSTRUCTIONS = """\
An experience memory. Before planning a task, call retrieve_cases to see how similar past tasks went:
imitate the plans of successes and avoid what the failures did. After finishing, call save_case with
the plan you followed, the answer and a reward from 0 (failed) to 1 (solved). If you learn later whether
the answer was right, call give_feedback with the case id."""


def _service(ctx: Context) -> CaseBankService:
    return lifespan_state(ctx, CaseBankService)


def build(settings: CommonSettings, memory_settings: MemorySettings, embedder: TextEmbedder | None = None) -> MCPServer:
    """The server over the case bank `memory_settings` name (opened on the first call, not here).

    embedder: use this one instead of the model the settings name (tests pass a fast fake).
    """
    service = CaseBankService(memory_settings, embedder)

    @contextmanager
    def running() -> Iterator[CaseBankService]:
        warmup = warm_later(service.warm, "warm-casebank")  # Chroma's import alone takes a second: after tools/list
        try:
            yield service
        finally:
            warmup.cancel()
            service.close()

    server = server_with_lifespan("memento-casebank", INSTRUCTIONS, running)
    # The defaults come from MEMENTO_MEMORY_K and MEMENTO_MEMORY_POLICY, so the schema a host reads shows them.
    default_k, default_policy = memory_settings.memory_k, memory_settings.memory_policy

    @tool(server, READ_ONLY_CLOSED_WORLD)
    def retrieve_cases(
        task: Annotated[str, Field(description="The task you are about to plan, in full.")],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=64, description="How many past cases to return (the paper's best is 4).")] = default_k,
        policy: Annotated[
            Literal["similarity", "q"],
            Field(description="'similarity' (nearest tasks) or 'q' (learned: which cases helped; similarity until trained)."),
        ] = default_policy,
    ) -> Retrieved:
        """Past tasks like this one, with the plans used and whether they succeeded.

        Use it before planning: follow what worked in the successes, avoid what the failures did.
        Each case carries its plan, answer, summary, tools, reward and similarity to your task. Long
        fields end in a "more characters not shown" marker; `omitted` counts cases left out to keep
        the reply short (ask for a smaller k).
        Example: retrieve_cases(task="Which river flows through the capital of Hungary?", k=4)
        """
        return present.retrieved(_service(ctx).retrieve(task, k, policy))

    @tool(server)
    def save_case(
        task: Annotated[str, Field(description="The task, as it was given.")],
        plan: Annotated[list[str], Field(description="The steps you followed, in order.")],
        answer: Annotated[str, Field(description="The final answer or outcome.")],
        reward: Annotated[
            float | None, Field(ge=0, le=1, description="1 solved, 0 failed, or a value between; null when nobody knows yet (unrated).")
        ],
        ctx: Context,
        notes: Annotated[str, Field(description="A short summary: tools used, key findings, what went wrong.")] = "",
        shown_case_ids: Annotated[list[str] | None, Field(description="Ids of the cases retrieve_cases showed you for this task.")] = None,
        tools: Annotated[list[str] | None, Field(description="Names of the tools you used, e.g. ['web_search', 'fetch_page'].")] = None,
        outcome: Annotated[
            Literal["positive", "negative"] | None,
            Field(description="Whether to show this case as a success or a failure; by default from the reward (>= 0.5 positive)."),
        ] = None,
        run_id: Annotated[
            str | None,
            Field(
                pattern=r"^run-[A-Za-z0-9_.-]{1,64}$",
                description="Your own id for this attempt (run-…), to cite in give_feedback; one is made up when left out.",
            ),
        ] = None,
        followed_case_ids: Annotated[
            list[str] | None,
            Field(description="Ids of the shown cases your plan actually followed ([] for none); left out, the plans' similarity decides."),
        ] = None,
        reward_kind: Annotated[
            Literal["verified", "self-assessed"],
            Field(description="'verified' (a truth, grader or user said so) or 'self-assessed' (you checked it yourself; counts less)."),
        ] = "verified",
    ) -> Saved:
        """Remember how a task went, so later tasks can learn from it.

        Saving the same task again updates its case (and keeps the better plan). Pass shown_case_ids so the
        memory learns which past cases actually helped, and followed_case_ids for the ones your plan followed
        (only those take the reward); every id must be one retrieve_cases returned, or nothing is saved. With
        reward null the case is kept as "outcome not verified" until give_feedback rates it. A case is limited in size (task, answer, notes, plan steps): an oversized one is
        refused with the field and its limit.
        Example: save_case(task="...", plan=["search X", "read Y"], answer="42", reward=1.0, tools=["web_search"])
        """
        service = _service(ctx)
        done = service.save(
            task, plan, answer, reward, shown_case_ids or (), notes, tools or (), outcome or "", run_id, followed_case_ids, reward_kind
        )
        return present.saved(done)

    @tool(server)
    def give_feedback(
        case_id: Annotated[str, Field(description="A case id (case-…) or run id (run-…) from save_case.")],
        reward: Annotated[float, Field(ge=0, le=1, description="The corrected reward, 0 to 1.")],
        ctx: Context,
    ) -> dict[str, Any]:
        """Correct the reward of a saved case or run when you learn later whether it was right.

        A run id corrects that attempt: its case's reward changes only if the case still holds that run's plan
        (otherwise its mean reward does). A case id corrects the case and the attempt whose plan it holds.
        Example: give_feedback(case_id="run-3f2a…", reward=0.0)
        """
        return _service(ctx).feedback(case_id, reward)

    @tool(server, READ_ONLY_CLOSED_WORLD, Probe({}, "cases"))
    def memory_stats(ctx: Context) -> dict[str, Any]:
        """How many cases the memory holds (successes, failures), transitions, and the learned policy's state."""
        return _service(ctx).stats()

    return server


def main(argv: Sequence[str] | None = None) -> int:
    from memento.memory.settings import MemorySettings

    def build_with_memory(settings: CommonSettings) -> MCPServer:
        # A bad memory variable raises SettingsError, which stops the start with its message.
        return build(settings, MemorySettings.from_env(home=settings.home))

    return serve("casebank", CommonSettings, build_with_memory, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
