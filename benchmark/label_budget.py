"""The label budget: the suite's reference recipe trained on nested, seeded subsets of the train split.

How many labelled implicit queries does fine-tuning need before an augmenter stops paying for its
tokens? Each curve point is the fine-tuned reference trained on the first n train queries of one
seeded permutation (so every subset contains the smaller ones), with a step budget that does not
cycle a tiny subset a hundred times:

    steps(n) = min(recipe steps, ceil(PASSES * pairs(n) / min(batch size, n)))

pairs(n) is the number of (query, relevant document) pairs of the subset; a batch holds at most
one row per query, so a subset of n < batch size queries fills batches of n rows. n = 0 is the
pretrained retriever and n = all is the reference itself: neither is retrained. The rule and its
constants are part of each point's configuration (RULE), so changing them makes the points stale.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from benchmark.augmenters.base import NotApplicable
from benchmark.retrievers.finetune import DEFAULT_RECIPE, FinetuneRecipe

SIZES = (16, 64, 256, 1024)
"""Distinct training queries per curve point (sizes a train split does not exceed are skipped)."""
PASSES = 10
"""At most this many passes over a subset's pairs; large subsets stop at the recipe's steps first."""
SUBSET_SEED = 0
RULE = 1
"""Version of the subset and step rules above."""


def ordered_train_queries(task) -> list[str]:
    """The train queries with a relevant document, in the one seeded order every subset is a prefix of."""
    if "train" not in task.qrels:
        raise NotApplicable(f"task {task.id!r} has no train split: no label-budget curve")
    ids = sorted(q for q, rel in task.qrels["train"].items() if any(g >= 1 for g in rel.values()))
    return random.Random(SUBSET_SEED).sample(ids, len(ids))


def subset(task, n: int) -> list[str]:
    """The first n train queries of the seeded order; NotApplicable where n is not below the split's
    size (that point is the reference itself, n = all)."""
    ordered = ordered_train_queries(task)
    if n >= len(ordered):
        raise NotApplicable(f"label budget n = {n}: the train split has {len(ordered)} queries with a relevant "
                            "document, so its curve ends at the reference (n = all)")
    return ordered[:n]


def steps(pairs: int, queries: int, recipe: FinetuneRecipe = DEFAULT_RECIPE) -> int:
    """The step rule (module docstring): at most PASSES passes, never more than the recipe's steps."""
    if pairs < 1 or queries < 1:
        raise ValueError("a label-budget subset needs at least one query with a relevant document")
    return min(recipe.steps, math.ceil(PASSES * pairs / min(recipe.batch_size, queries)))


def recipe(task, n: int) -> FinetuneRecipe:
    """The reference recipe with the step budget of the n-query subset."""
    chosen = subset(task, n)
    train = task.qrels["train"]
    pairs = sum(sum(g >= 1 for g in train[q].values()) for q in chosen)
    return replace(DEFAULT_RECIPE, steps=steps(pairs, len(chosen)))


def configuration(n: int) -> dict:
    """What a curve point records beside its recipe: the subset size and the rules that chose it."""
    return {"n": n, "passes": PASSES, "subset_seed": SUBSET_SEED, "rule": RULE}
