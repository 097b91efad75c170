"""Running one research episode for a host: models checked, tool servers started, progress forwarded.

No MCP here: the caller gets the episode's result and a `Progress` to listen
to. The research server itself is never started as one of the agent's tool
servers (that would let an episode start episodes).
"""

from __future__ import annotations

from dataclasses import dataclass

from memento.agent.episode import EpisodeResult
from memento.agent.progress import Progress
from memento.agent.session import RunOptions, check_models, open_episode
from memento.agent.settings import AgentSettings
from memento.core.errors import InvalidInput

__all__ = ["OWN_NAME", "ResearchService"]

OWN_NAME = "research"  # this server's name in mcp.json, left out of the agent's tools


@dataclass
class ResearchService:
    """Runs `deep_research` calls with the agent's settings and the memory policy read at start."""

    settings: AgentSettings
    policy: str

    def check(self) -> None:
        """Fail early, with the variable to set, when no model is configured."""
        check_models(self.settings)

    async def research(self, question: str, progress: Progress, *, learn: bool = True) -> EpisodeResult:
        """One episode over the other servers of the MCP config; the case memory is read and (once rewarded) written."""
        if not question.strip():
            raise InvalidInput("The question is empty; pass the whole research question.")
        self.check()
        options = RunOptions(self.settings, self.policy, None, self.settings.learn and learn)
        async with open_episode(options, progress=progress, exclude=(OWN_NAME,)) as episode:
            return await episode.run(question, policy=options.policy, learn=options.learn, source="mcp")
