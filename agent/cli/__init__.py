"""The `memento` command line: one click group, one module per command area.

memento run TASK [--file F] [--json]  research a task with the agent (and learn from it)
memento chat                          the agent, multi-turn
memento feedback RUN_ID good|bad|0..1 a reward that arrives later
memento runs list|show                the traces of past runs
memento demo                          what `make run` does
memento eval DATASET | report DIR...  benchmark the agent; learning curves
memento ui                            runs, memory and evals in a local web page
memento servers list|check|config    the bundled MCP servers
memento memory stats|search|import|export|train|prune|eval-retriever
                                     the case bank
memento index build|status           the local search index
memento config [--markdown]          every MEMENTO_* setting with its default
                                     (--markdown: the page docs/configuration.md)

`root` holds the group and where each command lives; `options` what several
commands share (the agent's options, running until a signal). A command module
imports its heavy dependencies inside the command, so `memento --help` stays instant.
"""

from .root import cli, main

__all__ = ["cli", "main"]
