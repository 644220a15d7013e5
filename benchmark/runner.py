"""The runner: evaluate systems on tasks and splits, writing only the results that are missing."""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from types import MappingProxyType
from typing import Callable

from tqdm import tqdm

from benchmark import device, label_budget
from benchmark.augmenters import (
    Augmentation, Augmenter, NotApplicable, TaskAware, TaskView, build_augmenter, visible_query,
)
from benchmark.augmenters.precomputed import MissingRows
from benchmark.guardrails import (
    ComponentTimeout, GuardrailError, call_with_timeout, check_augmentations, check_run,
)
from benchmark.memory import release_memory
from benchmark.metrics import aggregate, evaluate
from benchmark.plugins import content_hashes, resolve
from benchmark.protocol import System, label_budget_systems
from benchmark.integrity import SCHEMA, TaskFacts
from benchmark.results import Expectations, provenance, result_path, stale_reasons, write_result
from benchmark.retrievers import Retriever, build_retriever
from benchmark.retrievers.base import TrainingData, check_combinable, finetune, reads_context, search
from benchmark.retrievers.finetune import DEFAULT_RECIPE, FinetuneRecipe, training_set
from benchmark.storage import cache_dir, sha256_json
from benchmark.submission import Submission
from benchmark.task import Query, Suite, Task
from benchmark.tokens import added_tokens
from benchmark.trec import write_run

DEPTH = 100  # documents retrieved per query (Recall@100 needs 100)
DEFAULT_TIMEOUT_S = 3600.0  # per augmentation and per search of one system on one split
SEED = 0
CANDIDATE_RANKING = 2
"""How a candidate-restricted query is ranked (2: every candidate, unmatched ones at their score;
1 ranked only those a retriever's top list held). Part of the configuration on such tasks."""
log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    written: list[Path] = field(default_factory=list)
    present: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    """Result files that were there but stale or invalid (with why): recomputed, never shown."""
    runs: list[Path] = field(default_factory=list)
    """TREC run files written (with `runs`)."""
    log_dir: Path | None = None
    """Where the failure log goes (default: the cache's logs/ folder)."""
    log_path: Path | None = None
    """Tracebacks of the failures, one after another (only written when something failed)."""

    def fail(self, label: str, error: BaseException) -> None:
        self.failed.append(f"{label}: {type(error).__name__}: {error}")
        if self.log_path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.log_path = (self.log_dir or cache_dir() / "logs") / f"run-{stamp}-{os.getpid()}.log"
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        trace = "".join(traceback.format_exception(error))
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(f"=== {label}\n{trace}\n")
        log.debug("failure in %s\n%s", label, trace)


def run_path(runs: Path, task_id: str, split: str, system_id: str) -> Path:
    """Where --save-runs puts one ranking: <runs>/<task>/<split>/<system>.run (TREC format)."""
    return Path(runs) / task_id / split / f"{system_id}.run"


def _code_folder(system: System) -> Path | None:
    """Where a module:Class retriever's code lives (a registered one is the same in every row)."""
    return system.folder if ":" in system.retriever.use else None


class _Retrievers:
    """Builds, fine-tunes and indexes each distinct retriever of a task once."""

    def __init__(self, task: Task, augmenters: "_Augmenters") -> None:
        self.task, self.augmenters = task, augmenters
        self._built: dict[tuple, Retriever] = {}

    @staticmethod
    def _key(system: System) -> tuple:
        spec = system.retriever
        trained_on = None
        if system.finetuned and system.finetuned_on == "augmented":  # A's inputs: one model per augmenter
            trained_on = (system.augmenter.use, repr(sorted(system.augmenter.args.items())), system.folder)
        return (spec.use, repr(sorted(spec.args.items())), system.finetuned, trained_on, _code_folder(system),
                system.label_budget)

    def evict(self, system: System) -> None:
        self._built.pop(self._key(system), None)

    def get(self, system: System) -> Retriever:
        key = self._key(system)
        if key not in self._built:
            retriever = build_retriever(system.retriever.use, system.retriever.args, _code_folder(system))
            if system.finetuned:
                retriever = finetune(retriever, self.training(system, with_dev=reads_context(retriever)),
                                     recipe_of(system, self.task) if system.label_budget else None)
            retriever.index(self.task.corpus)
            self._built[key] = retriever
        return self._built[key]

    def training(self, system: System, with_dev: bool) -> TrainingData:
        """The train split as the system's fine-tuning reads it: bare queries for the reference
        recipe, the augmenter's own output for the -ftA cell (NotApplicable if it has none)."""
        if system.finetuned_on != "augmented":
            chosen = label_budget.subset(self.task, system.label_budget) if system.label_budget else None
            return training_set(self.task, lambda queries: [q.text for q in queries], with_dev, chosen)
        aug = self.augmenters.get(system)

        def texts(queries: list[Query]) -> list[str]:
            try:
                out = aug.augment(queries)
            except (NotApplicable, MissingRows) as e:  # inputs shipped for the evaluation splits only
                raise NotApplicable(f"fine-tuning on the augmenter's train-split inputs: {e}") from e
            out = check_augmentations(out, queries, system.augmenter.use)
            if any(a.texts for a in out):
                raise NotApplicable(f"augmenter {system.augmenter.use!r} hands several texts per query; the "
                                    "fine-tuning recipe trains on one text per query")
            return [a.text for a in out]
        return training_set(self.task, texts, with_dev)


