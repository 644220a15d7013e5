"""`iqbench verify`: recompute committed results from scratch and report every metric that differs.

From scratch means an empty temporary cache (models fine-tuned and corpora encoded again)
and an empty temporary results folder. Pretrained systems must reproduce exactly; fine-tuned
ones do on the same machine and library versions, and within `tolerance` elsewhere.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmark.metrics import METRICS
from benchmark.protocol import System
from benchmark.device import CROSS_DEVICE_TOLERANCE
from benchmark.integrity import InvalidResult, check_record, load_record, schema_problems
from benchmark.results import StoredResult, read_result, result_path
from benchmark.runner import RunSummary, run_suite
from benchmark.storage import cache_dir
from benchmark.submission import Submission
from benchmark.task import Suite


@dataclass(frozen=True)
class Difference:
    result: str
    """task/split/system"""
    what: str
    committed: float | str | None
    recomputed: float | str | None


def _compare(label: str, old: dict, new: dict, tolerance: float) -> list[Difference]:
    out = []
    devices = (old["provenance"].get("device", "cpu"), new["provenance"].get("device", "cpu"))
    if devices[0] != devices[1]:  # float order differs: aggregates within a tolerance, per query not
        tolerance = max(tolerance, CROSS_DEVICE_TOLERANCE)
    for m in METRICS:
        if abs(old["metrics"][m] - new["metrics"][m]) > tolerance:
            out.append(Difference(label, m, old["metrics"][m], new["metrics"][m]))
    for qid, values in old["per_query"].items() if devices[0] == devices[1] else ():
        other = new["per_query"].get(qid)
        if other is None:
            out.append(Difference(label, f"per_query[{qid}]", "present", None))
            continue
        for m in METRICS:
            if abs(values[m] - other[m]) > tolerance:
                out.append(Difference(label, f"per_query[{qid}].{m}", values[m], other[m]))
    weights = [r["system"]["retriever"]["fingerprint"].get("weights_sha256") for r in (old, new)]
    if weights[0] != weights[1] and devices[0] == devices[1]:  # a fine-tuning that did not reproduce
        out.append(Difference(label, "system.retriever.fingerprint.weights_sha256 (the model differs)", *weights))
    if old["task"]["sha256"] != new["task"]["sha256"]:
        out.append(Difference(label, "task.sha256 (the task changed since)", old["task"]["sha256"], new["task"]["sha256"]))
    if old["system"].get("config_sha256") != new["system"]["config_sha256"]:
        out.append(Difference(label, "system.config_sha256 (stale: the system's configuration changed since)",
                              old["system"].get("config_sha256"), new["system"]["config_sha256"]))
    return out


def verify(results: Path, suite: Suite, submissions: list[Submission], systems: list[System],
           task_ids: list[str] | None = None, tolerance: float = 0.0) -> tuple[int, list[Difference], RunSummary]:
    """(results checked, differences, the recomputation's summary) for the committed results of
    `systems` on `task_ids`; failures' tracebacks go to the user's cache, not the temporary one."""
    wanted = {s.id for s in systems}
    committed, differences = [], []
    for path in sorted(Path(results).glob("*/*/*.json")):
        try:
            record = load_record(path)
        except InvalidResult as e:
            differences.append(Difference(str(path), "the file itself", "; ".join(e.problems), None))
            continue
        if problems := check_record(record):  # reported, and still compared if its fields can be read
            differences.append(Difference(str(path), "the file itself", "; ".join(problems), None))
            if schema_problems(record):
                continue
        if record["system"]["id"] in wanted and (not task_ids or record["task"]["id"] in task_ids):
            committed.append(StoredResult(path, record))
    tasks = sorted({r.record["task"]["id"] for r in committed})
    splits = sorted({r.record["task"]["split"] for r in committed})
    previous, log_dir = os.environ.get("IQBENCH_CACHE"), cache_dir() / "logs"
    with tempfile.TemporaryDirectory(prefix="iqbench-verify-") as tmp:
        os.environ["IQBENCH_CACHE"] = str(Path(tmp) / "cache")
        try:
            summary = run_suite(suite, submissions, [s for s in systems if s.id in wanted], Path(tmp) / "results",
                                tasks, splits, show_progress=False, log_dir=log_dir)
        finally:
            if previous is None:
                os.environ.pop("IQBENCH_CACHE", None)
            else:
                os.environ["IQBENCH_CACHE"] = previous
        for stored in committed:
            rec = stored.record
            label = f"{rec['task']['id']}/{rec['task']['split']}/{rec['system']['id']}"
            fresh = result_path(Path(tmp) / "results", rec["task"]["id"], rec["task"]["split"], rec["system"]["id"])
            if not fresh.is_file():
                differences.append(Difference(label, "result", "present", None))
                continue
            differences += _compare(label, rec, read_result(fresh), tolerance)
    return len(committed), differences, summary
