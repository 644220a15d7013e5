"""What a result file must satisfy before any number in it is shown, compared or trusted as present.

A result is accepted only if its schema is valid, it carries the content hash written with it
(so an edit since is named as such), its aggregates are the means of its per-query values,
every judged query of its split is present, and it was computed on the task and by the system
configuration as they are now. Each problem names the file and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING, Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchmark.metrics import METRICS
from benchmark.storage import sha256_json

if TYPE_CHECKING:
    from benchmark.task import Task

SCHEMA = "iqbench.result/1"
HASH_FIELD = "content_sha256"
ROLES = ("baseline", "reference", "submission", "oracle", "budget")
"""What a system is on the board (the protocol assigns them; "budget": a label-budget curve point,
shown on its own page, never in the main table)."""
AGGREGATE_TOLERANCE = 1e-12
"""Aggregates are fmean of the stored per-query values; JSON keeps floats exactly, so only a
different summation order could move them, by far less than this."""


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Component(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    use: str
    args: dict[str, Any]


class _Retriever(_Component):
    finetuned: bool
    fingerprint: dict[str, Any]


class _System(_Closed):
    id: str = Field(min_length=1)
    submission: str | None
    role: Literal[ROLES]  # type: ignore[valid-type]
    reference: str
    config_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    augmenter: _Component
    retriever: _Retriever


class _Task(_Closed):
    id: str
    split: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    suite: str
    official: bool
    queries: int = Field(ge=0)


class _Cost(_Closed):
    added_tokens_mean: float
    llm_prompt_tokens_mean: float = Field(ge=0)
    llm_completion_tokens_mean: float = Field(ge=0)
    augment_ms_mean: float = Field(ge=0)
    search_ms_mean: float = Field(ge=0)


class ResultRecord(_Closed):
    """The iqbench.result/1 schema, as pydantic checks it (`schema` is a reserved name there)."""

    schema_: Literal[SCHEMA] = Field(alias="schema")  # type: ignore[valid-type]
    system: _System
    task: _Task
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    cost: _Cost
    provenance: dict[str, Any]
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def content_hash(record: Mapping[str, Any]) -> str:
    """The hash a result carries of itself: every field but the hash, in canonical JSON."""
    return sha256_json({k: v for k, v in record.items() if k != HASH_FIELD})


def sealed(record: dict) -> dict:
    """The record with its content hash (what write_result stores)."""
    return {**{k: v for k, v in record.items() if k != HASH_FIELD}, HASH_FIELD: content_hash(record)}


@dataclass(frozen=True)
class TaskFacts:
    """What a result of this task must agree with: its sha, officialness and judged queries."""

    sha256: str
    official: bool
    judged: Mapping[str, frozenset[str]]
    """split -> the query ids of its qrels."""

    @classmethod
    def of(cls, task: "Task") -> "TaskFacts":
        return cls(task.sha256, task.official, {s: frozenset(q) for s, q in task.qrels.items()})


class InvalidResult(ValueError):
    """A result file that must not be shown or counted as present; the message names file and field."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = Path(path), problems
        super().__init__(f"{path}: " + "; ".join(problems))


def _location(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(record)"


def schema_problems(record: Any) -> list[str]:
    """What pydantic finds wrong with the record's shape (empty: its fields can be read)."""
    if not isinstance(record, dict):
        return ["(record): expected a JSON object"]
    try:
        ResultRecord.model_validate(record)
    except ValidationError as e:
        return [f"{_location(err)}: {err['msg']}" for err in e.errors()[:8]]
    return []


def structural_problems(record: Any) -> list[str]:
    """Schema, content hash, metric keys and aggregates: what the file alone can prove."""
    if problems := schema_problems(record):
        return problems
    problems = []
    if record[HASH_FIELD] != content_hash(record):
        problems.append(f"{HASH_FIELD}: does not match the content: the file was edited after it was written")
    missing = [m for m in METRICS if m not in record["metrics"]]
    if missing:
        problems.append(f"metrics: missing {', '.join(missing)}")
    for qid, values in record["per_query"].items():
        if gaps := [m for m in METRICS if m not in values]:
            problems.append(f"per_query.{qid}: missing {', '.join(gaps)}")
            break
        if bad := [m for m in METRICS if not (math.isfinite(values[m]) and 0.0 <= values[m] <= 1.0)]:
            problems.append(f"per_query.{qid}.{bad[0]}: {values[bad[0]]!r} is not in [0, 1]")
            break
    if problems:
        return problems
    n = len(record["per_query"])
    if record["task"]["queries"] != n:
        problems.append(f"task.queries: {record['task']['queries']}, but per_query holds {n} queries")
    for m in METRICS:
        mean = fmean(v[m] for v in record["per_query"].values()) if n else 0.0
        if abs(record["metrics"][m] - mean) > AGGREGATE_TOLERANCE:
            problems.append(f"metrics.{m}: {record['metrics'][m]!r} is not the mean of its per-query values "
                            f"({mean!r})")
    return problems


def check_record(record: Any, facts: TaskFacts | None = None, config_sha256: str | None = None) -> list[str]:
    """Every problem with one result record (empty: it may be shown and counted as present).
    With `facts`, it must be of the task as it is now; with `config_sha256`, of the system as it is now."""
    problems = structural_problems(record)
    if problems or facts is None:
        return problems
    return currency_problems(record, facts, config_sha256)


def currency_problems(record: dict, facts: TaskFacts, config_sha256: str | None = None) -> list[str]:
    """Whether a structurally sound record is of the task (and system configuration) as they are now."""
    problems = []
    task, split = record["task"], record["task"]["split"]
    if task["sha256"] != facts.sha256:
        problems.append(f"task.sha256: {task['sha256'][:12]}…, but the task is now {facts.sha256[:12]}… (stale: "
                        f"the task changed since)")
    if task["official"] != facts.official:
        problems.append(f"task.official: {task['official']}, but the task is now "
                        f"{'official' if facts.official else 'modified (unofficial)'}")
    if split not in facts.judged:
        problems.append(f"task.split: the task has no split {split!r}")
    else:
        judged, present = facts.judged[split], set(record["per_query"])
        if absent := sorted(judged - present):
            problems.append(f"per_query: {len(absent)} judged queries missing (first: {', '.join(absent[:3])})")
        if unknown := sorted(present - judged):
            problems.append(f"per_query: {len(unknown)} queries not judged in {split} "
                            f"(first: {', '.join(unknown[:3])})")
    if config_sha256 is not None and record["system"]["config_sha256"] != config_sha256:
        problems.append("system.config_sha256: stale: the system's configuration changed since "
                        "(components, arguments, recipe or files)")
    return problems


def load_record(path: Path) -> Any:
    """The parsed JSON of a result file; InvalidResult if it cannot be parsed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidResult(path, [f"(file): not valid JSON ({e})"]) from None
