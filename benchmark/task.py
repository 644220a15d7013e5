"""Tasks on disk: the BEIR-style files, their checksums, and the suite that orders them.

A task is loaded only if every file matches SHA256SUMS, so a number computed on a
modified task can never pass for an official one.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from benchmark.signals import signal_problem
from benchmark.storage import sha256_bytes, sha256_file, sha256_json
from benchmark.trec import is_unsafe

REQUIRED_FILES = ("task.toml", "corpus.jsonl", "queries.jsonl", "LICENSE")
SIMULATION_FILE = "simulation.json"
"""Present in a task whose users are simulated: their habits, so that the qrels can be recomputed."""
REQUIRED_SIGNALS = {"usage": ("time", "place", "usage")}
"""Context keys every query of a task of this family must carry, checked against their format
(benchmark/signals.py); elsewhere a signal is free-form and a retriever treats a malformed one as absent."""

Qrels = Mapping[str, Mapping[str, int]]


class TaskError(ValueError):
    """A task folder that is missing, malformed or modified."""


@dataclass(frozen=True)
class Doc:
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """What a retriever indexes: title and text."""
        return f"{self.title}: {self.text}" if self.title else self.text


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    context: Mapping[str, Any] = field(default_factory=dict)
    explicit: str | None = None
    candidates: tuple[str, ...] | None = None

    @property
    def has_context(self) -> bool:
        """Some context signal is present (an empty history or profile does not count)."""
        return any(v not in (None, "", [], {}) for v in self.context.values())

    def visible(self, oracle: bool = False) -> "Query":
        """The query as a component may see it: the human rewrite removed unless `oracle`, and its
        own read-only copy of the context, so a component that changes it cannot affect another."""
        return Query(id=self.id, text=self.text, context=MappingProxyType(copy.deepcopy(dict(self.context))),
                     explicit=self.explicit if oracle else None, candidates=self.candidates)


@dataclass(frozen=True)
class Task:
    id: str
    path: Path
    card: Mapping[str, Any]
    corpus: Mapping[str, Doc]
    queries: Mapping[str, Query]
    qrels: Mapping[str, Qrels]
    sha256: str
    official: bool = True

    @property
    def eval_splits(self) -> tuple[str, ...]:
        return tuple(self.card.get("eval_splits", ("test",)))

    @property
    def candidate_restricted(self) -> bool:
        """Some query ranks only its own `candidates` (e.g. one user's profile statements)."""
        return any(q.candidates is not None for q in self.queries.values())

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.qrels)

    def split_queries(self, split: str) -> list[Query]:
        """The split's queries in qrels order (every judged query, none dropped)."""
        if split not in self.qrels:
            raise TaskError(f"task {self.id!r} has no split {split!r} (it has: {', '.join(self.splits)})")
        return [self.queries[qid] for qid in self.qrels[split]]


def tasks_root() -> Path:
    """The suite's folder: IQBENCH_TASKS, else tasks/ beside the package."""
    if env := os.environ.get("IQBENCH_TASKS"):
        return Path(env)
    return Path(__file__).resolve().parents[1] / "tasks"


def checksum_lines(task_dir: Path) -> list[str]:
    """'<sha256>  <path>' for every task file as it is now, sorted by path (`sha256sum -c` format)."""
    task_dir = Path(task_dir)
    return [f"{sha256_file(p)}  {p.relative_to(task_dir).as_posix()}"
            for p in sorted(p for p in task_dir.rglob("*") if p.is_file() and p.name != "SHA256SUMS")]


def write_checksums(task_dir: Path) -> None:
    (Path(task_dir) / "SHA256SUMS").write_text("\n".join(checksum_lines(task_dir)) + "\n", encoding="utf-8")


