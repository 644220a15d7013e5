"""The results table as data (rows of systems, columns of task/split), separate from any rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.metrics import MAIN_METRIC
from benchmark.protocol import ROLES
from benchmark.integrity import InvalidResult
from benchmark.results import Expectations, scan_results


@dataclass(frozen=True)
class Cell:
    metrics: dict[str, float]
    added_tokens: float
    llm_tokens: float
    official: bool
    per_query: dict[str, float]
    """The main metric per query: what significance tests pair."""
    path: Path
    """The result file (provenance, manifest hash)."""


@dataclass(frozen=True)
class Row:
    system_id: str
    role: str
    submission: str | None
    reference: str
    finetuned: bool = False
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    finetuned_on: str = "query"
    """"augmented" for the -ftA cell (fine-tuned on the augmenter's own train inputs)."""
    label_budget: int | None = None
    """Train queries a label-budget curve point was fine-tuned on (role "budget")."""


@dataclass(frozen=True)
class Board:
    columns: list[tuple[str, str]]
    """(task id, split) in suite order, then split order."""
    rows: list[Row]
    refused: list[InvalidResult] = field(default_factory=list)
    """Result files left out, each with the file and field that failed (see benchmark.integrity)."""


SPLIT_ORDER = ("test", "test_ood", "dev", "train")


def build_board(results_dir: Path, task_order: list[str] | None = None,
                expected: Expectations | None = None) -> Board:
    """The table of every result that passes its checks (against `expected`, when given: the
    suite's tasks and the submissions' systems as they are now); the others are `refused`."""
    rows: dict[str, Row] = {}
    columns: set[tuple[str, str]] = set()
    accepted, refused = scan_results(results_dir, expected)
    for stored in accepted:
        rec = stored.record
        sys_, task = rec["system"], rec["task"]
        retriever = sys_.get("retriever", {})
        row = rows.setdefault(sys_["id"], Row(sys_["id"], sys_["role"], sys_.get("submission"), sys_.get("reference", ""),
                                              bool(retriever.get("finetuned")),
                                              finetuned_on=retriever.get("finetuned_on", "query"),
                                              label_budget=retriever.get("label_budget")))
        col = (task["id"], task["split"])
        columns.add(col)
        cost = rec["cost"]
        row.cells[col] = Cell(rec["metrics"], cost["added_tokens_mean"],
                              cost["llm_prompt_tokens_mean"] + cost["llm_completion_tokens_mean"],
                              task.get("official", True),
                              {q: v[MAIN_METRIC] for q, v in rec["per_query"].items()}, stored.path)
    task_rank = {t: i for i, t in enumerate(task_order or [])}
    split_rank = {s: i for i, s in enumerate(SPLIT_ORDER)}
    ordered_cols = sorted(columns, key=lambda c: (task_rank.get(c[0], len(task_rank)), c[0], split_rank.get(c[1], 9), c[1]))
    role_rank = {r: i for i, r in enumerate(ROLES)}
    ordered_rows = sorted(rows.values(), key=lambda r: (role_rank.get(r.role, 9), r.system_id))
    return Board(ordered_cols, ordered_rows, refused)
