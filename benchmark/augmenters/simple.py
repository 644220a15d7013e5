"""LLM-free augmenters: identity, context concatenation, and the human-rewrite oracle."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from benchmark.augmenters.base import Augmentation, NotApplicable
from benchmark.task import Query


class NoneAugmenter:
    """The baseline: the retriever sees exactly what the user typed."""

    name = "none"
    oracle = False

    def fingerprint(self) -> dict:
        return {"name": self.name}

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        return [Augmentation(q.text) for q in queries]


SERIALIZATION = 1
"""The version of serialize_context's format: part of every fingerprint that depends on it."""


def serialize_context(context: Mapping[str, Any]) -> str:
    """The fixed, documented serialization of a query's context (format version SERIALIZATION).

    Earlier turns come most recent first, so that a retriever which truncates its input
    keeps the turns that most often resolve the query; then profile statements; then any
    other signal as `key: value` in key order. Empty context gives an empty string.
    """
    lines: list[str] = []
    history = list(context.get("history") or [])
    if history:
        lines.append("Earlier turns (most recent first):")
        lines += [f"{turn.get('role', 'user')}: {str(turn.get('text', '')).strip()}" for turn in reversed(history)]
    profile = list(context.get("profile") or [])
    if profile:
        lines.append("User profile:")
        lines += [f"- {str(p).strip()}" for p in profile]
    for key in sorted(k for k in context if k not in ("history", "profile")):
        value = context[key]
        if value not in (None, "", [], {}):
            lines.append(f"{key}: {value if isinstance(value, str) else _flat(value)}")
    return "\n".join(lines)


def _flat(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{k}={_flat(v)}" for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return "; ".join(_flat(v) for v in value)
    return str(value)


class ContextAugmenter:
    """Context concatenation: the query, then its serialized context (no LLM, no LLM tokens)."""

    name = "context"
    oracle = False

    def fingerprint(self) -> dict:
        return {"name": self.name, "serialization": SERIALIZATION}

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        out = []
        for q in queries:
            ctx = serialize_context(q.context)
            out.append(Augmentation(f"{q.text}\n{ctx}" if ctx else q.text))
        return out


class OracleAugmenter:
    """The human explicit rewrite: a ceiling for rewriting methods, never ranked."""

    name = "oracle"
    oracle = True

    def fingerprint(self) -> dict:
        return {"name": self.name}

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        if any(q.explicit is None for q in queries):
            raise NotApplicable("the task has no human explicit rewrites")
        return [Augmentation(q.explicit) for q in queries]