def built_retriever(task: Task, system: System) -> Retriever:
    """`system`'s retriever on `task` as a run builds it (fine-tuned from the cache, or trained now)."""
    return _Retrievers(task, _Augmenters(task)).get(system)


def recipe_of(system: System, task: Task) -> FinetuneRecipe | None:
    """The fine-tuning recipe of a fine-tuned system: the suite's, with a label-budget point's
    step budget (None: not fine-tuned)."""
    if not system.finetuned:
        return None
    return label_budget.recipe(task, system.label_budget) if system.label_budget else DEFAULT_RECIPE


def system_config(system: System, augmenter_fingerprint: dict, task: Task) -> dict:
    """Everything that decides a system's output besides the task; a change makes old results stale."""
    config = {
        "schema": SCHEMA, "depth": DEPTH,
        "augmenter": {"use": system.augmenter.use, "args": system.augmenter.args, "fingerprint": augmenter_fingerprint},
        "retriever": {"use": system.retriever.use, "args": system.retriever.args, "finetuned": system.finetuned},
        "finetune": recipe.as_dict() if (recipe := recipe_of(system, task)) else None,
    }
    if system.label_budget:  # a key only curve points have: other configurations keep their hash
        config["label_budget"] = label_budget.configuration(system.label_budget)
    if system.finetuned_on == "augmented":  # a key only the -ftA cell has: other configurations keep their hash
        config["finetune_on"] = "augmented"
    version = getattr(resolve("retriever", system.retriever.use, system.folder), "version", None)
    if version is not None:  # a registered retriever's own rules (features, fusion) version its results
        config["retriever"]["version"] = version
    if task.candidate_restricted:
        config["candidate_ranking"] = CANDIDATE_RANKING
    files = {f"{kind}:{name}": sha for kind, spec in (("augmenter", system.augmenter), ("retriever", system.retriever))
             for name, sha in content_hashes(spec.use, spec.args, system.folder).items()}
    if files:  # a submission's own module or data: editing it makes its results stale
        config["files"] = files
    return config


def _record(system: System, task: Task, suite: Suite, suite_sha: str, split: str, retriever: Retriever,
            augmentations: list[Augmentation], texts: dict[str, str | tuple[str, ...]], run, augment_s: float,
            search_s: float, manifest_sha: str | None, config: dict) -> dict:
    queries = task.split_queries(split)
    per_query = evaluate(task.qrels[split], run)
    n = len(queries)
    fp = retriever.fingerprint()
    models = {fp["name"]: fp["weights_sha256"]} if "weights_sha256" in fp else {}
    if "base_weights_sha256" in fp:
        models[fp["model"]] = fp["base_weights_sha256"]
    models.update(fp.get("models", {}))  # a composite retriever's parts (e.g. a ranker beside its encoder)
    return {
        "schema": SCHEMA,
        "system": {
            "id": system.id, "submission": system.submission, "role": system.role,
            "reference": system.reference_id, "config_sha256": sha256_json(config),
            "augmenter": {"use": system.augmenter.use, "args": system.augmenter.args},
            "retriever": {"use": system.retriever.use, "args": system.retriever.args,
                          "finetuned": system.finetuned, "fingerprint": fp,
                          **({"finetuned_on": "augmented"} if system.finetuned_on == "augmented" else {}),
                          **({"label_budget": system.label_budget} if system.label_budget else {})},
        },
        "task": {"id": task.id, "split": split, "sha256": task.sha256, "suite": suite.version,
                 "official": task.official, "queries": n},
        "metrics": aggregate(per_query),
        "per_query": per_query,
        "cost": {
            "added_tokens_mean": fmean(added_tokens(q.text, texts[q.id]) for q in queries),
            "llm_prompt_tokens_mean": fmean(a.llm_prompt_tokens for a in augmentations),
            "llm_completion_tokens_mean": fmean(a.llm_completion_tokens for a in augmentations),
            "augment_ms_mean": 1000 * augment_s / n,
            "search_ms_mean": 1000 * search_s / n,
        },
        "provenance": provenance(models, SEED, manifest_sha, {
            "suite_sha256": suite_sha, "depth": DEPTH, "finetune": config["finetune"], "device": device.current(),
            "augmenter": config["augmenter"]["fingerprint"]}),  # prompt version and hash, LLM model hash
    }


