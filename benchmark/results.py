"""Result files: one JSON per system x task x split, in the iqbench.result/1 schema, written atomically."""

from __future__ import annotations

import importlib.metadata
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import benchmark
from benchmark.integrity import SCHEMA  # noqa: F401 (re-exported: the schema every result names)
from benchmark.integrity import InvalidResult, TaskFacts, check_record, currency_problems, load_record, sealed
from benchmark.storage import atomic_write_json
LIBRARIES = ("torch", "sentence-transformers", "transformers", "faiss-cpu", "bm25s", "PyStemmer",
             "pytrec-eval-terrier", "tiktoken", "numpy")


def results_root() -> Path:
    return Path(benchmark.__file__).resolve().parents[1] / "results"


def result_path(root: Path, task_id: str, split: str, system_id: str) -> Path:
    return Path(root) / task_id / split / f"{system_id}.json"


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(models: dict[str, str], seed: int, manifest_sha256: str | None, extra: dict[str, Any]) -> dict:
    return {
        "iqbench": benchmark.__version__,
        "python": platform.python_version(),
        "libraries": library_versions(),
        "models": models,
        "seed": seed,
        "manifest_sha256": manifest_sha256,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def write_result(path: Path, record: dict) -> None:
    """Write a new result with its content hash; a record that fails its own checks is never written."""
    record = sealed(record)
    if problems := check_record(record):
        raise InvalidResult(path, problems)
    atomic_write_json(path, record)


def read_result(path: Path) -> dict:
    """A result file that passes every check the file alone allows (schema, hash, aggregates)."""
    record = load_record(path)
    if problems := check_record(record):
        raise InvalidResult(path, problems)
    return record


def stale_reasons(path: Path, facts: TaskFacts, config_sha256: str) -> list[str] | None:
    """None if there is no result file; [] if it is current (valid, of this exact task and system
    configuration); otherwise why it must be recomputed."""
    if not path.is_file():
        return None
    try:
        return check_record(load_record(path), facts, config_sha256)
    except InvalidResult as e:
        return e.problems


@dataclass(frozen=True)
class StoredResult:
    path: Path
    record: dict


@dataclass(frozen=True)
class Expectations:
    """What results must agree with to be shown: the suite's tasks as they are now and, per
    (task id, system id), the configuration hash of every system the submissions define."""

    tasks: dict[str, TaskFacts]
    configs: dict[tuple[str, str], str]

    def problems(self, record: dict) -> list[str]:
        """Every check_record problem, against the task and the system as they are now."""
        if problems := check_record(record):
            return problems
        task_id, system_id = record["task"]["id"], record["system"]["id"]
        if task_id not in self.tasks:
            return [f"task.id: {task_id!r} is not a task of the suite"]
        if (task_id, system_id) not in self.configs:
            return [f"system.id: no submission defines {system_id!r} on {task_id!r} now"]
        return currency_problems(record, self.tasks[task_id], self.configs[(task_id, system_id)])


def _model_problem(record: dict, reference: dict) -> str | None:
    """A fine-tuned cell must run the very model its reference row ran (same retriever, same
    weights hash), or their difference would measure two trainings rather than one augmenter."""
    mine, theirs = record["system"]["retriever"], reference["system"]["retriever"]
    same_retriever = (mine["use"], mine["args"]) == (theirs["use"], theirs["args"])
    # The -ftA cell (the augmenter's own inputs) and a label-budget point (fewer queries, fewer steps)
    # are other models by design.
    on_queries = mine.get("finetuned_on", "query") == "query" and "label_budget" not in mine
    if not (mine["finetuned"] and theirs["finetuned"] and same_retriever and on_queries):
        return None
    a, b = mine["fingerprint"].get("weights_sha256"), theirs["fingerprint"].get("weights_sha256")
    if a == b:
        return None
    return (f"system.retriever.fingerprint.weights_sha256: fine-tuned model {str(a)[:12]}… differs from the one "
            f"its reference row {reference['system']['id']!r} ran ({str(b)[:12]}…): both cells must use one "
            "model (recompute them together, or use the shipped reference)")


def load(results_dir: Path, expected: Expectations | None = None):
    """Every result that passes its checks as tidy pandas DataFrames (benchmark.frames.ResultFrames:
    `metrics`, `per_query`, `refused`); pandas is imported only when this is called."""
    from benchmark.frames import load_frames
    return load_frames(results_dir, expected)


def scan_results(root: Path, expected: Expectations | None = None,
                 ) -> tuple[list[StoredResult], list[InvalidResult]]:
    """Every result file under root, split into those that pass every check and those refused."""
    accepted, refused = [], []
    for path in sorted(Path(root).glob("*/*/*.json")):
        try:
            record = load_record(path)
        except InvalidResult as e:
            refused.append(e)
            continue
        if problems := expected.problems(record) if expected is not None else check_record(record):
            refused.append(InvalidResult(path, problems))
        else:
            accepted.append(StoredResult(path, record))
    by_cell = {(r.record["task"]["id"], r.record["task"]["split"], r.record["system"]["id"]): r for r in accepted}
    kept = []
    for r in accepted:
        task, system = r.record["task"], r.record["system"]
        reference = by_cell.get((task["id"], task["split"], system["reference"]))
        problem = _model_problem(r.record, reference.record) if reference and reference is not r else None
        if problem:
            refused.append(InvalidResult(r.path, [problem]))
        else:
            kept.append(r)
    return kept, refused

