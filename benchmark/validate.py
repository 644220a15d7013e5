"""`iqbench validate`: everything that can be checked about a submission before a long run.

All problems are collected and reported together, so a submitter fixes them in one pass:
the manifest, both components (found, built, protocol kept), two-query trials of the
augmenter and of the retriever on the suite's first task, and the coverage of the suite by a
precomputed file or by shipped LLM completions.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.augmenters import build_augmenter, visible_query
from benchmark.augmenters.base import NotApplicable
from benchmark.augmenters.llm import LLMAugmenter
from benchmark.augmenters.precomputed import PrecomputedError, read_rows
from benchmark.guardrails import call_with_timeout, check_augmentations, check_run
from benchmark.plugins import PluginError, resolve_paths
from benchmark.retrievers import build_retriever
from benchmark.retrievers.base import rank
from benchmark.runner import prepared, task_view
from benchmark.submission import SubmissionError, load_submission
from benchmark.task import Query, Suite, Task

TRIAL_QUERIES = 2
TRIAL_TIMEOUT_S = 300.0
TRIAL_DOCS = 50


def _precomputed_coverage(path: Path, suite: Suite) -> list[str]:
    """Every evaluation query of the suite needs a row; rows that match no query are reported too."""
    rows = read_rows(path)
    problems, used = [], set()
    for task_id in suite.task_ids:
        task = suite.load(task_id)
        for split in task.eval_splits:
            keys = [(q.id, q.text) for q in task.split_queries(split)]
            missing = [qid for qid, text in keys if (qid, text) not in rows]
            used.update(k for k in keys if k in rows)
            if missing:
                problems.append(f"{path.name}: {task_id}/{split}: no augmentation for {len(missing)} of "
                                f"{len(keys)} queries (first: {', '.join(missing[:3])})")
    unused = [qid for qid, _ in rows if (qid, _) not in used]
    if unused:
        problems.append(f"{path.name}: {len(unused)} rows match no evaluation query of the suite (id and query "
                        f"text must both match; first: {', '.join(unused[:3])})")
    return problems


def _shipped_coverage(augmenter: LLMAugmenter, suite: Suite) -> list[str]:
    """Shipped LLM completions: each task's file is checked, and every evaluation query it lacks
    is a problem (a run reads these files and never generates)."""
    problems = []
    for task_id in suite.task_ids:
        task = suite.load(task_id)
        try:
            augmenter.prepare(task_view(task))
        except PrecomputedError as e:
            problems.append(f"augmenter: {e}")
            continue
        queries = [q for split in task.eval_splits for q in task.split_queries(split)]
        missing = [q.id for q in queries if not (augmenter.shipped and augmenter.shipped.get(q))]
        fix = "ship them" if augmenter.backend_kind == "file" else "run `iqbench augment` on this submission"
        if missing:
            problems.append(f"augmenter: {augmenter.precomputed.name}/{task_id}.jsonl lacks {len(missing)} of "
                            f"{len(queries)} evaluation queries (first: {', '.join(missing[:3])}); {fix}")
    return problems


def _trial_search(retriever, use: str, task: Task) -> list[str]:
    """Index a slice of the task's corpus and search two queries: the output checks run early."""
    queries = [q.visible() for q in task.split_queries(task.eval_splits[0])[:TRIAL_QUERIES]]
    corpus = dict(list(task.corpus.items())[:TRIAL_DOCS])
    try:
        def trial():
            retriever.index(corpus)
            texts, by_id = {q.id: q.text for q in queries}, {q.id: q for q in queries}
            return rank(retriever, texts, by_id, 10), rank(retriever, texts, by_id, len(corpus))
        top, full = call_with_timeout(trial, TRIAL_TIMEOUT_S, f"retriever {use!r}")
        check_run(top, queries, corpus, 10, use)
        # A candidate-restricted task ranks every candidate, from a full ranking of the corpus.
        everything = [Query(q.id, q.text, candidates=tuple(corpus)) for q in queries]
        check_run({qid: full.get(qid, {}) for qid in (q.id for q in queries)}, everything, corpus, len(corpus), use)
    except Exception as e:
        return [f"retriever: a trial search of {len(queries)} {task.id} queries over {len(corpus)} documents "
                f"failed: {type(e).__name__}: {e}"]
    return []


def validate(folder: Path, suite: Suite) -> list[str]:
    """Problems found, each naming the file or component and what was expected; [] when valid."""
    folder = Path(folder)
    try:
        submission = load_submission(folder)
    except SubmissionError as e:
        return e.problems
    m, problems = submission.manifest, []
    augmenter = None
    try:
        augmenter = build_augmenter(m.augmenter.use, m.augmenter.args, folder)
    except (PluginError, PrecomputedError) as e:
        problems.append(f"augmenter: {e}")
    retriever = None
    try:
        retriever = build_retriever(m.retriever.use, m.retriever.args, folder)
    except PluginError as e:
        problems.append(f"retriever: {e}")
    task = suite.load(suite.task_ids[0])  # the trials run on the suite's first task
    if retriever is not None:
        problems += _trial_search(retriever, m.retriever.use, task)
    if m.augmenter.use == "precomputed" and augmenter is not None:
        problems += _precomputed_coverage(Path(resolve_paths(dict(m.augmenter.args), folder)["path"]), suite)
    elif isinstance(augmenter, LLMAugmenter) and augmenter.precomputed is not None:
        problems += _shipped_coverage(augmenter, suite)
    elif augmenter is not None:
        queries = task.split_queries(task.eval_splits[0])[:TRIAL_QUERIES]
        try:
            prepared(augmenter, task)
            out = call_with_timeout(lambda: augmenter.augment([visible_query(q, augmenter.oracle) for q in queries]),
                                    TRIAL_TIMEOUT_S, f"augmenter {m.augmenter.use!r}")
            check_augmentations(out, queries, m.augmenter.use)
        except NotApplicable:
            pass
        except Exception as e:
            problems.append(f"augmenter: a trial on {len(queries)} {task.id} queries failed: {type(e).__name__}: {e}")
    return problems
