"""Result files: one JSON per system x task x split, in the iqbench.result/1 schema, written atomically."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import benchmark
from benchmark.storage import atomic_write_json

if TYPE_CHECKING:
    from benchmark.task import Task

SCHEMA = "iqbench.result/1"
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
    if record.get("schema") != SCHEMA:
        raise ValueError(f"refusing to write a record without schema {SCHEMA!r}")
    atomic_write_json(path, record)


def read_result(path: Path) -> dict:
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if record.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {record.get('schema')!r}, expected {SCHEMA!r}")
    return record


def is_current(path: Path, task: "Task", config_sha256: str) -> bool:
    """A result counts as present only if it is readable, was computed on this exact task (official
    or not, as now) and by this exact system configuration; anything else is recomputed."""
    if not path.is_file():
        return False
    try:
        rec = read_result(path)
        return (rec["task"]["sha256"] == task.sha256 and rec["task"].get("official") == task.official
                and rec["system"].get("config_sha256") == config_sha256)
    except (ValueError, KeyError):
        return False


@dataclass(frozen=True)
class StoredResult:
    path: Path
    record: dict


def iter_results(root: Path) -> Iterator[StoredResult]:
    for path in sorted(Path(root).glob("*/*/*.json")):
        yield StoredResult(path, read_result(path))