def combination_rule(aug: Augmenter, augmentations: list[Augmentation], use: str) -> str | None:
    """The rule by which the retriever combines these augmentations' several texts (None: one text each)."""
    if not any(a.texts for a in augmentations):
        return None
    rule = getattr(aug, "text_combination", None)
    if not isinstance(rule, str) or not rule:
        raise GuardrailError(f"augmenter {use!r} returned several texts per query but declares no "
                             "`text_combination` rule (e.g. 'mean-embedding')")
    return rule


def task_view(task: Task) -> TaskView:
    """Read-only: an augmenter cannot change the corpus another system is scored on."""
    return TaskView(task.id, task.sha256, MappingProxyType(task.corpus),
                    MappingProxyType({qid: q.text for qid, q in task.queries.items()}))


def prepared(aug: Augmenter, task: Task) -> Augmenter:
    """The augmenter, told its task first if it asks (`prepare`, see TaskAware)."""
    if isinstance(aug, TaskAware):
        aug.prepare(task_view(task))
    return aug


class _Augmenters:
    """Builds and prepares each distinct augmenter of a task once."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self._built: dict[tuple, Augmenter] = {}

    def get(self, system: System) -> Augmenter:
        key = (system.augmenter.use, repr(sorted(system.augmenter.args.items())), system.folder)
        if key not in self._built:
            self._built[key] = prepared(build_augmenter(system.augmenter.use, system.augmenter.args, system.folder),
                                        self.task)
        aug = self._built[key]
        if bool(getattr(aug, "oracle", False)) != (system.role == "oracle"):
            raise GuardrailError(f"augmenter {system.augmenter.use!r}: the built object says oracle="
                                 f"{getattr(aug, 'oracle', None)!r}, its class (which decides the role, "
                                 f"{system.role}) does not; declare `oracle` as a class attribute")
        return aug

    def config_sha256(self, system: System) -> str:
        """The hash a current result of `system` on this task must carry."""
        return sha256_json(system_config(system, self.get(system).fingerprint(), self.task))


def expectations(suite: Suite, systems: list[System], allow_modified: bool = False) -> Expectations:
    """What every shown result must agree with now: each task's sha and judged queries, and the
    configuration hash of every system on every task (a system whose components cannot be
    built there has none, so its results there are refused)."""
    known = {s.id for s in systems}  # and the label-budget points of the references among them
    systems = [*systems, *(s for s in label_budget_systems(systems) if s.id not in known)]
    tasks, configs = {}, {}
    for task_id in suite.task_ids:
        task = suite.load(task_id, allow_modified)
        tasks[task_id] = TaskFacts.of(task)
        augmenters = _Augmenters(task)
        for system in systems:
            try:
                configs[(task_id, system.id)] = augmenters.config_sha256(system)
            except Exception as e:  # noqa: BLE001 (not buildable here: nothing of it can be current)
                log.debug("%s on %s: no configuration (%s)", system.id, task_id, e)
    return Expectations(tasks, configs)


def _augment(aug: Augmenter, use: str, oracle: bool, queries: list[Query], timeout_s: float | None,
             ) -> tuple[list[Augmentation], float] | Exception:
    """Augmentations and seconds taken, or the exception (kept, so the -ft row does not wait again)."""
    visible = [visible_query(q, oracle) for q in queries]
    start = time.perf_counter()
    try:
        out = call_with_timeout(lambda: aug.augment(visible), timeout_s, f"augmenter {use!r}")
        return check_augmentations(out, queries, use), time.perf_counter() - start
    except NotApplicable:
        raise
    except Exception as e:
        return e


def run_task(task: Task, suite: Suite, suite_sha: str, systems: list[System], splits: list[str] | None,
             results: Path, manifests: dict[str, str], summary: RunSummary,
             progress: Callable[[str], None] = lambda _: None, timeout_s: float | None = None,
             runs: Path | None = None) -> None:
    augmenters, facts = _Augmenters(task), TaskFacts.of(task)
    retrievers = _Retrievers(task, augmenters)
    augmented: dict[tuple, tuple[list[Augmentation], float] | Exception] = {}
    for split in [s for s in (splits or task.eval_splits) if s in task.qrels]:
        queries = task.split_queries(split)
        for system in systems:
            label = f"{task.id}/{split}/{system.id}"
            progress(label)
            path = result_path(results, task.id, split, system.id)
            try:
                aug = augmenters.get(system)
                config = system_config(system, aug.fingerprint(), task)
                reasons = stale_reasons(path, facts, sha256_json(config))
                run_file = run_path(runs, task.id, split, system.id) if runs else None
                if reasons == [] and (run_file is None or run_file.is_file()):
                    summary.present.append(path)
                    continue
                if reasons:
                    summary.replaced.append(f"{path}: {'; '.join(reasons)}")
                key = (system.augmenter.use, repr(sorted(system.augmenter.args.items())), system.folder, split)
                if key not in augmented:
                    augmented[key] = _augment(aug, system.augmenter.use, system.role == "oracle", queries, timeout_s)
                if isinstance(augmented[key], Exception):  # failed once for this split: fails the same again
                    raise augmented[key]
                augmentations, augment_s = augmented[key]
                texts = {q.id: a.retriever_input for q, a in zip(queries, augmentations, strict=True)}
                rule = combination_rule(aug, augmentations, system.augmenter.use)
                if rule is not None:  # checked before any fine-tuning: a pairing that cannot run costs nothing
                    check_combinable(resolve("retriever", system.retriever.use, _code_folder(system)),
                                     system.augmenter.use, system.retriever.use, rule)
                retriever = retrievers.get(system)
                start = time.perf_counter()
                try:
                    run = call_with_timeout(lambda: search(retriever, texts, queries, DEPTH, len(task.corpus), rule),
                                            timeout_s, f"retriever {system.retriever.use!r}")
                except ComponentTimeout:
                    retrievers.evict(system)  # still busy in its thread
                    raise
                search_s = time.perf_counter() - start
                check_run(run, queries, task.corpus, DEPTH, system.retriever.use)
                if run_file is not None:
                    write_run(run_file, run, tag=system.id, depth=DEPTH)
                    summary.runs.append(run_file)
                if reasons == []:  # the result is current: only its run file was missing
                    summary.present.append(path)
                    continue
                record = _record(system, task, suite, suite_sha, split, retriever, augmentations, texts, run,
                                 augment_s, search_s, manifests.get(system.submission or ""), config)
                write_result(path, record)
                summary.written.append(path)
            except NotApplicable as e:
                summary.skipped.append(f"{label}: {e}")
            except Exception as e:  # one system failing must not take the others down
                summary.fail(label, e)


def run_suite(suite: Suite, submissions: list[Submission], systems: list[System], results: Path,
              task_ids: list[str] | None = None, splits: list[str] | None = None,
              show_progress: bool = True, allow_modified: bool = False,
              timeout_s: float | None = DEFAULT_TIMEOUT_S, log_dir: Path | None = None,
              runs: Path | None = None) -> RunSummary:
    """Evaluate every system on every task and split asked for; only missing results are computed.
    With `runs`, each ranking is also written there as a TREC run file (a current result whose run
    file is missing is searched again for it, from cached models, and left as it is)."""
    summary = RunSummary(log_dir=log_dir)
    manifests = {s.name: s.manifest_sha256 for s in submissions}
    tasks = [suite.load(task_id, allow_modified) for task_id in task_ids or suite.task_ids]
    suite_sha = suite.sha256()
    total = sum(len([s for s in (splits or t.eval_splits) if s in t.qrels]) * len(systems) for t in tasks)
    with tqdm(total=total, desc="evaluating", unit="result", disable=not show_progress) as bar:
        def progress(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update()

        for task in tasks:
            run_task(task, suite, suite_sha, systems, splits, results, manifests, summary, progress, timeout_s,
                     runs)
            release_memory()
    return summary
