"""The README's result tables, printed from the committed results through the board (so the
significance marks are the board's: paired randomization test against the fine-tuned reference,
Holm over the whole board). Paste the output over the README's tables after new results land.

    .venv/bin/python bench/readme_tables.py [--results results/]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import fmean

from benchmark.results import results_root
from benchmark.submission import load_submissions
from benchmark.task import load_suite
from leaderboard.view import build_leaderboard

MARK = {"better": "▲", "worse": "▼"}
SKIPPED = ("dense-minilm", "bm25")  # their verdicts are the protocol's own rows
ORDER = ("none@bm25", "none@minilm-l6", "none@minilm-l6-ft", "context-minilm@minilm-l6", "context-minilm@minilm-l6-ft",
         "context-minilm@minilm-l6-ftA", "none@context-tuning", "none@context-tuning-ft", "none@context-tuning-ranker-ft", "oracle-minilm@minilm-l6",
         "oracle-minilm@minilm-l6-ft")
NOTE = {"none@minilm-l6-ft": " (reference)", "none@context-tuning": " (untrained)", "oracle-minilm@minilm-l6": " (oracle)",
        "oracle-minilm@minilm-l6-ft": " (oracle)"}


def _signed(value: float) -> str:
    text = f"{value:+.3f}"
    return "0.000" if text in ("+0.000", "-0.000") else text.replace("-", "−")


def _tokens(value: float) -> str:
    return f"{value:.0f}".replace("-", "−")


def baseline_table(board) -> list[str]:
    cols = board.columns
    rows = {r.system_id: r for r in board.rows}
    best = {}
    for col in cols:
        values = [rows[s].cells[col.key].main for s in ORDER if s in rows and col.key in rows[s].cells
                  and rows[s].role != "oracle"]
        best[col.key] = max(values) if values else None
    lines = ["| system | " + " | ".join(f"{c.task_id} {c.split}" for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for system in ORDER:
        if system not in rows:
            continue
        row, cells = rows[system], []
        for col in cols:
            cell = row.cells.get(col.key)
            if cell is None:
                cells.append("n/a")
                continue
            text = f"{cell.main:.4f}{MARK.get(cell.verdict or '', '')}"
            cells.append(f"**{text}**" if row.role != "oracle" and abs(cell.main - best[col.key]) < 5e-5 else text)
        lines.append(f"| `{system}`{NOTE.get(system, '')} | " + " | ".join(cells) + " |")
    return lines


def augmenter_table(board) -> list[str]:
    lines = ["| submission | Δ pre | Δ ref | Δ on top | Δ -ftA | +tokens | LLM tokens | splits |",
             "|---|---|---|---|---|---|---|---|"]
    for v in board.verdicts:
        if v.role == "oracle" or v.submission in SKIPPED:
            continue
        tokens = _tokens(v.added_tokens)
        matched = _signed(v.matched - v.reference) if v.matched is not None else (
            "–" if v.reads_context or "bm25" in v.ids["augmented"] else "n/a")
        lines.append(f"| `{v.submission}` | {_signed(v.augmented - v.baseline)} | {_signed(v.augmented - v.reference)} | "
                     f"{_signed(v.augmented_finetuned - v.reference)} | {matched} | {tokens} | "
                     f"{v.llm_tokens:.0f} | {len(v.columns)} |")
    return lines


def family_table(board) -> list[str]:
    """Δ ref (augmenter on the pretrained retriever minus the reference) per family."""
    families = list(dict.fromkeys(c.family for c in board.columns))
    lines = ["| submission | " + " | ".join(families) + " |", "|---|" + "---|" * len(families)]
    for v in board.verdicts:
        if v.role == "oracle" or v.submission in SKIPPED:
            continue
        by = {f.family: f for f in v.families}
        cells = []
        for family in families:
            f = by.get(family)
            if f is None:
                cells.append("–")
                continue
            best = max((c for c in f.cells.items() if c[1] is not None), key=lambda c: c[1])[0]
            cells.append(f"{_signed(f.delta_reference)} (best: {best})")
        lines.append(f"| `{v.submission}` | " + " | ".join(cells) + " |")
    return lines


LLM_SIZES = {
    "chain-of-thought": {"SmolLM2-135M": "cot-smollm2", "Gemma 3 270M (base)": "cot-gemma3"},
    "query2doc": {"SmolLM2-135M": "query2doc-smollm2", "Gemma 3 270M (base)": "query2doc-gemma3"},
    "CoT/PRF": {"SmolLM2-135M": "cot-prf-smollm2", "Gemma 3 270M (base)": "cot-prf-gemma3"},
    # The paper's form and the one-passage form, over the splits both have: comparable rows.
    "HyDE": {"SmolLM2-135M, 4 documents averaged": "hyde-smollm2", "SmolLM2-135M, one passage": "hyde-passage-smollm2"},
}


def llm_size_table(board) -> list[str]:
    """Per augmenter and model, over the task splits where every model of that augmenter has both
    cells: Δ pre (A@R minus the pretrained retriever), Δ on top (A@R-ft minus the reference),
    added retriever tokens and LLM tokens per query."""
    rows = {r.system_id: r for r in board.rows}
    base, ref = rows.get("none@minilm-l6"), rows.get("none@minilm-l6-ft")
    lines = ["| augmenter | LLM | Δ pre | Δ on top | +tokens | LLM tokens | splits |", "|---|---|---|---|---|---|---|"]
    if base is None or ref is None:
        return lines
    for family, models in LLM_SIZES.items():
        pairs = {m: (rows.get(f"{s}@minilm-l6"), rows.get(f"{s}@minilm-l6-ft")) for m, s in models.items()}
        if any(pre is None or ft is None for pre, ft in pairs.values()):
            continue
        keys = [c.key for c in board.columns if all(c.key in pre.cells and c.key in ft.cells
                                                    for pre, ft in pairs.values())]
        if not keys:
            continue
        for model, (pre, ft) in pairs.items():
            lines.append(
                f"| {family} | {model} | {_signed(fmean(pre.cells[k].main - base.cells[k].main for k in keys))} | "
                f"{_signed(fmean(ft.cells[k].main - ref.cells[k].main for k in keys))} | "
                f"{_tokens(fmean(pre.cells[k].cell.added_tokens for k in keys))} | "
                f"{fmean(pre.cells[k].cell.llm_tokens for k in keys):.0f} | {len(keys)} |")
    return lines


def label_budget_tables(board) -> list[str]:
    """The curves (nDCG@10 per n; n = all is the reference) and n* per augmenter and task split."""
    from benchmark.label_budget import SIZES

    sizes = (0, *SIZES)
    lines = ["| task split | " + " | ".join(f"n={n:,}" for n in sizes) + " | all (n) |", "|---|" + "---|" * (len(sizes) + 1)]
    for c in board.curves:
        by_n = {p.n: p.mean for p in c.points}
        cells = [f"{by_n[n]:.3f}" if n in by_n else ("–" if n >= c.train_queries else "…") for n in sizes]
        lines.append(f"| {c.task_id} {c.split} | " + " | ".join(cells) + f" | {c.points[-1].mean:.3f} ({c.train_queries:,}) |")
    # Oracles are no deployable method; context-tuning-ranker's untrained row is context tuning's.
    systems = [s for s in dict.fromkeys(b.system_id for c in board.curves for b in c.break_even)
               if not s.startswith("oracle-") and s != "none@context-tuning-ranker"]
    lines += ["", "| augmenter (pretrained) | " + " | ".join(f"{c.task_id} {c.split}" for c in board.curves) + " |",
              "|---|" + "---|" * len(board.curves)]
    for system in systems:
        cells = []
        for c in board.curves:
            b = next((b for b in c.break_even if b.system_id == system), None)
            cells.append("" if b is None else "never needed" if b.status == "never needed" else
                         "not reached" if b.n_star is None else f"{b.n_star:,} (×{b.crossing:,.0f})")
        lines.append(f"| `{system}` | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=results_root())
    args = parser.parse_args()
    board = build_leaderboard(args.results, load_suite(), load_submissions())
    for e in board.refused:
        print(f"refused: {e}")
    print("\n".join(baseline_table(board)), end="\n\n")
    print("\n".join(augmenter_table(board)), end="\n\n")
    print("\n".join(family_table(board)), end="\n\n")
    print("\n".join(llm_size_table(board)), end="\n\n")
    print("\n".join(label_budget_tables(board)))
    means = {r.system_id: fmean(c.main for c in r.cells.values()) for r in board.rows if r.cells}
    print("\nmean nDCG@10 over each system's splits: " + ", ".join(f"{s} {m:.4f}" for s, m in sorted(means.items())))


if __name__ == "__main__":
    main()
