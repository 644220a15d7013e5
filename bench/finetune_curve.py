"""Steps-versus-nDCG@10 curve of the fine-tuning recipe on a task's dev split.

Each budget is a separate run (the learning-rate schedule depends on the step count).
Usage: python bench/finetune_curve.py [--task metatool] [--split dev] [--steps 25 50 100] [--lr 5e-5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from benchmark.metrics import aggregate, evaluate
from benchmark.retrievers.dense import DenseRetriever
from benchmark.retrievers.finetune import DEFAULT_RECIPE, training_data
from benchmark.task import load_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="metatool")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--lr", type=float, default=DEFAULT_RECIPE.learning_rate)
    parser.add_argument("--batch", type=int, default=DEFAULT_RECIPE.batch_size)
    parser.add_argument("--seq", type=int, default=DEFAULT_RECIPE.max_seq_length)
    args = parser.parse_args()

    task = load_suite().load(args.task)
    queries = {q.id: q.text for q in task.split_queries(args.split)}
    qrels = task.qrels[args.split]
    examples, train_corpus = training_data(task)

    def score(retriever: DenseRetriever) -> float:
        retriever.index(task.corpus)
        return aggregate(evaluate(qrels, retriever.search(queries, 100)))["ndcg_cut_10"]

    base = DenseRetriever()
    print(json.dumps({"steps": 0, "ndcg_cut_10": round(score(base), 4)}), flush=True)
    for steps in args.steps:
        recipe = dataclasses.replace(DEFAULT_RECIPE, steps=steps, learning_rate=args.lr,
                                     batch_size=args.batch, max_seq_length=args.seq)
        start = time.perf_counter()
        tuned = base.finetune(examples, train_corpus, recipe)
        seconds = time.perf_counter() - start
        print(json.dumps({"steps": steps, "lr": args.lr, "batch": args.batch, "seq": args.seq,
                          "train_s": round(seconds, 1), "ndcg_cut_10": round(score(tuned), 4)}), flush=True)


if __name__ == "__main__":
    main()
