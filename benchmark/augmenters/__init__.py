"""Registered augmenters, by the name a submission's `use` gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from benchmark.augmenters.base import Augmentation, Augmenter, NotApplicable, TaskAware, TaskView, visible_query
from benchmark.augmenters.llm import (
    CoTAugmenter, CoTPRFAugmenter, HyDEAugmenter, HyDEPassageAugmenter, Query2DocAugmenter, RewriteAugmenter,
)
from benchmark.augmenters.precomputed import PrecomputedAugmenter
from benchmark.augmenters.prf import PRFAugmenter
from benchmark.augmenters.simple import ContextAugmenter, NoneAugmenter, OracleAugmenter

AUGMENTERS: dict[str, Callable[..., Augmenter]] = {
    "none": NoneAugmenter,
    "context": ContextAugmenter,
    "oracle": OracleAugmenter,
    "precomputed": PrecomputedAugmenter,
    "prf": PRFAugmenter,
    "llm-cot": CoTAugmenter,
    "llm-cot-prf": CoTPRFAugmenter,
    "llm-hyde": HyDEAugmenter,
    "llm-hyde-passage": HyDEPassageAugmenter,
    "llm-query2doc": Query2DocAugmenter,
    "llm-rewrite": RewriteAugmenter,
}


def build_augmenter(use: str, args: dict[str, Any] | None = None, folder: Path | None = None) -> Augmenter:
    """A registered name, an entry point or module:Class (from the submission `folder`)."""
    from benchmark.plugins import build

    return build("augmenter", use, args, folder)


__all__ = ["AUGMENTERS", "Augmentation", "Augmenter", "NotApplicable", "TaskAware", "TaskView", "build_augmenter",
           "visible_query"]
