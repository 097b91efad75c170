"""`memento memory …`: look into, fill, train and tidy the case bank from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from memento.memory import CaseBank

__all__ = ["memory"]


def _bank() -> CaseBank:
    """The bank the environment names, closed when the command ends.

    Failures are MementoErrors, which the `memento` group turns into one line and exit 1.
    """
    from memento.memory import CaseBank, MemorySettings

    bank = CaseBank.open(MemorySettings.from_env())
    click.get_current_context().call_on_close(bank.close)
    return bank


@click.group()
def memory() -> None:
    """The case bank: past tasks, their plans and rewards (MEMENTO_HOME/casebank or MEMENTO_CHROMA_URL)."""


@memory.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(as_json: bool) -> None:
    """How many cases and transitions the bank holds, and the Q policy's state."""
    facts = _bank().stats()
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    for key, value in facts.items():
        if key == "q_policy":  # its version history is for --json and the web UI
            value = {k: v for k, v in value.items() if k != "history"}
        click.echo(f"{key:<12} {value}")


@memory.command()
@click.argument("task")
@click.option("-k", default=None, type=int, help="How many cases (default MEMENTO_MEMORY_K, 4).")
@click.option("--policy", type=click.Choice(["similarity", "q"]), default=None, help="Retrieval policy.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(task: str, k: int | None, policy: str | None, as_json: bool) -> None:
    """The cases the agent would be shown for TASK: successes, failures and runs nobody rated, apart."""
    found = _bank().retrieve(task, k=k, policy=policy)
    if as_json:
        rows = [
            {"id": s.case.id, "task": s.case.task, "outcome": s.case.outcome, "score": s.score, "plan": s.case.plan} for s in found.cases
        ]
        click.echo(json.dumps({"policy": found.policy, "cases": rows}, indent=2))
        return
    click.echo(f"policy: {found.policy}")
    groups = [("successes", found.positive), ("failures", found.negative)]
    if found.unverified:
        groups.append(("not verified (never rated)", found.unverified))
    for title, group in groups:
        click.echo(f"\n{title}:")
        for scored in group:
            click.echo(f"  {scored.score:6.3f}  {scored.case.task}  [{scored.case.id}]")
        if not group:
            click.echo("  (none)")


@memory.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["memento", "memory", "training"]), default=None, help="Default: detected from the first line."
)
def import_(path: Path, fmt: str | None) -> None:
    """Load cases (and transitions) from JSONL: ours, or the reference memory.jsonl / training_data.jsonl."""
    from memento.memory.interchange import import_jsonl

    done = import_jsonl(_bank(), path, fmt)
    click.echo(f"imported {done['cases']} cases and {done['transitions']} transitions ({done['format']} format)")


@memory.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["memento", "memory", "training"]), default="memento", show_default=True)
def export(path: Path, fmt: str) -> None:
    """Write the bank to JSONL (memento is lossless; memory/training are the reference formats)."""
    from memento.memory.interchange import export_jsonl

    done = export_jsonl(_bank(), path, fmt)
    click.echo(f"exported {done['cases']} cases and {done['transitions']} transitions to {path} ({fmt} format)")


@memory.command()
def train() -> None:
    """Retrain the Q policy from every stored transition."""
    report = _bank().train()
    click.echo(json.dumps(report, indent=2, default=str))


@memory.command()
def repair() -> None:
    """Rebuild the read snapshot of an embedded bank (casebank/snapshot/) from Chroma, the store of record.

    Writers keep the snapshot current on their own, and a stale one is rebuilt when a process next opens
    Chroma; this is for a snapshot damaged behind their back (a disk error, a hand edit). A bank on a
    Chroma server has no snapshot.
    """
    bank = _bank()
    if bank.store.snapshot is None:
        click.echo("nothing to repair: a bank on a Chroma server (MEMENTO_CHROMA_URL) keeps no read snapshot")
        return
    bank.store.rebuild_snapshot()
    click.echo(f"rebuilt the read snapshot from Chroma: {bank.count()} cases")


@memory.command()
@click.option("--max-cases", type=int, default=None, help="Size to keep (default MEMENTO_MEMORY_MAX_CASES).")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def prune(max_cases: int | None, dry_run: bool) -> None:
    """Drop near-duplicate cases, then the least useful ones above the size cap."""
    from memento.memory.curation import prune as run_prune

    bank = _bank()
    report = run_prune(bank, max_cases or bank.settings.memory_max_cases, bank.settings.memory_duplicate_threshold, dry_run)
    click.echo(json.dumps(report.to_json(), indent=2))


@memory.command("eval-retriever", context_settings={"ignore_unknown_options": True})
@click.option(
    "--train",
    "train_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Reference-format training_data.jsonl rows to train on.",
)
@click.option(
    "--test", "test_file", required=True, type=click.Path(exists=True, dir_okay=False), help="Rows to evaluate on (other queries)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_retriever(train_file: str, test_file: str, as_json: bool) -> None:
    """Train the default Q-function on --train and report AUC, accuracy, F1 on --test."""
    from memento.memory.evaluate import main as evaluate

    argv = ["--train", train_file, "--test", test_file] + (["--json"] if as_json else [])
    code = evaluate(argv)
    if code:
        sys.exit(code)
