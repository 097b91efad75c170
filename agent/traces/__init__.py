"""Every agent run, logged to `MEMENTO_HOME/runs.sqlite` as it happens, and read back as typed records.

    schema.py       the tables and their append-only named migrations
    connection.py   the shared connection: WAL, the write lock, sqlite errors as AgentError
    queries.py      RunReader: a run with every step, the run list, the runs a case was shown in
    store.py        RunStore(RunReader): the one writer, `start_run`, `log_*` (steps, calls, the report), `finish_run`, rewards
    records.py      RunRecord, RunSummary and the step, call and report records the queries return

Nothing here talks to a model or a tool: the episode tells the store what happened.
"""

from memento.core.secrets import scrub, scrub_text

from .queries import CUT_OFF, RunReader
from .records import (
    CaseShown,
    ModelCallRecord,
    PlanRecord,
    ReportRecord,
    RewardRecord,
    RunRecord,
    RunShowing,
    RunSummary,
    RunTotals,
    Step,
    SubtaskRecord,
    ToolCallRecord,
)
from .schema import MIGRATIONS
from .store import ROLES, RUN_STATUSES, SUBTASK_STATUSES, RunStore

__all__ = [
    "CUT_OFF",
    "MIGRATIONS",
    "ROLES",
    "RUN_STATUSES",
    "SUBTASK_STATUSES",
    "CaseShown",
    "ModelCallRecord",
    "PlanRecord",
    "ReportRecord",
    "RewardRecord",
    "RunReader",
    "RunRecord",
    "RunShowing",
    "RunStore",
    "RunSummary",
    "RunTotals",
    "Step",
    "SubtaskRecord",
    "ToolCallRecord",
    "scrub",
    "scrub_text",
]