def verify_checksums(task_dir: Path) -> tuple[str, list[str]]:
    """Return (task sha, problems). The task sha is the hash of its SHA256SUMS file."""
    sums = task_dir / "SHA256SUMS"
    if not sums.is_file():
        raise TaskError(f"{task_dir}: no SHA256SUMS file")
    problems, listed = [], set()
    for n, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if not name:
            raise TaskError(f"{sums}:{n}: expected '<sha256>  <file>'")
        listed.add(name)
        path = task_dir / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name} was modified")
    for path in sorted(p for p in task_dir.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        if path.relative_to(task_dir).as_posix() not in listed:
            problems.append(f"{path.relative_to(task_dir).as_posix()} is not listed in SHA256SUMS")
    for name in REQUIRED_FILES:
        if name not in listed:
            problems.append(f"{name} is required but not listed")
    if problems:  # a modified task must never share the official task's sha
        return sha256_json(checksum_lines(task_dir)), problems
    return sha256_bytes(sums.read_bytes()), problems


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) of each non-empty line, every row an object with a unique, TREC-safe '_id'."""
    rows, seen = [], {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise TaskError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("_id"), str):
                raise TaskError(f"{path}:{n}: expected an object with a string '_id'")
            _check_id(row["_id"], f"{path}:{n}: _id")
            if row["_id"] in seen:
                raise TaskError(f"{path}:{n}: _id {row['_id']!r} already on line {seen[row['_id']]}")
            seen[row["_id"]] = n
            rows.append((n, row))
    return rows


def _check_id(value: str, where: str) -> None:
    """Ids go into whitespace-separated TREC files (runs, qrels): none may hold whitespace."""
    if is_unsafe(value):
        raise TaskError(f"{where}: {value!r} is empty or holds whitespace or a control character, which "
                        "TREC run and qrels files cannot hold (rename it in the task's build script)")


def _read_qrels(path: Path, queries: Mapping[str, Query], corpus: Mapping[str, Doc]) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    lines: dict[tuple[str, str], int] = {}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header != ["query-id", "corpus-id", "score"]:
            raise TaskError(f"{path}:1: expected header 'query-id<TAB>corpus-id<TAB>score'")
        for n, row in enumerate(reader, 2):
            if len(row) != 3 or not row[2].lstrip("-").isdigit():
                raise TaskError(f"{path}:{n}: expected 'query-id<TAB>corpus-id<TAB>integer score'")
            qid, did, score = row[0], row[1], int(row[2])
            if qid not in queries:
                raise TaskError(f"{path}:{n}: query {qid!r} is not in queries.jsonl")
            if did not in corpus:
                raise TaskError(f"{path}:{n}: document {did!r} is not in corpus.jsonl")
            if (qid, did) in lines:  # trec_eval refuses it too; keeping either grade would be a guess
                raise TaskError(f"{path}:{n}: query {qid!r}, document {did!r} already judged on line "
                                f"{lines[(qid, did)]}")
            lines[(qid, did)] = n
            qrels.setdefault(qid, {})[did] = score
    return qrels


def read_card(task_dir: Path) -> dict[str, Any]:
    """task.toml alone (no data files read): what pages and citations need."""
    path = Path(task_dir) / "task.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise TaskError(f"{path}: {e}") from None


def load_task(task_dir: Path, allow_modified: bool = False) -> Task:
    """Load and verify one task folder; a modified task raises unless allow_modified (then unofficial)."""
    task_dir = Path(task_dir)
    if not task_dir.is_dir():
        raise TaskError(f"{task_dir}: no such task folder")
    sha, problems = verify_checksums(task_dir)
    if problems and not allow_modified:
        raise TaskError(
            f"task {task_dir.name!r} does not match its SHA256SUMS: " + "; ".join(problems)
            + ". Restore the files (git checkout) or rebuild the task; results on a modified task are unofficial."
        )
    card = read_card(task_dir)
    corpus = {r["_id"]: Doc(str(r.get("title", "")), str(r.get("text", "")))
              for _, r in _read_jsonl(task_dir / "corpus.jsonl")}
    required = REQUIRED_SIGNALS.get(str(card.get("family", "")), ())
    queries = {}
    for n, r in _read_jsonl(task_dir / "queries.jsonl"):
        where = f"{task_dir / 'queries.jsonl'}:{n}: query {r['_id']!r}"
        cands = r.get("candidates")
        for did in cands or ():
            if did not in corpus:
                raise TaskError(f"{where}: candidate {did!r} is not in corpus.jsonl")
        context = r.get("context") or {}
        if not isinstance(context, dict):
            raise TaskError(f"{where}: context: expected an object")
        if required:  # a family whose answer lives in the signals: they must be there and well formed
            missing = [f"context.{key}" for key in required if key not in context]
            problem = f"{', '.join(missing)}: missing (required by family {card['family']!r})" if missing else \
                signal_problem(context, corpus)
            if problem:
                raise TaskError(f"{where}: {problem}")
        queries[r["_id"]] = Query(
            id=r["_id"], text=str(r.get("text", "")), context=MappingProxyType(context),
            explicit=r.get("explicit"), candidates=tuple(cands) if cands is not None else None,
        )
    qrels = {p.stem: _read_qrels(p, queries, corpus) for p in sorted((task_dir / "qrels").glob("*.tsv"))}
    if not qrels:
        raise TaskError(f"{task_dir}: no qrels/<split>.tsv files")
    return Task(
        id=str(card.get("id", task_dir.name)), path=task_dir, card=MappingProxyType(card),
        corpus=MappingProxyType(corpus), queries=MappingProxyType(queries),
        qrels=MappingProxyType({k: MappingProxyType(v) for k, v in qrels.items()}),
        sha256=sha, official=not problems,
    )


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    task_ids: tuple[str, ...]
    root: Path
    recorded_sha256: str | None = None
    """The hash suite.toml records (written by tasks/build/build_suite.py); sha256() recomputes it."""

    def folder(self, task_id: str) -> Path:
        if task_id not in self.task_ids:
            raise TaskError(f"unknown task {task_id!r}; the suite has: {', '.join(self.task_ids)}")
        return self.root / task_id

    def load(self, task_id: str, allow_modified: bool = False) -> Task:
        return load_task(self.folder(task_id), allow_modified)

    def card(self, task_id: str) -> dict[str, Any]:
        """task.toml only: no data file is read or verified."""
        return read_card(self.folder(task_id))

    def sha256(self) -> str:
        """Changes whenever any task file changes: a hash over every task's sha (which, for a
        task that no longer matches its SHA256SUMS, is the hash of its actual files)."""
        return sha256_json([[tid, verify_checksums(self.root / tid)[0]] for tid in self.task_ids])


def load_suite(root: Path | None = None) -> Suite:
    root = Path(root or tasks_root())
    path = root / "suite.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Suite(name=data["name"], version=str(data["version"]), task_ids=tuple(data["tasks"]), root=root,
                     recorded_sha256=data.get("sha256"))
    except FileNotFoundError:
        raise TaskError(f"{path}: no suite file") from None
    except (tomllib.TOMLDecodeError, KeyError) as e:
        raise TaskError(f"{path}: expected name, version and tasks ({e})") from None


def write_suite(root: Path, name: str, version: str, task_ids: list[str]) -> Suite:
    """suite.toml with the hash of the tasks as they are now on disk."""
    suite = Suite(name, version, tuple(task_ids), Path(root))
    sha = suite.sha256()
    text = (
        "# The fixed suite: the order here is the order of every table.\n"
        "# Written by tasks/build/build_suite.py; sha256 changes whenever any task file changes.\n"
        f'name = "{name}"\nversion = "{version}"\n'
        "tasks = [\n" + "".join(f'  "{t}",\n' for t in task_ids) + "]\n"
        f'sha256 = "{sha}"\n'
    )
    (Path(root) / "suite.toml").write_text(text, encoding="utf-8")
    return Suite(name, version, tuple(task_ids), Path(root), sha)
