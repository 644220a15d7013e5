"""LLM completions shipped in a submission folder: one JSONL file per task.

Line 1 is a header: {"format": "iqbench.augmentations/1", "task", "task_sha256", "generator",
"provenance"}; `generator` says what produced the completions (augmenter, prompt hash, model,
settings). Every further line is one completion: {"query_id", "query", "text" (the completion),
"llm_prompt_tokens", "llm_completion_tokens"}, plus "sample": j (1, 2, ...) for the further
sampled completions of an augmenter that draws several per query (sample 0 carries no field). A file may be partial (generation is resumable
and committed in pieces); every problem names the file and the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from benchmark.augmenters.precomputed import MAX_FILE_BYTES, PrecomputedError, parse_line
from benchmark.llm.backend import Completion
from benchmark.storage import atomic_write_bytes, sha256_json
from benchmark.task import Query

FORMAT = "iqbench.augmentations/1"


def task_file(folder: Path, task_id: str) -> Path:
    return Path(folder) / f"{task_id}.jsonl"


@dataclass(frozen=True)
class ShippedCompletions:
    path: Path
    generator: dict
    provenance: dict
    rows: dict[tuple[str, int], tuple[str, Completion]] = field(default_factory=dict)
    """(query id, sample) -> (the query text it was generated for, the completion)."""

    @property
    def rows_sha256(self) -> str:
        """What a run reads from the file (not its header's provenance, which a resumed job rewrites)."""
        return sha256_json(sorted((qid, q, c.text, c.prompt_tokens, c.completion_tokens, *((j,) if j else ()))
                                  for (qid, j), (q, c) in self.rows.items()))

    def get(self, query: Query, sample: int = 0) -> Completion | None:
        row = self.rows.get((query.id, sample))
        return row[1] if row and row[0] == query.text else None


def _header(line: str, where: str, task_id: str, task_sha256: str) -> dict:
    try:
        header = json.loads(line)
    except json.JSONDecodeError as e:
        raise PrecomputedError(f"{where}: header is not valid JSON ({e.msg})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise PrecomputedError(f"{where}: expected a header line with \"format\": \"{FORMAT}\"")
    if header.get("task") != task_id:
        raise PrecomputedError(f"{where}: made for task {header.get('task')!r}, not {task_id!r}")
    if header.get("task_sha256") != task_sha256:
        raise PrecomputedError(f"{where}: made for task sha256 {str(header.get('task_sha256'))[:12]}…, but the "
                               f"task is now {task_sha256[:12]}…; regenerate with `iqbench augment`")
    if not isinstance(header.get("generator"), dict):
        raise PrecomputedError(f"{where}: field 'generator' must be an object")
    return header


def read_completions(path: Path, task_id: str, task_sha256: str, queries: Mapping[str, str]) -> ShippedCompletions:
    """The file's completions, checked against the task: its sha, its query ids and texts (`queries`)."""
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise PrecomputedError(f"{path.name}: {path.stat().st_size:,} bytes; at most {MAX_FILE_BYTES:,}")
    rows: dict[tuple[str, int], tuple[str, Completion]] = {}
    with path.open(encoding="utf-8") as f:
        first = f.readline()
        header = _header(first, f"{path.name}:1", task_id, task_sha256)
        for n, line in enumerate(f, 2):
            if not line.strip():
                continue
            where = f"{path.name}:{n}"
            row = parse_line(line, where, samples=True)
            if row.query_id not in queries:
                raise PrecomputedError(f"{where}: unknown query id {row.query_id!r} (not in task {task_id!r})")
            if queries[row.query_id] != row.query:
                raise PrecomputedError(f"{where}: query {row.query_id!r} has text {row.query!r} in this file, "
                                       f"{queries[row.query_id]!r} in the task")
            if (row.query_id, row.sample) in rows:
                raise PrecomputedError(f"{where}: query {row.query_id!r}" + (f" sample {row.sample}" if row.sample
                                                                             else "") + " appears twice")
            a = row.augmentation
            rows[(row.query_id, row.sample)] = (row.query, Completion(a.text, a.llm_prompt_tokens,
                                                                      a.llm_completion_tokens))
    return ShippedCompletions(path, header["generator"], header.get("provenance") or {}, rows)


def write_completions(path: Path, task_id: str, task_sha256: str, generator: dict, provenance: dict,
                      rows: Mapping[tuple[str, int], tuple[str, Completion]]) -> None:
    """Atomically; rows in (query id, sample) order, so a regenerated file diffs cleanly."""
    header = {"format": FORMAT, "task": task_id, "task_sha256": task_sha256, "generator": generator,
              "provenance": provenance}
    lines = [json.dumps(header, sort_keys=True, ensure_ascii=False)]
    for qid, sample in sorted(rows):
        query, c = rows[(qid, sample)]
        lines.append(json.dumps({"query_id": qid, "query": query, **({"sample": sample} if sample else {}),
                                 "text": c.text, "llm_prompt_tokens": c.prompt_tokens,
                                 "llm_completion_tokens": c.completion_tokens}, ensure_ascii=False))
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
