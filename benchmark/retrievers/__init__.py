"""Registered retrievers, by the name a submission's `use` gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from benchmark.retrievers.base import ContextAwareRetriever, Retriever, RetrieverInput, Run, TrainableRetriever
from benchmark.retrievers.bm25 import BM25Retriever
from benchmark.retrievers.context_tuning import ContextTuningRankerRetriever, ContextTuningRetriever
from benchmark.retrievers.dense import DenseRetriever

RETRIEVERS: dict[str, Callable[..., Retriever]] = {
    "bm25": BM25Retriever,
    "dense": DenseRetriever,
    "context-tuning": ContextTuningRetriever,
    "context-tuning-ranker": ContextTuningRankerRetriever,
}
# The suite's default fine-tuned dense retriever: the reference for retrievers that cannot be fine-tuned.
DEFAULT_REFERENCE = {"use": "dense", "args": {"model": "minilm-l6"}}


def build_retriever(use: str, args: dict[str, Any] | None = None, folder: Path | None = None) -> Retriever:
    """A registered name, an entry point or module:Class (from the submission `folder`)."""
    from benchmark.plugins import build

    return build("retriever", use, args, folder)


__all__ = ["ContextAwareRetriever", "DEFAULT_REFERENCE", "RETRIEVERS", "Retriever", "RetrieverInput", "Run",
           "TrainableRetriever", "build_retriever"]
