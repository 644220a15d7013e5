"""Per-task power: the smallest nDCG@10 difference each evaluation split detects (alpha 0.05,
power 0.8), from the committed results' per-query scores, for two real comparisons:
the fine-tuned reference against the pretrained retriever, and context concatenation
against the pretrained retriever (the typical augmenter-versus-baseline pair).

    .venv/bin/python bench/power.py [--results results/]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.power import TARGET, estimate
from benchmark.results import result_path, results_root, read_result
from benchmark.task import load_suite

PAIRS = (("none@minilm-l6-ft", "none@minilm-l6"), ("context-minilm@minilm-l6", "none@minilm-l6"))


def per_query(results: Path, task_id: str, split: str, system: str) -> dict[str, float] | None:
    path = result_path(results, task_id, split, system)
    if not path.is_file():
        return None
    return {q: v["ndcg_cut_10"] for q, v in read_result(path)["per_query"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=results_root())
    args = parser.parse_args()
    suite = load_suite()
    print(f"{'task/split':32} {'n':>5}  " + "  ".join(f"{a} vs {b}: sd  MDE  power@{TARGET}" for a, b in PAIRS))
    for task_id in suite.task_ids:
        task = suite.load(task_id)
        for split in task.eval_splits:
            cells = []
            for a, b in PAIRS:
                qa, qb = per_query(args.results, task_id, split, a), per_query(args.results, task_id, split, b)
                if qa is None or qb is None:
                    cells.append("(no results)")
                    continue
                e = estimate(qa, qb)
                if e.sd == 0:
                    cells.append("(identical: no context on this task)")
                    continue
                cells.append(f"{e.sd:.3f} {e.detectable:.4f} {e.power_at_target:.2f}")
            print(f"{task_id + '/' + split:32} {len(task.qrels[split]):>5}  " + "   ".join(cells))


if __name__ == "__main__":
    main()
