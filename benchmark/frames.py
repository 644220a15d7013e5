"""Results as pandas DataFrames, for analysis in a notebook or a paper's scripts.

Tidy (one value per row) so that grouping, pivoting and plotting need no reshaping: `metrics`
has one row per system x task x split x metric, `per_query` one per system x task x split x query
x metric. Only results that pass the board's checks are loaded; the refused are listed with why.
pandas is imported here only, so the harness's own commands do not pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.integrity import InvalidResult
from benchmark.results import Expectations, scan_results

SYSTEM_COLUMNS = ("system", "role", "submission", "reference", "finetuned", "finetuned_on", "task", "split",
                  "official")


@dataclass(frozen=True)
class ResultFrames:
    metrics: pd.DataFrame
    """system, role, submission, reference, finetuned, finetuned_on, task, split, official, metric, value,
    added_tokens, llm_tokens (per query means of the result)."""
    per_query: pd.DataFrame
    """system, task, split, query, metric, value."""
    refused: list[InvalidResult]


def _system(record: dict) -> dict:
    system, task, retriever = record["system"], record["task"], record["system"]["retriever"]
    return {"system": system["id"], "role": system["role"], "submission": system["submission"],
            "reference": system["reference"], "finetuned": bool(retriever["finetuned"]),
            "finetuned_on": retriever.get("finetuned_on", "query") if retriever["finetuned"] else None,
            "task": task["id"], "split": task["split"], "official": bool(task["official"])}


def load_frames(results_dir: Path, expected: Expectations | None = None) -> ResultFrames:
    """Every result under results_dir that passes its checks (against `expected` where given: the
    suite and submissions as they are now, as the board checks them)."""
    accepted, refused = scan_results(Path(results_dir), expected)
    metric_rows, query_rows = [], []
    for stored in accepted:
        record = stored.record
        base, cost = _system(record), record["cost"]
        tokens = {"added_tokens": cost["added_tokens_mean"],
                  "llm_tokens": cost["llm_prompt_tokens_mean"] + cost["llm_completion_tokens_mean"]}
        metric_rows += [{**base, "metric": m, "value": v, **tokens} for m, v in record["metrics"].items()]
        key = (base["system"], base["task"], base["split"])
        query_rows += [(*key, qid, m, v) for qid, values in record["per_query"].items() for m, v in values.items()]
    metrics = pd.DataFrame(metric_rows, columns=[*SYSTEM_COLUMNS, "metric", "value", "added_tokens", "llm_tokens"])
    per_query = pd.DataFrame(query_rows, columns=["system", "task", "split", "query", "metric", "value"])
    return ResultFrames(metrics, per_query, refused)


def main_table(frames: ResultFrames, metric: str = "ndcg_cut_10", task_order: list[str] | None = None) -> pd.DataFrame:
    """system x "task/split" of one metric (the board's shape), columns in suite order."""
    rows = frames.metrics[frames.metrics["metric"] == metric]
    table = rows.pivot_table(index="system", columns=["task", "split"], values="value", aggfunc="first")
    if task_order:
        table = table[[c for c in sorted(table.columns, key=lambda c: (task_order.index(c[0])
                                                                         if c[0] in task_order else len(task_order), c[1]))]]
    table.columns = [f"{t}/{s}" for t, s in table.columns]
    return table


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table (pandas' own needs the optional `tabulate`)."""
    head = ["system", *table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for system, row in table.iterrows():
        cells = ["" if pd.isna(v) else f"{v:.{digits}f}" for v in row]
        lines.append("| " + " | ".join([f"`{system}`", *cells]) + " |")
    return "\n".join(lines) + "\n"
