"""The Retriever plug-in point: index a corpus, then rank it for a batch of query texts."""

from __future__ import annotations

from typing import Mapping, Protocol, runtime_checkable

from benchmark.task import Doc

Run = dict[str, dict[str, float]]  # query id -> doc id -> score (pytrec_eval / ranx / BEIR format)


@runtime_checkable
class Retriever(Protocol):
    name: str

    def fingerprint(self) -> dict:
        """What identifies this retriever's behaviour (model hashes, parameters) for provenance and caches."""

    def index(self, corpus: Mapping[str, Doc]) -> None:
        """Prepare to search `corpus`; called once per task before any search."""

    def search(self, texts: Mapping[str, str], k: int) -> Run:
        """Top-k documents per query text. Retrievers see texts only, never query records."""


@runtime_checkable
class TrainableRetriever(Retriever, Protocol):
    def finetune(self, examples: list[tuple[str, frozenset[str]]], corpus: Mapping[str, Doc]) -> "Retriever":
        """A new retriever fine-tuned with the suite's recipe on (query text, relevant doc ids)
        examples over the train documents `corpus`; self is unchanged."""
