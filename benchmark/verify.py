"""`iqbench verify`: recompute committed results from scratch and report every metric that differs.

From scratch means an empty temporary results folder and an empty temporary cache for corpus
embeddings. Fine-tuned reference models come from the user's cache (trained there first if
missing): the recomputed result's weights hash must equal the committed one. With `retrain`
the references are re-derived from the recipe in the temporary cache and compared with the
cached ones weight by weight; retrained models the user's cache lacks are kept there.
Pretrained systems must reproduce exactly; fine-tuned ones do on the same machine and library
versions, and within `tolerance` elsewhere.
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
from benchmark.retrievers.adapters import ADAPTER_FILE
from benchmark.storage import cache_dir, publish_dir
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


@dataclass(frozen=True)
class ModelCheck:
    """A reference re-derived from the recipe against the model the committed results used."""

    task: str
    committed_sha256: str
    retrained_sha256: str
    max_abs_difference: float | None
    """Largest weight difference; None when the committed model is not in the user's cache."""
    tensors_differing: int | None = None


def _model_folders(root: Path) -> dict[str, Path]:
    """weights sha256 -> model folder, for every finished model under `root`."""
    from benchmark.retrievers.dense import model_sha256

    return {model_sha256(folder): folder for folder in sorted(root.glob("[!.]*"))
            if (folder / "model.safetensors").is_file() or (folder / ADAPTER_FILE).is_file()}


def _weight_difference(a: Path, b: Path) -> tuple[float, int]:
    """(largest absolute difference, tensors that differ) between two saved models of one shape."""
    import numpy as np
    from safetensors.numpy import load_file

    name = ADAPTER_FILE if (a / ADAPTER_FILE).is_file() else "model.safetensors"
    left, right = load_file(a / name), load_file(b / name)
    if left.keys() != right.keys():
        return float("inf"), len(left.keys() ^ right.keys())
    deltas = [float(np.max(np.abs(left[k].astype(np.float64) - right[k]))) if left[k].size else 0.0 for k in left]
    return max(deltas, default=0.0), sum(d > 0 for d in deltas)


def _model_checks(pairs: list[tuple[dict, dict]], cached: Path, retrained: Path) -> list[ModelCheck]:
    """One check per (task, committed model) among the fine-tuned pairs of committed and recomputed results."""
    seen, out = set(), []
    old_folders, new_folders = _model_folders(cached), _model_folders(retrained)
    for old, new in pairs:
        shas = [r["system"]["retriever"]["fingerprint"].get("weights_sha256") for r in (old, new)]
        if not old["system"]["retriever"]["finetuned"] or (old["task"]["id"], shas[0]) in seen:
            continue
        seen.add((old["task"]["id"], shas[0]))
        diff, count = (0.0, 0) if shas[0] == shas[1] else (None, None)
        if diff is None and shas[0] in old_folders and shas[1] in new_folders:
            diff, count = _weight_difference(old_folders[shas[0]], new_folders[shas[1]])
        out.append(ModelCheck(old["task"]["id"], shas[0], shas[1], diff, count))
    return out


def _keep_models(retrained: Path, cached: Path) -> None:
    """Retrained models the user's cache lacks move there (same key: same inputs)."""
    for folder in sorted(retrained.glob("[!.]*")):
        if not (cached / folder.name).exists():
            publish_dir(folder, cached / folder.name)


def verify(results: Path, suite: Suite, submissions: list[Submission], systems: list[System],
           task_ids: list[str] | None = None, tolerance: float = 0.0, retrain: bool = False,
           ) -> tuple[int, list[Difference], RunSummary, list[ModelCheck]]:
    """(results checked, differences, the recomputation's summary, reference checks when
    `retrain`) for the committed results of `systems` on `task_ids`; failures' tracebacks go to
    the user's cache, not the temporary one."""
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
    previous, log_dir, cached_models = os.environ.get("IQBENCH_CACHE"), cache_dir() / "logs", cache_dir() / "models"
    checks: list[ModelCheck] = []
    with tempfile.TemporaryDirectory(prefix="iqbench-verify-") as tmp:
        os.environ["IQBENCH_CACHE"] = str(Path(tmp) / "cache")
        (Path(tmp) / "cache").mkdir()
        if not retrain:  # the user's fine-tuned models serve (and any trained now stays there)
            cached_models.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / "cache" / "models").symlink_to(cached_models.resolve(), target_is_directory=True)
        try:
            summary = run_suite(suite, submissions, [s for s in systems if s.id in wanted], Path(tmp) / "results",
                                tasks, splits, show_progress=False, log_dir=log_dir)
        finally:
            if previous is None:
                os.environ.pop("IQBENCH_CACHE", None)
            else:
                os.environ["IQBENCH_CACHE"] = previous
        pairs = []
        for stored in committed:
            rec = stored.record
            label = f"{rec['task']['id']}/{rec['task']['split']}/{rec['system']['id']}"
            fresh = result_path(Path(tmp) / "results", rec["task"]["id"], rec["task"]["split"], rec["system"]["id"])
            if not fresh.is_file():
                differences.append(Difference(label, "result", "present", None))
                continue
            pairs.append((rec, read_result(fresh)))
            differences += _compare(label, rec, pairs[-1][1], tolerance)
        if retrain and (Path(tmp) / "cache" / "models").is_dir():
            checks = _model_checks(pairs, cached_models, Path(tmp) / "cache" / "models")
            _keep_models(Path(tmp) / "cache" / "models", cached_models)
    return len(committed), differences, summary, checks
