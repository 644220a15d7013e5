"""Registered augmenters, by the name a submission's `use` gives."""

from __future__ import annotations

from typing import Any, Callable

from benchmark.augmenters.base import Augmentation, Augmenter, NotApplicable, visible_query
from benchmark.augmenters.simple import ContextAugmenter, NoneAugmenter, OracleAugmenter

AUGMENTERS: dict[str, Callable[..., Augmenter]] = {
    "none": NoneAugmenter,
    "context": ContextAugmenter,
    "oracle": OracleAugmenter,
}


def build_augmenter(use: str, args: dict[str, Any] | None = None) -> Augmenter:
    if use not in AUGMENTERS:
        raise ValueError(f"unknown augmenter {use!r}; registered: {', '.join(sorted(AUGMENTERS))}")
    return AUGMENTERS[use](**(args or {}))


__all__ = ["AUGMENTERS", "Augmentation", "Augmenter", "NotApplicable", "build_augmenter", "visible_query"]
