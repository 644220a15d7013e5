"""Shared helpers for the task build scripts: deterministic writers for the task format.

Only these build scripts read the raw sources; the harness reads the built tasks.
Run them with the project's environment (`make tasks`).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Iterable

from benchmark.task import write_checksums
from benchmark.task_import import EVAL_CAP, SUITE_SEED, cap_queries, toml_multiline, toml_string, write_jsonl  # noqa: F401
from benchmark.task_import import write_qrels_tsv as write_qrels  # noqa: F401 (the builders' name)
from benchmark.trec import UNSAFE

TASKS_DIR = Path(__file__).resolve().parents[1]
SOURCES_DIR = Path(os.environ.get("IQBENCH_SOURCES", TASKS_DIR.parents[1] / "shared" / "sources"))
SEED = SUITE_SEED  # the suite's build seed; changing it changes every task
# EVAL_CAP: most queries per evaluation split (a local LLM augments the suite in hours); cap_queries
# samples a split down to it. Both shared with `iqbench task import`, so imported tasks are capped alike.


def rng(salt: str) -> random.Random:
    """A seeded generator per purpose, so adding one sample never shifts another."""
    return random.Random(f"{SEED}:{salt}")


def normalize_text(text: str) -> str:
    """Whitespace-collapsed, case-folded text: the key for duplicate detection."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def trec_safe_ids(names: Iterable[str]) -> dict[str, str]:
    """Source name -> document id with each run of whitespace or control characters made '_'
    (TREC files split on whitespace); two names that would meet stop the build."""
    ids = {name: re.sub(rf"(?:{UNSAFE.pattern})+", "_", name) for name in names}
    if len(set(ids.values())) != len(ids):
        raise SystemExit("two source names give the same TREC-safe document id")
    return ids


def fresh_task_dir(task_id: str, root: Path | None = None) -> Path:
    task_dir = (root or TASKS_DIR) / task_id
    if task_dir.exists():
        shutil.rmtree(task_dir)
    (task_dir / "qrels").mkdir(parents=True)
    return task_dir


def source_commit(name: str) -> str:
    return (SOURCES_DIR / name / "COMMIT").read_text().strip()


def write_task_toml(task_dir: Path, meta: dict, splits: dict[str, int], eval_splits: list[str]) -> None:
    """task.toml from fixed fields; split sizes come from the built qrels."""
    lines = [
        f"id = {toml_string(meta['id'])}",
        f"title = {toml_string(meta['title'])}",
        f"family = {toml_string(meta['family'])}",
        f"main_metric = {toml_string('ndcg_cut_10')}",
        f"eval_splits = {json.dumps(eval_splits)}",
        f"description = {toml_multiline(meta['description'])}",
        f"notes = {toml_multiline(meta['notes'])}",
        f"caveats = {toml_multiline(meta['caveats'])}",
        "",
        "[source]",
        f"repo = {toml_string(meta['repo'])}",
        f"commit = {toml_string(meta['commit'])}",
        f"license = {toml_string(meta['license'])}",
        f"files = {json.dumps(meta['files'])}",
        f"citation = {toml_multiline(meta['citation'])}",
        "",
        "[splits]",
        *[f"{name} = {count}" for name, count in splits.items()],
        "",
    ]
    (task_dir / "task.toml").write_text("\n".join(lines), encoding="utf-8")


def finish_task(task_dir: Path, meta: dict, source: str, splits: dict[str, int], eval_splits: list[str]) -> None:
    """task.toml, the source's LICENSE with attribution, SHA256SUMS; then a one-line summary."""
    write_task_toml(task_dir, meta, splits, eval_splits)
    attribution = (f"Data derived from {meta['source_name']} ({meta['repo']}), commit {meta['commit']}, "
                   f"redistributed under its {meta['license']} licence:")
    licence = (SOURCES_DIR / source / "LICENSE").read_text(encoding="utf-8")
    (task_dir / "LICENSE").write_text(attribution + "\n\n" + licence, encoding="utf-8")
    write_checksums(task_dir)
    docs = sum(1 for _ in (task_dir / "corpus.jsonl").open(encoding="utf-8"))
    print(f"{meta['id']}: {docs} docs, splits " + ", ".join(f"{k}={v}" for k, v in splits.items()))
