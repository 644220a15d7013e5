"""The structured context signals of usage tasks: their format, how time is bucketed, and the
load-time check that names the file, line and field of a malformed one.

`time`: ISO local time ("2026-03-14T08:32"). `place`: a string. `usage`: {document id: {"count":
n, "last_used": ISO time, "dayparts": {daypart: n}, "days": {"weekday"|"weekend": n}, "places":
{place: n}}}, the user's own use of each document over a window before the query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Collection, Mapping

DAYPARTS = ("night", "morning", "afternoon", "evening")  # 0-6, 6-12, 12-18, 18-24 h
DAY_KINDS = ("weekday", "weekend")
USAGE_COUNTS = ("dayparts", "days", "places")


def daypart(moment: datetime) -> str:
    return DAYPARTS[moment.hour // 6]


def day_kind(moment: datetime) -> str:
    return "weekend" if moment.weekday() >= 5 else "weekday"


def parse_time(value: Any) -> datetime | None:
    """An ISO time, or None when the value is not one."""
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def signal_problem(context: Mapping[str, Any], doc_ids: Collection[str]) -> str | None:
    """What is malformed in a query's `time`, `place` or `usage` (None: all absent or well formed)."""
    if "time" in context and parse_time(context["time"]) is None:
        return f"context.time: expected an ISO local time such as '2026-03-14T08:32', got {context['time']!r}"
    if "place" in context and not isinstance(context["place"], str):
        return f"context.place: expected a string, got {context['place']!r}"
    if "usage" not in context:
        return None
    usage = context["usage"]
    if not isinstance(usage, Mapping):
        return "context.usage: expected an object {document id: {count, last_used, dayparts, days, places}}"
    for doc, entry in usage.items():
        where = f"context.usage[{doc!r}]"
        if doc not in doc_ids:
            return f"{where}: {doc!r} is not in corpus.jsonl"
        if not isinstance(entry, Mapping):
            return f"{where}: expected an object"
        if not _is_count(entry.get("count")) or entry["count"] == 0:
            return f"{where}.count: expected a positive integer, got {entry.get('count')!r}"
        if parse_time(entry.get("last_used")) is None:
            return f"{where}.last_used: expected an ISO time, got {entry.get('last_used')!r}"
        for key in USAGE_COUNTS:
            counts = entry.get(key, {})
            if not isinstance(counts, Mapping) or not all(isinstance(k, str) and _is_count(v)
                                                          for k, v in counts.items()):
                return f"{where}.{key}: expected an object of non-negative integer counts"
        for key, allowed in (("dayparts", DAYPARTS), ("days", DAY_KINDS)):
            unknown = sorted(set(entry.get(key, {})) - set(allowed))
            if unknown:
                return f"{where}.{key}: unknown {unknown} (expected some of {list(allowed)})"
    return None
