"""The leaderboard as data: rows, columns, significance and verdicts, with no HTML in sight.

Built from the result JSONs (benchmark.board) and the suite's task cards; the templates only
lay this out. Every comparison is a system against its own fine-tuned reference on the same
queries; Holm's correction runs over every comparison the board shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Mapping

from benchmark import label_budget
from benchmark.board import Board, Cell, Row, build_board
from benchmark.integrity import InvalidResult
from benchmark.metrics import MAIN_METRIC
from benchmark.protocol import expand_all
from benchmark.results import Expectations
from benchmark.runner import expectations
from benchmark.stats import Comparison, compare, holm, permutations_for, verdict
from benchmark.submission import Submission
from benchmark.task import Suite
from leaderboard.budget import BreakEven, Curve, build_curve, summary_sentence

UNSEEN_SPLITS = ("test_ood",)


@dataclass(frozen=True)
class Column:
    task_id: str
    split: str
    family: str
    unseen: bool
    """Queries whose relevant items never occur in train (fine-tuning's blind spot)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.task_id, self.split)

    @property
    def label(self) -> str:
        return f"{self.task_id}/{self.split}"


@dataclass(frozen=True)
class CellView:
    cell: Cell
    comparison: Comparison | None = None
    adjusted_p: float | None = None
    verdict: str | None = None
    """'better' / 'same' / 'worse' than the fine-tuned reference; None for the reference itself."""

    @property
    def main(self) -> float:
        return self.cell.metrics[MAIN_METRIC]


@dataclass(frozen=True)
class RowView:
    system_id: str
    role: str
    submission: str | None
    reference: str
    finetuned: bool
    cells: Mapping[tuple[str, str], CellView]
    rank: int | None = None
    """Position by mean nDCG@10 among rows with every task split; oracle rows are never ranked."""
    finetuned_on: str = "query"

    def mean(self, attribute: str) -> float | None:
        values = [_value(c, attribute) for c in self.cells.values()]
        values = [v for v in values if v is not None]
        return fmean(values) if values else None

    @property
    def mean_main(self) -> float | None:
        return self.mean("main")

    @property
    def counts(self) -> dict[str, int]:
        out = {"better": 0, "same": 0, "worse": 0}
        for c in self.cells.values():
            if c.verdict:
                out[c.verdict] += 1
        return out


def _value(cell: CellView, attribute: str) -> float | None:
    if attribute == "main":
        return cell.main
    if attribute == "delta":
        return cell.comparison.delta if cell.comparison else None
    if attribute in ("added_tokens", "llm_tokens"):
        return getattr(cell.cell, attribute)
    return cell.cell.metrics.get(attribute)


@dataclass(frozen=True)
class FamilyVerdict:
    """The protocol's cells averaged over one task family's splits: families can behave oppositely
    (context helps where the answer is in the context, hurts where it is noise), and one
    overall mean hides it."""

    family: str
    columns: list[str]
    cells: dict[str, float | None]
    """Cell name (as Verdict.cells) -> mean nDCG@10 over this family's splits (None: no -ftA here)."""
    on_top: dict[str, int]
    alone: dict[str, int]

    @property
    def delta_reference(self) -> float:
        """Augmented on the pretrained retriever minus the fine-tuned reference."""
        return self.cells["augmented"] - self.cells["reference"]


@dataclass(frozen=True)
class Verdict:
    """The protocol's table for one augmenter (2x2, and the -ftA cell where it exists), averaged
    over the task splits where the four cells of the 2x2 exist."""

    submission: str
    title: str
    role: str
    columns: list[str]
    baseline: float
    reference: float
    augmented: float
    augmented_finetuned: float
    added_tokens: float
    llm_tokens: float
    on_top: dict[str, int]
    """Verdicts of augmentation on top of fine-tuning against the reference, per task split."""
    alone: dict[str, int]
    """Verdicts of augmentation on the pretrained retriever against the fine-tuned reference."""
    ids: dict[str, str] = field(default_factory=dict)
    matched: float | None = None
    """The -ftA cell (fine-tuned on the augmenter's own train inputs), where it covers every column."""
    matched_on_top: dict[str, int] | None = None
    families: list[FamilyVerdict] = field(default_factory=list)
    """The same cells per task family, in suite order of each family's first split."""
    break_even: list[BreakEven] = field(default_factory=list)
    """Its pretrained cell against the label-budget curve, per task split with a curve."""

    @property
    def cells(self) -> dict[str, float]:
        """The table's cells by name (the -ftA cell only where it exists)."""
        out = {"baseline": self.baseline, "reference": self.reference, "augmented": self.augmented,
               "augmented_finetuned": self.augmented_finetuned}
        if self.matched is not None:
            out["matched"] = self.matched
        return out

    @property
    def best(self) -> str:
        """The cell with the highest mean nDCG@10 (the first named on a tie)."""
        return max(self.cells, key=lambda name: self.cells[name])

    @property
    def gap_closed(self) -> float | None:
        gap = self.reference - self.baseline
        return (self.augmented - self.baseline) / gap if gap > 1e-9 else None

    @property
    def reads_context(self) -> bool:
        """A context-aware retriever's table (no augmenter): its own rows are untrained and trained."""
        return self.ids.get("augmented", "").startswith("none@")

    @staticmethod
    def _against(delta: float, counts: dict[str, int]) -> str:
        n = sum(counts.values())
        return (f"{delta:+.3f} against the reference: significantly better on {counts['better']}, worse on "
                f"{counts['worse']} of {n} task split{'' if n == 1 else 's'}")

    @property
    def sentences(self) -> list[str]:
        tokens = f"+{self.added_tokens:,.0f} tokens/query" + (
            f" and {self.llm_tokens:,.0f} LLM tokens" if self.llm_tokens else "")
        names = {**CELL_NAMES, **(RETRIEVER_CELL_NAMES if self.reads_context else {})}
        best = f"Best cell of the table: {names[self.best]} ({self.cells[self.best]:.3f})."
        if self.reads_context:
            return [f"Untrained (the fusion of its base rankings) it moves nDCG@10 from {self.baseline:.3f} to "
                    f"{self.augmented:.3f}; fine-tuning the text-only retriever reaches {self.reference:.3f}.",
                    f"Trained on the train split it reaches {self.augmented_finetuned:.3f} ("
                    f"{self._against(self.augmented_finetuned - self.reference, self.on_top)}).", best]
        first = (f"On the pretrained retriever it moves nDCG@10 from {self.baseline:.3f} to {self.augmented:.3f}"
                 f" at {tokens}")
        if self.gap_closed is not None and self.gap_closed > 1:
            first += (f": it surpasses fine-tuning, which alone reaches {self.reference:.3f} at no extra "
                      "tokens.")
        elif self.gap_closed is not None and self.gap_closed >= 0:
            first += (f": it closes {self.gap_closed:.0%} of the gap to fine-tuning, which alone reaches "
                      f"{self.reference:.3f} at no extra tokens.")
        elif self.gap_closed is not None:
            first += (f": it falls further behind fine-tuning, which alone reaches {self.reference:.3f} at no "
                      "extra tokens.")
        else:
            first += f"; fine-tuning alone does not beat the pretrained retriever here ({self.reference:.3f})."
        n = sum(self.on_top.values())
        splits = f"{n} task split{'' if n == 1 else 's'}"
        delta = self.augmented_finetuned - self.reference
        if n == 0:
            second = "Augmentation on top of fine-tuning was not compared with the reference on any task split."
        elif self.on_top["better"] == 0 and self.on_top["worse"] == 0:
            second = f"It adds nothing significant on top of fine-tuning ({delta:+.3f} nDCG@10, {splits})."
        else:
            second = (f"On top of fine-tuning it changes nDCG@10 by {delta:+.3f}: significantly better on "
                      f"{self.on_top['better']}, worse on {self.on_top['worse']} of {splits}.")
        sentences = [first, second]
        if self.matched is not None and self.matched_on_top is not None:
            sentences.append(f"Fine-tuned on its own inputs (-ftA) it reaches {self.matched:.3f} ("
                             f"{self._against(self.matched - self.reference, self.matched_on_top)}).")
        elif self.role != "oracle":
            sentences.append("Fine-tuned on its own inputs (-ftA): not applicable yet (its inputs for the train "
                             "split do not exist, e.g. LLM completions shipped for the evaluation splits only).")
        budget = summary_sentence(self.break_even)
        return [*sentences, best, *([budget] if budget else [])]


CELL_NAMES = {"baseline": "pretrained, no augmentation", "reference": "the fine-tuned reference",
              "augmented": "pretrained with it", "augmented_finetuned": "the reference's model with it",
              "matched": "fine-tuned on its own inputs (-ftA)"}
RETRIEVER_CELL_NAMES = {"baseline": "the text-only retriever pretrained", "augmented": "its untrained pipeline",
                        "augmented_finetuned": "the trained retriever"}


@dataclass(frozen=True)
class Leaderboard:
    suite: Suite
    suite_sha: str
    columns: list[Column]
    rows: list[RowView]
    verdicts: list[Verdict]
    submissions: Mapping[str, Submission]
    results: int
    cards: Mapping[str, Mapping]
    """Task cards (task.toml) in suite order."""
    refused: list[InvalidResult] = field(default_factory=list)
    """Result files not shown: stale, edited or inconsistent (each names its file and field)."""
    curves: list[Curve] = field(default_factory=list)
    """Label-budget curves, per task split in board order (their points are not board rows)."""

    @property
    def families(self) -> list[str]:
        return sorted({c.family for c in self.columns})


def _compare_all(board: Board) -> dict[tuple[str, tuple[str, str]], tuple[Comparison, float]]:
    """Every shown system-versus-reference comparison, with Holm-adjusted p-values."""
    rows = {r.system_id: r for r in board.rows}
    pairs: dict[tuple[str, tuple[str, str]], tuple[Cell, Cell]] = {}
    for row in board.rows:
        ref = rows.get(row.reference)
        if ref is None or row.system_id == row.reference:
            continue
        for col, cell in row.cells.items():
            ref_cell = ref.cells.get(col)
            if ref_cell is None:
                continue
            if ref_cell.per_query.keys() != cell.per_query.keys():
                raise ValueError(f"{col[0]}/{col[1]}: {row.system_id} and its reference {row.reference} were scored "
                                 "on different queries (results from different task versions?)")
            pairs[(row.system_id, col)] = (cell, ref_cell)
    permutations = permutations_for(len(pairs))
    found = {k: compare(a.per_query, b.per_query, permutations) for k, (a, b) in pairs.items()}
    keys = sorted(found)
    adjusted = holm([found[k].p_value for k in keys])
    return {k: (found[k], p) for k, p in zip(keys, adjusted)}


def _curves(rows: list[Row], budget: list[Row], columns: list[Column], suite: Suite) -> list[Curve]:
    """Each reference's label-budget curve per task split where some of its points are shown: the
    pretrained retriever (n = 0), the points, the reference (n = all), and every pretrained
    augmented cell of the split against it."""
    by_id = {r.system_id: r for r in rows}
    train_sizes: dict[str, int] = {}
    out = []
    for ref_id in sorted({r.reference for r in budget}):
        ref, base = by_id.get(ref_id), by_id.get(ref_id.removesuffix("-ft"))
        mine = sorted((r for r in budget if r.reference == ref_id), key=lambda r: r.label_budget or 0)
        for col in columns:
            if ref is None or base is None or col.key not in ref.cells or col.key not in base.cells or not any(
                    col.key in r.cells for r in mine):
                continue
            if col.task_id not in train_sizes:
                train_sizes[col.task_id] = len(label_budget.ordered_train_queries(suite.load(col.task_id)))
            train = train_sizes[col.task_id]
            points = [(0, base.system_id, base.cells[col.key].per_query),
                      *((r.label_budget, r.system_id, r.cells[col.key].per_query) for r in mine if col.key in r.cells),
                      (train, ref_id, ref.cells[col.key].per_query)]
            missing = [n for n in label_budget.SIZES if n < train and n not in {p[0] for p in points}]
            augmenters = [(r.system_id, r.submission or "", r.role, r.cells[col.key].per_query) for r in rows
                          if r.submission and not r.finetuned and r.role in ("submission", "oracle")
                          and col.key in r.cells]
            out.append(build_curve(col.task_id, col.split, train, points, augmenters, missing))
    return out


def _verdicts(rows: list[RowView], submissions: Mapping[str, Submission],
              families: Mapping[tuple[str, str], str], curves: list[Curve] = ()) -> list[Verdict]:
    by_id = {r.system_id: r for r in rows}
    out = []
    for sub_name in sorted({r.submission for r in rows if r.submission}):
        mine = [r for r in rows if r.submission == sub_name]
        pre = next((r for r in mine if not r.finetuned), None)
        ft = next((r for r in mine if r.finetuned and r.finetuned_on == "query"), None)
        matched = next((r for r in mine if r.finetuned_on == "augmented"), None)
        if pre is None or ft is None or ft.reference not in by_id:
            continue
        reference = by_id[ft.reference]
        # The baseline: R pretrained without augmentation; for a retriever that reads context (its own
        # pretrained row has no augmenter), the reference's retriever pretrained.
        baseline_id = "none@" + pre.system_id.split("@", 1)[1]
        baseline = by_id.get(reference.system_id.removesuffix("-ft") if baseline_id == pre.system_id else baseline_id)
        if baseline is None:
            continue
        order = {c: i for i, c in enumerate(families)}  # the board's columns: suite order
        cols = sorted((c for c in pre.cells if c in ft.cells and c in reference.cells and c in baseline.cells),
                      key=lambda c: (order.get(c, len(order)), c))
        if not cols:
            continue
        covered = matched is not None and all(c in matched.cells for c in cols)
        sub = submissions.get(sub_name)
        ids = {"baseline": baseline.system_id, "reference": reference.system_id,
               "augmented": pre.system_id, "augmented_finetuned": ft.system_id}
        if covered:
            ids["matched"] = matched.system_id
        by_family: dict[str, list[tuple[str, str]]] = {}
        for c in cols:
            by_family.setdefault(families.get(c, "other"), []).append(c)
        family_rows = [FamilyVerdict(
            family=name, columns=[f"{t}/{s}" for t, s in fcols],
            cells={"baseline": fmean(baseline.cells[c].main for c in fcols),
                   "reference": fmean(reference.cells[c].main for c in fcols),
                   "augmented": fmean(pre.cells[c].main for c in fcols),
                   "augmented_finetuned": fmean(ft.cells[c].main for c in fcols),
                   "matched": fmean(matched.cells[c].main for c in fcols) if covered else None},
            on_top=_count(ft, fcols), alone=_count(pre, fcols)) for name, fcols in by_family.items()]
        out.append(Verdict(
            submission=sub_name, title=sub.manifest.submission.title if sub else sub_name, role=pre.role,
            columns=[f"{t}/{s}" for t, s in cols],
            baseline=fmean(baseline.cells[c].main for c in cols), reference=fmean(reference.cells[c].main for c in cols),
            augmented=fmean(pre.cells[c].main for c in cols), augmented_finetuned=fmean(ft.cells[c].main for c in cols),
            added_tokens=fmean(pre.cells[c].cell.added_tokens for c in cols),
            llm_tokens=fmean(pre.cells[c].cell.llm_tokens for c in cols),
            on_top=_count(ft, cols), alone=_count(pre, cols), ids=ids,
            matched=fmean(matched.cells[c].main for c in cols) if covered else None,
            matched_on_top=_count(matched, cols) if covered else None, families=family_rows,
            break_even=[b for c in curves for b in c.break_even if b.system_id == pre.system_id],
        ))
    return out


def _count(row: RowView, cols: list[tuple[str, str]]) -> dict[str, int]:
    out = {"better": 0, "same": 0, "worse": 0}
    for c in cols:
        if row.cells[c].verdict:
            out[row.cells[c].verdict] += 1
    return out


def build_leaderboard(results_dir: Path, suite: Suite, submissions: list[Submission],
                      expected: Expectations | None = None) -> Leaderboard:
    """Only results that pass every check against the suite and the submissions as they are now
    (`expected`, computed when not given) are shown; the rest are listed in `refused`."""
    if expected is None:
        expected = expectations(suite, expand_all(submissions, failures=[]))
    board = build_board(results_dir, list(suite.task_ids), expected)
    budget = [r for r in board.rows if r.role == "budget"]  # their own page; never in Holm's family of the board
    board.rows[:] = [r for r in board.rows if r.role != "budget"]
    cards = {tid: suite.card(tid) for tid in suite.task_ids}
    columns = [Column(t, s, str(cards.get(t, {}).get("family", "other")), s in UNSEEN_SPLITS) for t, s in board.columns]
    curves = _curves(board.rows, budget, columns, suite) if budget else []
    stats = _compare_all(board)
    rows = []
    for row in board.rows:
        cells = {}
        for col, cell in row.cells.items():
            found = stats.get((row.system_id, col))
            cells[col] = (CellView(cell, found[0], found[1], verdict(found[0].delta, found[1])) if found
                          else CellView(cell))
        rows.append(RowView(row.system_id, row.role, row.submission, row.reference, row.finetuned, cells,
                            finetuned_on=row.finetuned_on))
    # Means over different task sets are not comparable: only rows with every column are ranked; and
    # a submission only once it declares it was not trained on test queries (SUBMITTING.md says why).
    subs = {s.name: s for s in submissions}
    undeclared = {name for name, s in subs.items() if not s.manifest.metadata.declared_clean}
    ranked = sorted((r for r in rows if r.role != "oracle" and len(r.cells) == len(columns)
                     and r.submission not in undeclared), key=lambda r: -(r.mean_main or 0.0))
    ranks = {r.system_id: i for i, r in enumerate(ranked, 1)}
    rows = sorted((RowView(r.system_id, r.role, r.submission, r.reference, r.finetuned, r.cells,
                           ranks.get(r.system_id), r.finetuned_on) for r in rows),
                  key=lambda r: (r.rank is None, r.rank or 0, -(r.mean_main or 0.0), r.system_id))
    families = {(c.task_id, c.split): c.family for c in columns}
    return Leaderboard(suite, suite.sha256(), columns, rows, _verdicts(rows, subs, families, curves), subs,
                       sum(len(r.cells) for r in rows), cards, board.refused, curves)
