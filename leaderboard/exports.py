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
