"""Checks on what plug-in components hand back, and a timeout around calls that may hang.

A submission's code is trusted to run but not to be right: its output is checked before any
number is computed from it, and each failure says what was wrong in terms a submitter can fix.
"""

from __future__ import annotations

import math
import numbers
import threading
from typing import Any, Callable, Mapping, Sequence, TypeVar

from benchmark.augmenters.base import MAX_TEXT_CHARS, MAX_TEXTS, Augmentation
from benchmark.task import Doc, Query

T = TypeVar("T")


class GuardrailError(ValueError):
    """A component returned something the harness must not score."""


class ComponentTimeout(TimeoutError):
    """A component call ran past its time limit and was abandoned."""


def check_augmentations(augmentations: Any, queries: Sequence[Query], use: str) -> list[Augmentation]:
    if not isinstance(augmentations, list) or len(augmentations) != len(queries):
        got = len(augmentations) if isinstance(augmentations, list) else type(augmentations).__name__
        raise GuardrailError(f"augmenter {use!r} must return a list of {len(queries)} Augmentations, got {got}")
    for q, a in zip(queries, augmentations):
        if not isinstance(a, Augmentation) or not isinstance(a.text, str):
            raise GuardrailError(f"augmenter {use!r}: query {q.id!r}: expected Augmentation(text: str, ...), "
                                 f"got {a!r:.80}")
        if len(a.text) > MAX_TEXT_CHARS:
            raise GuardrailError(f"augmenter {use!r}: query {q.id!r}: {len(a.text):,} characters of text; "
                                 f"at most {MAX_TEXT_CHARS:,}")
        if not isinstance(a.texts, tuple) or not all(isinstance(t, str) for t in a.texts):
            raise GuardrailError(f"augmenter {use!r}: query {q.id!r}: texts must be a tuple of strings")
        if len(a.texts) > MAX_TEXTS or sum(map(len, a.texts)) > MAX_TEXT_CHARS:
            raise GuardrailError(f"augmenter {use!r}: query {q.id!r}: {len(a.texts)} texts of "
                                 f"{sum(map(len, a.texts)):,} characters; at most {MAX_TEXTS} texts of "
                                 f"{MAX_TEXT_CHARS:,} characters in all")
        for name in ("llm_prompt_tokens", "llm_completion_tokens"):
            value = getattr(a, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise GuardrailError(f"augmenter {use!r}: query {q.id!r}: {name} must be a non-negative integer")
    return augmentations


def check_run(run: Any, queries: Sequence[Query], corpus: Mapping[str, Doc], k: int, use: str) -> None:
    """Known queries and documents only, finite scores, at most k per query, every candidate and
    nothing else for a candidate-restricted query.
    (A run maps doc ids to scores, so a document appears at most once per ranking by construction.)"""
    if not isinstance(run, Mapping):
        raise GuardrailError(f"retriever {use!r} must return {{query id: {{doc id: score}}}}, got {type(run).__name__}")
    by_id = {q.id: q for q in queries}
    unknown_queries = [qid for qid in run if qid not in by_id]
    if unknown_queries:
        raise GuardrailError(f"retriever {use!r} returned unknown query ids: {unknown_queries[:5]}")
    for qid, scores in run.items():
        if not isinstance(scores, Mapping):
            raise GuardrailError(f"retriever {use!r}: query {qid!r}: expected {{doc id: score}}")
        unknown = [d for d in scores if d not in corpus]
        if unknown:
            raise GuardrailError(f"retriever {use!r}: query {qid!r}: unknown document ids {unknown[:5]}")
        bad = [d for d, s in scores.items()
               if isinstance(s, bool) or not isinstance(s, numbers.Real) or not math.isfinite(float(s))]
        if bad:
            raise GuardrailError(f"retriever {use!r}: query {qid!r}: scores must be finite numbers "
                                 f"(document {bad[0]!r} has {scores[bad[0]]!r})")
        if len(scores) > k:
            raise GuardrailError(f"retriever {use!r}: query {qid!r}: {len(scores)} documents; at most {k} asked")
        candidates = by_id[qid].candidates
        if candidates is not None and not set(scores) <= set(candidates):
            outside = sorted(set(scores) - set(candidates))
            raise GuardrailError(f"retriever {use!r}: query {qid!r}: documents outside its candidates {outside[:5]}")
        if candidates is not None and len(scores) < min(k, len(set(candidates))):
            raise GuardrailError(
                f"retriever {use!r}: query {qid!r}: ranks {len(scores)} of its {len(set(candidates))} candidates; "
                "a candidate-restricted query must rank every candidate (search(texts, k) with k >= the corpus "
                "size must score every document, unmatched ones too)")


def call_with_timeout(fn: Callable[[], T], seconds: float | None, what: str) -> T:
    """fn() in a daemon thread; past `seconds` it is abandoned (it dies with the process) and
    ComponentTimeout is raised, so the run goes on with the other systems."""
    if seconds is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=target, name=f"iqbench: {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ComponentTimeout(f"{what} still running after {seconds:g} s (the time limit); abandoned")
    if "error" in box:
        raise box["error"]
    return box["value"]
