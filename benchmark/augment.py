"""`iqbench augment`: generate a submission's LLM completions into its folder, resumably.

Completions go to <precomputed_path>/<task>.jsonl, rewritten atomically after every chunk, so a
killed job loses at most one chunk and a partial file can be committed; the completion cache
makes a restart skip what was generated before. Runs then read these files and need no LLM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from tqdm import tqdm

from benchmark.augmenters import build_augmenter, visible_query
from benchmark.augmenters.llm import LLMAugmenter
from benchmark.llm.backend import LLMError
from benchmark.llm.files import task_file, write_completions
from benchmark.runner import task_view
from benchmark.submission import Submission, SubmissionError
from benchmark.task import Suite

CHUNK = 32


@dataclass(frozen=True)
class Generated:
    task: str
    queries: int
    present: int
    generated: int
    seconds: float


def llm_augmenter(submission: Submission) -> LLMAugmenter:
    spec = submission.manifest.augmenter
    augmenter = build_augmenter(spec.use, spec.args, submission.path)
    if not isinstance(augmenter, LLMAugmenter) or augmenter.precomputed is None:
        raise SubmissionError(f"{submission.name}: nothing to precompute; `iqbench augment` needs an llm-* "
                              "augmenter with precomputed_path (the folder its completions go to)")
    if augmenter.backend_kind == "file":
        raise SubmissionError(f"{submission.name}: backend 'file' only reads completions; name a backend that "
                              "generates (llama-cpp or openai)")
    if reason := augmenter.why_unavailable():
        raise LLMError(f"{submission.name}: cannot generate: {reason}")
    return augmenter


def augment_submission(submission: Submission, suite: Suite, task_ids: list[str] | None = None,
                       splits: list[str] | None = None, show_progress: bool = True,
                       report: Callable[[Generated], None] = lambda _: None) -> list[Generated]:
    augmenter = llm_augmenter(submission)
    done = []
    for task_id in task_ids or suite.task_ids:
        task = suite.load(task_id)
        augmenter.prepare(task_view(task))  # checks an existing file against the task and the generator
        rows = dict(augmenter.shipped.rows) if augmenter.shipped else {}
        previous_s = float((augmenter.shipped.provenance if augmenter.shipped else {}).get("generation_s", 0.0))
        queries = [q for s in (splits or task.eval_splits) if s in task.qrels for q in task.split_queries(s)]
        draws = range(augmenter.samples)
        todo = [visible_query(q, False) for q in queries if any((q.id, j) not in rows for j in draws)]
        start = time.perf_counter()
        path = task_file(augmenter.precomputed, task.id)
        with tqdm(total=len(todo), desc=f"{submission.name} {task.id}", unit="q", disable=not show_progress) as bar:
            for i in range(0, len(todo), CHUNK):
                chunk = todo[i:i + CHUNK]
                drawn = augmenter.live.complete(augmenter.requests(chunk))  # query after query, samples together
                for (q, j), completion in zip(((q, j) for q in chunk for j in draws), drawn, strict=True):
                    rows[(q.id, j)] = (q.text, completion)
                provenance = {**augmenter.live.provenance(), "generation_s": round(
                    previous_s + time.perf_counter() - start, 1)}
                write_completions(path, task.id, task.sha256, augmenter.generator, provenance, rows)
                bar.update(len(chunk))
        result = Generated(task.id, len(queries), len(queries) - len(todo), len(todo), time.perf_counter() - start)
        report(result)
        done.append(result)
    return done
