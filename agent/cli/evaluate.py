"""`memento eval`: run a benchmark through the agent, score it, and report; `memento eval report` merges folders."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from .options import agent_options, run_options, run_until_signal

__all__ = ["evaluate"]

SCORER_CHOICES = ("auto", "em", "f1", "gaia", "simpleqa", "llm")


class _EvalGroup(click.Group):
    """`memento eval DATASET …` runs an eval; `memento eval report DIR…` is the one subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_EvalGroup, name="eval")
def evaluate() -> None:
    """Run a benchmark through the agent and score it (memento eval DATASET), or report on eval folders.

    \b
    memento eval data/reference/deepresearcher.jsonl --sample 50 --seed 1 --out evals/dr-sim
    memento eval gaia/validation/metadata.jsonl --memory q --iterations 3
    memento eval simple_qa_test_set.csv --limit 200 --concurrency 4
    memento eval report evals/dr-none evals/dr-sim evals/dr-q --out evals/compare
    """


@evaluate.command("run")
@click.argument("dataset", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "deepresearcher", "gaia", "simpleqa", "jsonl"]),
    default="auto",
    show_default=True,
    help="Dataset format; auto tells GAIA, SimpleQA (CSV) and DeepResearcher JSONL apart.",
)
@click.option("--question-field", help="Generic JSONL: the field holding the question.")
@click.option(
    "--answer-field", help="Generic JSONL: the field holding the answer (a string, alternatives joined by <|answer_split|>, or a list)."
)
@click.option("--id-field", help="Generic JSONL: the field holding a task id (default: a hash of question and answer).")
@click.option("--limit", type=click.IntRange(1), help="Only the first N tasks (after --sample).")
@click.option("--sample", type=click.IntRange(1), help="A random sample of N tasks (seeded by --seed, kept in file order).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
@click.option("--shard", help="Run shard i of n (e.g. 2/4): every n-th task, so n machines cover the dataset exactly once.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=2, show_default=True, help="Tasks running at once.")
@click.option(
    "--iterations", type=click.IntRange(1, 100), default=1, show_default=True, help="Passes over the tasks; memory learns in between."
)
@click.option(
    "--attempts", type=click.IntRange(1, 20), default=1, show_default=True, help="Attempts per task and iteration (avg@k, best@k)."
)
@click.option(
    "--scorer",
    "scorer_names",
    type=click.Choice(SCORER_CHOICES),
    multiple=True,
    help="How answers are scored (repeatable; default auto: gaia for GAIA, simpleqa for SimpleQA, else em + f1 + llm).",
)
@click.option(
    "--self-recall",
    is_flag=True,
    help="The paper's protocol: on iteration 2+ a task may be shown its own earlier case (default: never; see docs/eval.md).",
)
@click.option(
    "--explore",
    "explore",
    type=click.FloatRange(min=0),
    default=None,
    help="Softmax temperature at which training iterations (all but the last) sample the cases shown, so the memory "
    "learns about cases it ranks low; the last iteration is greedy (default MEMENTO_MEMORY_TEMPERATURE; 0: greedy throughout).",
)
@click.option("--exclude-seen", is_flag=True, help="Leave out tasks whose question (or a near duplicate) is already in the case bank.")
@click.option("--fresh-memory", is_flag=True, help="Start from an empty case bank in OUT/memory instead of the configured one.")
@click.option("--resume", is_flag=True, help="Continue the eval in --out: finished tasks are not run again.")
@click.option("--retry-failed", is_flag=True, help="With --resume: run tasks whose run failed (e.g. the API was down) again.")
@click.option(
    "--max-eval-cost",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Stop starting tasks once the eval has spent this many USD (0: no cap); --resume continues later.",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Result folder (default evals/DATASET-MEMORY[-shard-i-of-n])."
)
@click.option("--json", "as_json", is_flag=True, help="Print summary.json at the end instead of a text summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@agent_options
def eval_run(
    dataset: Path,
    fmt: str,
    question_field: str | None,
    answer_field: str | None,
    id_field: str | None,
    limit: int | None,
    sample: int | None,
    seed: int,
    shard: str | None,
    concurrency: int,
    iterations: int,
    attempts: int,
    scorer_names: tuple[str, ...],
    self_recall: bool,
    explore: float | None,
    exclude_seen: bool,
    fresh_memory: bool,
    resume: bool,
    retry_failed: bool,
    max_eval_cost: float,
    out: Path | None,
    as_json: bool,
    quiet: bool,
    **flags: Any,
) -> None:
    """Run DATASET's tasks through the agent, score each answer, and write results.jsonl, summary.json, report.md and plots."""
    from memento.agent.evals.datasets import load_dataset, parse_shard, select_tasks
    from memento.agent.evals.runner import EvalPlan, finished, prepare_folder, report, run_eval
    from memento.agent.evals.scoring import needs_model
    from memento.agent.judge import self_grading
    from memento.agent.session import check_models, open_episode

    if retry_failed and not resume:
        raise click.UsageError("--retry-failed continues an eval: give --resume too.")
    options = run_options(**flags)
    data = load_dataset(dataset, fmt, question_field=question_field, answer_field=answer_field, id_field=id_field)
    shard_of = parse_shard(shard) if shard else None
    tasks = select_tasks(data.tasks, sample=sample, seed=seed, limit=limit, shard=shard_of)
    if not tasks:
        raise click.UsageError("No task is left after --sample, --limit and --shard.")
    scorers = _scorers(scorer_names, data.format)
    memory = options.policy
    if out is None:
        suffix = f"-shard-{shard_of[0]}-of-{shard_of[1]}" if shard_of else ""
        out = Path("evals") / f"{data.path.stem if data.format != 'gaia' else data.path.parent.name}-{memory}{suffix}"
    if fresh_memory:
        from memento.memory import MemorySettings

        settings = MemorySettings.from_env()
        if settings.chroma_url:
            raise click.UsageError("--fresh-memory makes a local case bank; unset MEMENTO_CHROMA_URL to use it.")
        options.memory = MemorySettings.from_env(home=out / "memory")
    check_models(options.settings)
    if explore is None:
        from memento.memory import MemorySettings

        explore = (options.memory or MemorySettings.from_env()).memory_temperature
    plan = EvalPlan(
        data,
        tasks,
        out,
        options,
        memory=memory,
        iterations=iterations,
        attempts=attempts,
        concurrency=concurrency,
        scorers=scorers,
        exclude_seen=exclude_seen,
        resume=resume,
        retry_failed=retry_failed,
        max_cost_usd=max_eval_cost,
        self_recall=self_recall,
        explore=explore,
        selection={"sample": sample, "seed": seed if sample else None, "limit": limit, "shard": shard, "format": data.format},
    )
    config = prepare_folder(plan)
    if resume and finished(plan):
        click.echo(f"Every task in {out} has its result; the report is rewritten.", err=True)
        click.echo(_headline(report(plan, config)))
        click.echo(f"report: {out / 'report.md'}")
        return
    for note in data.notes:
        click.echo(f"note: {note}", err=True)
    if any(needs_model(s) for s in scorers):
        click.echo(f"grader: {options.settings.grader_model}", err=True)
    if warning := self_grading(options.settings.planner_model, options.settings.judge_model):
        click.echo(f"warning: {warning}", err=True)  # once; config.json and report.md say it too
    recall = " (self-recall)" if self_recall and memory != "none" else ""
    recall += f", exploring at T={plan.explore:g} before the last iteration" if plan.explores(1) else ""
    click.echo(
        f"{len(tasks)} task(s) × {iterations} iteration(s) × {attempts} attempt(s) · memory {memory}{recall} · {', '.join(scorers)} → {out}",
        err=True,
    )
    display = _Display(quiet or not sys.stderr.isatty())

    async def body() -> dict[str, Any]:
        # Sealed: the servers see one private folder of per-task folders, never the dataset's folder or this one.
        with tempfile.TemporaryDirectory(prefix="memento-eval-inputs-") as root:
            plan.inputs_root = Path(root)
            async with open_episode(options, plan.inputs_root, sealed=True) as episode:
                with display:
                    return await run_eval(plan, episode, config, display.update)

    try:
        summary = run_until_signal(body)
    except SystemExit as stop:
        if stop.code == 130:
            click.echo(f"Results so far are in {out}/results.jsonl; continue with: memento eval ... --out {out} --resume", err=True)
        raise
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(_headline(summary))
        click.echo(f"report: {out / 'report.md'}")


@evaluate.command("report")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write (default: the folder itself when one is given, else ./eval-report).",
)
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of a text summary.")
def eval_report(dirs: tuple[Path, ...], out: Path | None, as_json: bool) -> None:
    """Summarise eval folders: shards of one eval merge, other evals (e.g. memory designs) go side by side."""
    from memento.agent.evals.report import load_groups, write_report

    try:
        groups = load_groups(list(dirs))
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    target = out or (dirs[0] if len(dirs) == 1 else Path("eval-report"))
    document = write_report(target, groups)
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False))
        return
    for summary in document.get("groups", [document]):
        click.echo(_headline(summary))
    click.echo(f"report: {target / 'report.md'}")


