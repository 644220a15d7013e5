"""Downloads for papers: CSV of every cell, a booktabs LaTeX table, BibTeX for suite and sources."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.cite import latex_escape, suite_bibtex
from benchmark.metrics import LABELS, METRICS
from leaderboard.view import Leaderboard

if TYPE_CHECKING:
    import pandas as pd

CSV_FIELDS = ("system", "role", "submission", "reference", "task", "split", "family", "unseen", *METRICS,
              "added_tokens_per_query", "llm_tokens_per_query", "delta_vs_reference", "ci_low", "ci_high",
              "p_value", "p_holm", "verdict", "official")


def board_frame(board: Leaderboard) -> "pd.DataFrame":
    """Every cell of the board as one row (CSV_FIELDS): what the CSV download holds, as a DataFrame
    for analysis (pandas is imported only here)."""
    import pandas as pd

    rows = []
    for row in board.rows:
        for col in board.columns:
            cell = row.cells.get(col.key)
            if cell is None:
                continue
            c = cell.comparison
            rows.append([
                row.system_id, row.role, row.submission or "", row.reference, col.task_id, col.split, col.family,
                int(col.unseen), *(cell.cell.metrics[m] for m in METRICS), cell.cell.added_tokens,
                cell.cell.llm_tokens,
                *((c.delta, c.ci_low, c.ci_high, c.p_value, cell.adjusted_p, cell.verdict) if c else (None,) * 6),
                int(cell.cell.official),
            ])
    return pd.DataFrame(rows, columns=list(CSV_FIELDS))


def to_csv(board: Leaderboard) -> str:
    return board_frame(board).to_csv(index=False, float_format="%.6f", lineterminator="\n")


def to_latex(board: Leaderboard) -> str:
    """The main board: nDCG@10 per task split, the suite mean and the added tokens; an up or down
    arrow marks a significant difference from the fine-tuned reference (Holm-corrected, p < 0.05)."""
    cols = board.columns
    lines = [
        "% iqbench " + f"{board.suite.name} {board.suite.version}; requires \\usepackage{{booktabs}}",
        r"\begin{tabular}{l" + "r" * (len(cols) + 2) + "}",
        r"\toprule",
        "System & " + " & ".join(latex_escape(c.label) for c in cols) + r" & Mean & +Tokens \\",
        r"\midrule",
    ]
    for row in board.rows:
        cells = []
        for col in cols:
            cell = row.cells.get(col.key)
            if cell is None:
                cells.append("--")
            else:
                mark = {"better": r"$^{\uparrow}$", "worse": r"$^{\downarrow}$"}.get(cell.verdict or "", "")
                cells.append(f"{cell.main:.3f}{mark}")
        name = latex_escape(row.system_id) + (" (ref.)" if row.role == "reference" else "") + (
            " (oracle)" if row.role == "oracle" else "")
        mean = row.mean_main
        lines.append(f"{name} & " + " & ".join(cells)
                     + f" & {mean:.3f} & {row.mean('added_tokens') or 0:.0f} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    lines.insert(0, f"% {LABELS['ndcg_cut_10']}; arrows: significantly better / worse than the fine-tuned reference "
                    "(Holm-corrected p < 0.05)")
    return "\n".join(lines)


def to_bibtex(board: Leaderboard) -> str:
    return suite_bibtex(board.suite, board.suite_sha)


LABEL_BUDGET_FIELDS = ("task", "split", "train_queries", "kind", "system", "submission", "n", "ndcg_cut_10", "ci_low",
                       "ci_high", "n_star", "status", "crossing_n", "crossing_low", "crossing_high")


def label_budget_frame(board: Leaderboard) -> "pd.DataFrame":
    """The label-budget curves (kind "curve": one row per point) and each augmenter's break-even
    against them (kind "augmenter"); inf in the crossing columns means "not reached"."""
    import pandas as pd

    rows = []
    for c in board.curves:
        rows += [[c.task_id, c.split, c.train_queries, "curve", p.system_id, "", p.n, p.mean, p.ci_low, p.ci_high,
                  None, None, None, None, None] for p in c.points]
        rows += [[c.task_id, c.split, c.train_queries, "augmenter", b.system_id, b.submission, None, b.augmented, None,
                  None, b.n_star, b.status, b.crossing, b.crossing_low, b.crossing_high] for b in c.break_even]
    frame = pd.DataFrame(rows, columns=list(LABEL_BUDGET_FIELDS))
    return frame.astype({"n": "Int64", "n_star": "Int64"})


def label_budget_csv(board: Leaderboard) -> str:
    return label_budget_frame(board).to_csv(index=False, float_format="%.6f", lineterminator="\n")


def label_budget_latex(board: Leaderboard) -> str:
    """The curves (nDCG@10 per n) and the break-even n* per augmenter and task split."""
    from benchmark.label_budget import SIZES

    sizes = (0, *SIZES)
    lines = ["% iqbench label budget: nDCG@10 of the reference recipe on n labelled train queries; requires booktabs",
             r"\begin{tabular}{l" + "r" * (len(sizes) + 1) + "}", r"\toprule",
             "Task split & " + " & ".join(f"$n={n:,}$".replace(",", "{,}") for n in sizes) + r" & all \\",
             r"\midrule"]
    for c in board.curves:
        by_n = {p.n: p.mean for p in c.points}
        cells = [f"{by_n[n]:.3f}" if n in by_n else "--" for n in sizes]
        lines.append(f"{latex_escape(c.label)} & " + " & ".join(cells)
                     + f" & {c.points[-1].mean:.3f} ($n={c.train_queries:,}$)".replace(",", "{,}") + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    systems = sorted({b.system_id for c in board.curves for b in c.break_even})
    if systems:
        lines += ["% break-even n*: the smallest n at which the curve is not significantly worse than the augmenter "
                  "on the pretrained retriever (Holm over the curve); -- never needed, $\\infty$ not reached",
                  r"\begin{tabular}{l" + "r" * len(board.curves) + "}", r"\toprule",
                  "Augmenter & " + " & ".join(latex_escape(c.label) for c in board.curves) + r" \\", r"\midrule"]
        for system in systems:
            found = [{b.system_id: b for b in c.break_even}.get(system) for c in board.curves]
            cells = ["" if b is None else "--" if b.status == "never needed" else r"$\infty$" if b.n_star is None
                     else f"{b.n_star:,}".replace(",", "{,}") for b in found]
            lines.append(f"{latex_escape(system)} & " + " & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
