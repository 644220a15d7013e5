"""LoRA adapters against full fine-tuning, per task, on dev (never test): the recipe decision.

Same steps, batches, negatives and seed; only the trainable weights (and the learning rate, an
adapter's own setting) differ. A task without a dev split holds out a seeded fifth of its train
queries as dev and trains on the rest, for this comparison only. Each finished task is written
to the output file at once; a rerun skips finished tasks (the fine-tuned models are cached too).
Usage: python bench/lora_vs_full.py [--task T ...] [--rank 16] [--lr 1e-3] [--out bench/lora_vs_full.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from pathlib import Path

from benchmark.metrics import aggregate, evaluate
from benchmark.retrievers.adapters import ADAPTER_FILE, LoraSpec
from benchmark.retrievers.base import search
from benchmark.retrievers.dense import DenseRetriever
from benchmark.retrievers.finetune import DEFAULT_RECIPE, training_data
from benchmark.storage import atomic_write_json
from benchmark.task import load_suite

HOLDOUT = 0.2
SEED = 0


def dev_split(task) -> tuple[str, list[str], list[str]]:
    """(what dev is, dev query ids, train query ids to fine-tune on)."""
    train = list(task.qrels["train"])
    if "dev" in task.qrels:
        return "dev", list(task.qrels["dev"]), train
    held = set(random.Random(f"{SEED}:{task.id}").sample(sorted(train), round(HOLDOUT * len(train))))
    return f"{HOLDOUT:.0%} of train held out", sorted(held), [q for q in train if q not in held]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", action="append")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--alpha", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--targets", nargs="+", default=list(LoraSpec().targets))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("lora_vs_full.json"))
    args = parser.parse_args()

    suite = load_suite()
    lora = dataclasses.replace(DEFAULT_RECIPE, learning_rate=args.lr,
                               adapter=LoraSpec(args.rank, args.alpha, tuple(args.targets)))
    done = json.loads(args.out.read_text()) if args.out.is_file() else {}
    key = f"r{args.rank}-a{args.alpha}-lr{args.lr:g}-{'+'.join(args.targets)}"
    for task_id in args.task or [t for t in suite.task_ids if "train" in suite.load(t).qrels]:
        if key in done.get(task_id, {}):
            print(json.dumps({task_id: done[task_id]}), flush=True)
            continue
        task = suite.load(task_id)
        dev_kind, dev_ids, train_ids = dev_split(task)
        examples, corpus = training_data(task, query_ids=train_ids)
        queries = [task.queries[q] for q in dev_ids]
        qrels = {q: task.qrels["train" if dev_kind != "dev" else "dev"][q] for q in dev_ids}

        def score(retriever: DenseRetriever) -> float:
            retriever.index(task.corpus)
            run = search(retriever, {q.id: q.text for q in queries}, queries, 100, len(task.corpus))
            return aggregate(evaluate(qrels, run))["ndcg_cut_10"]

        row = done.setdefault(task_id, {"dev": dev_kind, "dev_queries": len(dev_ids), "train_queries": len(examples)})
        base = DenseRetriever()
        row.setdefault("pretrained", round(score(base), 4))
        for name, recipe in (("full", DEFAULT_RECIPE), (key, lora)):
            if name in row:
                continue
            start = time.perf_counter()
            tuned = base.finetune(examples, corpus, recipe)
            seconds = time.perf_counter() - start
            weights = tuned.folder / (ADAPTER_FILE if recipe.adapter else "model.safetensors")
            row[name] = {"ndcg_cut_10": round(score(tuned), 4), "train_s": round(seconds, 1),
                         "file_mb": round(weights.stat().st_size / 2**20, 2)}
            atomic_write_json(args.out, done)
        print(json.dumps({task_id: row}), flush=True)


if __name__ == "__main__":
    main()
