"""The protocol: a submission (augmenter A, retriever R) expands into the systems a board must show.

|                              | no augmentation      | with A                  |
| R pretrained                 | baseline             | submission  (A@R)       |
| R fine-tuned on bare queries | mandatory reference  | A on top of fine-tuning (A@R-ft) |
| R fine-tuned on A's inputs   |                      | A with matched fine-tuning (A@R-ftA) |

If R cannot be fine-tuned, the fine-tuned rows use the suite's default dense retriever and the
third row is not defined (it would be a different retriever, not R). Oracles get no third row
(training on human rewrites is no deployable method). A retriever that reads the query's
context is itself a method under test: like an augmenter, it is compared with the suite's
text-only fine-tuned reference, and its own pretrained and fine-tuned rows are submission rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from benchmark.integrity import ROLES
from benchmark.plugins import PluginError, resolve
from benchmark.retrievers import DEFAULT_REFERENCE
from benchmark.submission import ComponentSpec, Submission


@dataclass(frozen=True)
class System:
    """One concrete (augmenter, retriever) pair: what a leaderboard row measures."""

    id: str
    role: str
    submission: str | None
    """The submission whose augmenter this system runs (None for the shared no-augmentation rows)."""
    augmenter: ComponentSpec
    retriever: ComponentSpec
    finetuned: bool
    reference_id: str
    """The fine-tuned reference this system is compared against."""
    folder: Path | None = None
    """The submission folder its plug-in components and files come from (None for shared rows)."""
    finetuned_on: str = "query"
    """What the fine-tuning read: "query" (the bare query, the reference's recipe) or
    "augmented" (A's own output for each train query: the -ftA cell)."""
    label_budget: int | None = None
    """A label-budget curve point: the reference recipe on the first n train queries (None: all of them)."""


def retriever_label(spec: ComponentSpec) -> str:
    """A file-name-safe label (ids name result files)."""
    label = str(spec.args.get("model", "minilm-l6")) if spec.use == "dense" else spec.use
    return re.sub(r"[^a-z0-9.-]+", "-", label.lower()).strip("-.") or spec.use


def system_id(augmenter_label: str, retriever: ComponentSpec, finetuned: bool, finetuned_on: str = "query") -> str:
    suffix = ("-ftA" if finetuned_on == "augmented" else "-ft") if finetuned else ""
    return f"{augmenter_label}@{retriever_label(retriever)}{suffix}"


def expand(submission: Submission) -> list[System]:
    m = submission.manifest
    none = ComponentSpec(use="none")
    r_pre = m.retriever
    r_class = resolve("retriever", m.retriever.use, submission.path)
    trainable = callable(getattr(r_class, "finetune", None))
    context_aware = getattr(r_class, "reads_context", False) is True
    # A module:Class retriever is the submission's own code: its rows build it from the submission folder.
    r_folder = submission.path if ":" in m.retriever.use else None
    # The reference: R fine-tuned, or the suite's default when R cannot be fine-tuned or reads
    # context (then R is a method under test, compared with the text-only reference like an augmenter).
    r_ref, ref_folder = ((m.retriever, r_folder) if trainable and not context_aware
                         else (ComponentSpec(**DEFAULT_REFERENCE), None))
    r_base, base_folder = (r_ref, ref_folder) if context_aware else (r_pre, r_folder)
    reference_id = system_id("none", r_ref, True)
    systems = [
        System(system_id("none", r_base, False), "baseline", None, none, r_base, False, reference_id, base_folder),
        System(reference_id, "reference", None, none, r_ref, True, reference_id, ref_folder),
    ]
    r_ft = m.retriever if trainable else r_ref
    if context_aware:
        systems += [System(system_id("none", r_pre, ft), "submission", submission.name, none, r_pre, ft, reference_id,
                           submission.path) for ft in ((False, True) if trainable else (False,))]
    if m.augmenter.use != "none":
        oracle = bool(getattr(resolve("augmenter", m.augmenter.use, submission.path), "oracle", False))
        cells = [(r_pre, False, "query"), (r_ft, True, "query")]
        if trainable and not oracle:
            cells.append((r_ft, True, "augmented"))
        systems += [System(system_id(submission.name, r, ft, on), "oracle" if oracle else "submission",
                           submission.name, m.augmenter, r, ft, reference_id, submission.path, on)
                    for r, ft, on in cells]
    return systems


def label_budget_systems(systems: list[System]) -> list[System]:
    """The label-budget curve of the suite's default reference (when `systems` hold it): its recipe
    trained on n train queries for each size of benchmark.label_budget.SIZES (role "budget")."""
    from benchmark.label_budget import SIZES

    default = ComponentSpec(**DEFAULT_REFERENCE)
    references = [s for s in systems if s.role == "reference" and s.retriever == default and s.folder is None]
    return [System(f"{ref.id}-n{n}", "budget", None, ref.augmenter, ref.retriever, True, ref.id, label_budget=n)
            for ref in references[:1] for n in SIZES]


def expand_all(submissions: list[Submission], failures: list[str] | None = None,
               label_budget: bool = False) -> list[System]:
    """Systems of all submissions, each once, in a stable order (shared rows first); with
    `label_budget`, the reference's label-budget curve too (computed only when asked: hours of
    fine-tuning; see benchmark.label_budget).

    With a `failures` list, a submission whose components cannot be resolved is recorded
    there and left out, so that it does not stop the others.
    """
    seen: dict[str, System] = {}
    for sub in submissions:
        try:
            expanded = expand(sub)
        except PluginError as e:
            if failures is None:
                raise
            failures.append(f"{sub.name}: {e}")
            continue
        for system in expanded:
            if system.id in seen and seen[system.id] != system:
                raise ValueError(f"system {system.id!r} is defined differently by two submissions")
            seen.setdefault(system.id, system)
    systems = list(seen.values())
    if label_budget:
        systems += label_budget_systems(systems)
    order = {role: i for i, role in enumerate(ROLES)}
    return sorted(systems, key=lambda s: (order[s.role], s.label_budget or 0, s.id))
