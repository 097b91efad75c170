"""The research MCP server: hand a whole research task to the Memento agent from any MCP host.

`deep_research(question)` runs one episode — case memory, planner, executor
over the other bundled servers — and reports its progress as MCP progress
notifications. Registration only: `service.py` runs the episode, `present.py`
shapes the reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from memento.agent.settings import AgentSettings
from memento.servers.common.errors import tool_errors
from memento.servers.common.runner import serve
from memento.servers.common.settings import CommonSettings

from . import present
from .service import ResearchService

__all__ = ["build", "main"]

INSTRUCTIONS = """\
A research agent. Give deep_research a question that needs searching, reading or computing;
it plans, uses web search, web pages, code and documents, and answers concisely with cited sources. It learns from
past tasks through a case memory. One call can take minutes."""


def build(settings: CommonSettings, agent_settings: AgentSettings, policy: str = "similarity") -> MCPServer:
    """The server; models are checked on each call, so tools/list works without a key."""
    service = ResearchService(agent_settings, policy)
    server = MCPServer("memento-research", instructions=INSTRUCTIONS)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, open_world_hint=True, idempotent_hint=False))
    @tool_errors
    async def deep_research(
        question: Annotated[str, Field(description="The research question, in full, with every detail that matters.")],
        ctx: Context,
        learn: Annotated[
            bool, Field(description="Add this run to the case memory: as unrated ('outcome not verified') until it is rewarded.")
        ] = True,
    ) -> CallToolResult:
        """Research a question with the Memento agent and return a short, checked answer with a cited report.

        Use it for questions that need several searches, reading pages or documents, or computing:
        the agent plans subtasks, runs them with web search, browsing, code and documents, and
        answers briefly, then gives a short report citing as [n] the sources its tools actually read
        (listed after it). Takes from seconds to minutes; progress is reported.
        Example: deep_research(question="Which element has the highest melting point, and by how much does it beat the runner-up?")
        """

        async def report(step: int, line: str) -> None:
            await ctx.report_progress(step, None, line)

        return present.researched(await service.research(question, report, learn=learn))

    return server


def main(argv: Sequence[str] | None = None) -> int:
    from memento.memory import MemorySettings

    def build_from_env(settings: CommonSettings) -> MCPServer:
        # A bad agent or memory variable raises SettingsError, which stops the start with its message.
        return build(settings, AgentSettings.from_env(home=settings.home), MemorySettings.from_env(home=settings.home).memory_policy)

    return serve("research", CommonSettings, build_from_env, argv, description=__doc__.splitlines()[0])
