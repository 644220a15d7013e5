"""The features context tuning ranks with: one row per (query, candidate document).

Text (the query as typed, or its augmentation):
- `dense`, `bm25`: cosine of the query and document embeddings; the document's BM25 score.
- `dense_rr`, `bm25_rr`: 1 / (1 + rank) of the document in each full ranking.

Conversation and profile (context `history`: turns {role, text, item?}; `profile`: statements):
- `last_user`, `last_assistant`: cosine of the document and the most recent user / assistant turn.
- `history_max`: the largest cosine to any of the last HISTORY_TURNS turns.
- `history_bm25`: BM25 score of the last HISTORY_TURNS turns as one text.
- `profile_max`: the largest cosine to a profile statement.
- `signals`: cosine to the other context signals as text (e.g. `location`, `place`), as the
  context augmenter serializes them (usage counts excluded).
- `history_item`: how many of the recent turns used this document (`item`, the tool used).

Usage and geo-temporal signals (the signals Context Tuning names: frequency, usage history,
geo-temporal correlation), from `time`, `place` and `usage` (format: benchmark/signals.py):
- `usage_share`: the document's share of the user's uses.
- `usage_recency`: 1 / (1 + days since its last use).
- `usage_daypart`, `usage_day`, `usage_place`: the share of its uses in the query's daypart
  (night 0-6, morning 6-12, afternoon 12-18, evening 18-24), kind of day and place.

Flags: `has_history`, `has_profile`, `has_usage` (so trees can tell "no signal" from "signal 0").
A missing or malformed signal counts as absent (task loading is where formats are enforced).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from benchmark.augmenters.simple import serialize_context
from benchmark.signals import day_kind, daypart, parse_time

FEATURES = ("dense", "bm25", "dense_rr", "bm25_rr", "last_user", "last_assistant", "history_max", "history_bm25",
            "profile_max", "signals", "history_item", "usage_share", "usage_recency", "usage_daypart", "usage_day",
            "usage_place", "has_history", "has_profile", "has_usage")
FEATURES_VERSION = 1
HISTORY_TURNS = 5
SIGNAL_KEYS_SKIPPED = ("history", "profile", "usage", "time")


@dataclass(frozen=True)
class QueryChannels:
    """The texts of one query that are compared with documents."""

    text: str
    last_user: str
    last_assistant: str
    turns: tuple[str, ...]
    profile: tuple[str, ...]
    signals: str
    items: tuple[str, ...]

    @classmethod
    def of(cls, text: str, context: Mapping[str, Any]) -> "QueryChannels":
        history = [t for t in (context.get("history") or []) if isinstance(t, Mapping)][-HISTORY_TURNS:]
        turn_text = [str(t.get("text", "")).strip() for t in history]
        last = {role: next((str(t.get("text", "")).strip() for t in reversed(history) if t.get("role") == role), "")
                for role in ("user", "assistant")}
        profile = tuple(str(p).strip() for p in (context.get("profile") or []) if str(p).strip())
        others = {k: v for k, v in context.items() if k not in SIGNAL_KEYS_SKIPPED}
        return cls(text, last["user"], last["assistant"], tuple(t for t in turn_text if t), profile,
                   serialize_context(others), tuple(str(t["item"]) for t in history if t.get("item")))

    def texts(self) -> list[str]:
        return [t for t in (self.text, self.last_user, self.last_assistant, *self.turns, *self.profile,
                            self.signals) if t]


def _share(counts: Any, key: str | None, total: float) -> float:
    if key is None or not isinstance(counts, Mapping) or total <= 0:
        return 0.0
    value = counts.get(key, 0)
    return float(value) / total if isinstance(value, (int, float)) else 0.0


def usage_features(context: Mapping[str, Any], doc_ids: Sequence[str]) -> np.ndarray:
    """[usage_share, usage_recency, usage_daypart, usage_day, usage_place] per document."""
    out = np.zeros((len(doc_ids), 5), dtype=np.float32)
    usage = context.get("usage")
    if not isinstance(usage, Mapping) or not usage:
        return out
    counts = {d: float(u.get("count", 0)) for d, u in usage.items()
              if isinstance(u, Mapping) and isinstance(u.get("count", 0), (int, float))}
    total = sum(counts.values())
    now = parse_time(context.get("time"))
    part = daypart(now) if now else None
    day = day_kind(now) if now else None
    place = str(context["place"]) if context.get("place") else None
    for row, doc in enumerate(doc_ids):
        entry, n = usage.get(doc), counts.get(doc, 0.0)
        if not isinstance(entry, Mapping) or n <= 0:
            continue
        last = parse_time(entry.get("last_used"))
        recency = 1.0 / (1.0 + max((now - last).total_seconds(), 0.0) / 86400) if now and last else 0.0
        out[row] = (n / total if total else 0.0, recency, _share(entry.get("dayparts"), part, n),
                    _share(entry.get("days"), day, n), _share(entry.get("places"), place, n))
    return out


def _max_cosine(doc_emb: np.ndarray, embs: list[np.ndarray]) -> np.ndarray:
    return (doc_emb @ np.stack(embs).T).max(axis=1) if embs else np.zeros(len(doc_emb), dtype=np.float32)


def _reciprocal_ranks(scores: np.ndarray) -> np.ndarray:
    """1 / (1 + rank) of every document (rank 0 is the best; ties in index order)."""
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores), dtype=np.float32)
    out[order] = 1.0 / (1.0 + np.arange(len(scores)))
    return out


def feature_rows(channels: QueryChannels, context: Mapping[str, Any], candidates: np.ndarray,
                 doc_ids: Sequence[str], doc_emb: np.ndarray, embed: Callable[[str], np.ndarray],
                 dense_all: np.ndarray, bm25_all: np.ndarray, history_bm25_all: np.ndarray) -> np.ndarray:
    """The FEATURES of each candidate (indices into the corpus order of `doc_ids`), in order.
    `dense_all` / `bm25_all` / `history_bm25_all` score every document of the corpus."""
    cand_emb = doc_emb[candidates]

    def cosine(text: str) -> np.ndarray:
        return cand_emb @ embed(text) if text else np.zeros(len(candidates), dtype=np.float32)

    ids = [doc_ids[i] for i in candidates]
    columns = [
        dense_all[candidates], bm25_all[candidates],
        _reciprocal_ranks(dense_all)[candidates], _reciprocal_ranks(bm25_all)[candidates],
        cosine(channels.last_user), cosine(channels.last_assistant),
        _max_cosine(cand_emb, [embed(t) for t in channels.turns]), history_bm25_all[candidates],
        _max_cosine(cand_emb, [embed(t) for t in channels.profile]), cosine(channels.signals),
        np.array([channels.items.count(d) for d in ids], dtype=np.float32),
    ]
    usage = usage_features(context, ids)
    has_usage = isinstance(context.get("usage"), Mapping) and bool(context.get("usage"))
    flags = [float(bool(channels.turns)), float(bool(channels.profile)), float(has_usage)]
    matrix = np.column_stack([*columns, usage, np.tile(np.array(flags, dtype=np.float32), (len(candidates), 1))])
    return matrix.astype(np.float32)
