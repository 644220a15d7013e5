"""The protocol: a submission (augmenter A, retriever R) expands into the systems a board must show.

|                 | no augmentation      | with A              |
| R pretrained    | baseline             | submission          |
| R fine-tuned    | mandatory reference  | A on top of fine-tuning |

If R cannot be fine-tuned, the fine-tuned row uses the suite's default dense retriever.
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


def retriever_label(spec: ComponentSpec) -> str:
    """A file-name-safe label (ids name result files)."""
    label = str(spec.args.get("model", "minilm-l6")) if spec.use == "dense" else spec.use
    return re.sub(r"[^a-z0-9.-]+", "-", label.lower()).strip("-.") or spec.use


def system_id(augmenter_label: str, retriever: ComponentSpec, finetuned: bool) -> str:
    return f"{augmenter_label}@{retriever_label(retriever)}{'-ft' if finetuned else ''}"


def expand(submission: Submission) -> list[System]:
    m = submission.manifest
    none = ComponentSpec(use="none")
    r_pre = m.retriever
    trainable = callable(getattr(resolve("retriever", m.retriever.use, submission.path), "finetune", None))
    r_ft = m.retriever if trainable else ComponentSpec(**DEFAULT_REFERENCE)
    reference_id = system_id("none", r_ft, True)
    # A module:Class retriever is the submission's own code: its rows build it from the submission folder.
    r_folder = submission.path if ":" in m.retriever.use else None
    systems = [
        System(system_id("none", r_pre, False), "baseline", None, none, r_pre, False, reference_id, r_folder),
        System(reference_id, "reference", None, none, r_ft, True, reference_id, r_folder if trainable else None),
    ]
    if m.augmenter.use != "none":
        role = "oracle" if getattr(resolve("augmenter", m.augmenter.use, submission.path), "oracle", False) \
            else "submission"
        for retriever, ft in ((r_pre, False), (r_ft, True)):
            systems.append(System(system_id(submission.name, retriever, ft), role, submission.name,
                                  m.augmenter, retriever, ft, reference_id, submission.path))
    return systems


def expand_all(submissions: list[Submission], failures: list[str] | None = None) -> list[System]:
    """Systems of all submissions, each once, in a stable order (shared rows first).

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
    order = {role: i for i, role in enumerate(ROLES)}
    return sorted(seen.values(), key=lambda s: (order[s.role], s.id))