def _scorers(names: tuple[str, ...], dataset_format: str) -> list[str]:
    from memento.agent.evals.runner import auto_scorers

    chosen: list[str] = []
    for name in names or ("auto",):
        chosen += auto_scorers(dataset_format) if name == "auto" else [name]
    return list(dict.fromkeys(chosen))


def _headline(summary: dict[str, Any]) -> str:
    accuracy = "–" if summary["accuracy"] is None else f"{100 * summary['accuracy']:.1f}%"
    parts = [
        f"{summary['label']}: accuracy {accuracy} ({summary['correct']}/{summary['scored']} scored)",
        f"{summary['unknown']} unknown" if summary["unknown"] else "",
        f"{summary['tokens']:,} tokens",
        f"${summary['cost_usd']:.4f}",
    ]
    return " · ".join(p for p in parts if p)


class _Display:
    """A rich progress bar (running accuracy, tokens, cost, ETA) on a terminal; a line per task otherwise."""

    def __init__(self, plain: bool) -> None:
        self.plain = plain
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Display:
        if not self.plain:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("eval"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[figures]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, tally: Any, row: dict[str, Any] | None) -> None:
        accuracy = "–" if tally.accuracy is None else f"{100 * tally.accuracy:.1f}%"
        figures = f"acc {accuracy} · {tally.tokens:,} tok · ${tally.cost_usd:.2f}"
        if self._bar is not None:
            if self._task is None:
                self._task = self._bar.add_task("eval", total=tally.total, completed=tally.done, figures=figures)
            else:
                self._bar.update(self._task, completed=tally.done, figures=figures)
            return
        if row is not None:
            mark = {True: "correct", False: "wrong", None: "unscored"}[row["correct"]]
            click.echo(
                f"[{tally.done}/{tally.total}] {row['id']} it{row['iteration']} {row['status']} {mark} {row['seconds']:.0f}s · {figures}",
                err=True,
            )
