"""Augmentations computed elsewhere (a paid API, a cluster) and shipped as a file in the submission.

One JSON object per line: {"query_id", "query", "text", "llm_prompt_tokens"?,
"llm_completion_tokens"?}. A row applies to a query only if both its id and the text the
user typed match, so a row can never be applied to a different query that shares an id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from benchmark.augmenters.base import MAX_TEXT_CHARS, Augmentation
from benchmark.storage import sha256_file
from benchmark.task import Query

MAX_FILE_BYTES = 256 * 1024 * 1024


class PrecomputedError(ValueError):
    """A malformed augmentation file; the message names the file and the line."""


class MissingRows(PrecomputedError):
    """The file has no augmentation for some of the queries asked for."""


@dataclass(frozen=True)
class Row:
    query_id: str
    query: str
    augmentation: Augmentation
    sample: int = 0
    """Which of several sampled completions for the query (LLM completion files only)."""


def parse_line(line: str, where: str, samples: bool = False) -> Row:
    """One row; with `samples` (LLM completion files), an optional "sample" index is allowed."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise PrecomputedError(f"{where}: not valid JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise PrecomputedError(f"{where}: expected a JSON object")
    unknown = set(data) - {"query_id", "query", "text", "llm_prompt_tokens", "llm_completion_tokens"} - (
        {"sample"} if samples else set())
    if unknown:
        raise PrecomputedError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in ("query_id", "query", "text"):
        if not isinstance(data.get(key), str):
            raise PrecomputedError(f"{where}: field {key!r} must be a string")
    if len(data["text"]) > MAX_TEXT_CHARS:
        raise PrecomputedError(f"{where}: text has {len(data['text']):,} characters; at most {MAX_TEXT_CHARS:,}")
    tokens = []
    for key in ("llm_prompt_tokens", "llm_completion_tokens"):
        value = data.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PrecomputedError(f"{where}: field {key!r} must be a non-negative integer")
        tokens.append(value)
    sample = data.get("sample", 0)
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
        raise PrecomputedError(f"{where}: field 'sample' must be a non-negative integer")
    return Row(data["query_id"], data["query"], Augmentation(data["text"], *tokens), sample)


def read_rows(path: Path) -> dict[tuple[str, str], Augmentation]:
    """(query id, query text) -> augmentation; every problem names file and line."""
    path = Path(path)
    if not path.is_file():
        raise PrecomputedError(f"{path.name}: no such file in the submission folder")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise PrecomputedError(f"{path.name}: {path.stat().st_size:,} bytes; at most {MAX_FILE_BYTES:,}")
    rows: dict[tuple[str, str], Augmentation] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = parse_line(line, f"{path.name}:{n}")
            key = (row.query_id, row.query)
            if key in rows and rows[key] != row.augmentation:
                raise PrecomputedError(f"{path.name}:{n}: query {row.query_id!r} has two different augmentations")
            rows[key] = row.augmentation
    return rows


class PrecomputedAugmenter:
    """Looks each query up in the submission's file; a query with no row is an error, not a skip."""

    name = "precomputed"
    oracle = False

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._rows = read_rows(self.path)

    def fingerprint(self) -> dict:
        return {"name": self.name, "file_sha256": sha256_file(self.path)}

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        missing = [q.id for q in queries if (q.id, q.text) not in self._rows]
        if missing:
            raise MissingRows(f"{self.path.name}: no augmentation for {len(missing)} of {len(queries)} "
                                   f"queries (first: {', '.join(missing[:5])})")
        return [self._rows[(q.id, q.text)] for q in queries]
