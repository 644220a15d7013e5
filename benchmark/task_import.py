"""Bring your own task: a BEIR folder imported as an iqbench task, and a private suite to hold it.

The import checks everything a task load would refuse later (ids, duplicates, dangling qrels,
encodings) and names the source file and line, because a user can fix their own file but not
a traceback. The task is built in a temporary folder beside its destination and renamed into
place at the end, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from benchmark.storage import umask_mode
from benchmark.task import TaskError, load_suite, load_task, read_card, write_checksums, write_suite
from benchmark.trec import is_unsafe

SUITE_SEED = 20231
"""The suite's build seed (tasks/build/common.SEED): the same salt gives the same sample."""
EVAL_CAP = 1000
"""Most queries per evaluation split (tasks/build/common.EVAL_CAP)."""
TRAINING_SPLITS = ("train", "dev")
"""Splits that are never evaluated, so never capped."""
QRELS_HEADER = ("query-id", "corpus-id", "score")
FILL_IN = "fill in"
LICENSE_PLACEHOLDER = "FILL IN: the source's licence text, with attribution"
"""The first line of an imported task's LICENSE until the user replaces it."""
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
SPLIT = re.compile(r"^[A-Za-z0-9_-]+$")  # a TOML bare key: [splits] lists them unquoted


class TaskImportError(TaskError):
    """A source folder that cannot become a task; the message names the file, line and field."""


@dataclass(frozen=True)
class SourceDoc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class SourceQuery:
    id: str
    text: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class ImportedTask:
    """What an import wrote: the folder, and per split the queries kept and those in the source."""

    path: Path
    splits: Mapping[str, int]
    source_splits: Mapping[str, int]
    warnings: tuple[str, ...] = ()
    """What loads but will not run as the protocol expects (e.g. no train split for the reference)."""


def cap_queries(qids: Iterable[str], salt: str, cap: int = EVAL_CAP) -> list[str]:
    """A seeded sample of at most `cap` query ids (all when fewer), sorted: the suite's own rule
    (tasks/build/common.cap_queries), so an imported split is capped as a shipped one is."""
    qids = sorted(set(qids))
    if len(qids) <= cap:
        return qids
    return sorted(random.Random(f"{SUITE_SEED}:cap:{salt}").sample(qids, cap))


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line, decoded strictly: a bad byte names its line."""
    if not path.is_file():
        raise TaskImportError(f"{path}: no such file")
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise TaskImportError(f"{path}:{n}: not UTF-8 (byte 0x{raw[e.start]:02x} at column "
                                      f"{e.start + 1})") from None
            if line.strip():
                yield n, line.rstrip("\r\n")


def _check_id(value: Any, where: str) -> str:
    if value is None:
        raise TaskImportError(f"{where}: _id: missing")
    if not isinstance(value, str):  # BEIR ids are strings; a number would change on the way back
        raise TaskImportError(f"{where}: _id: expected a string, got {json.dumps(value)}")
    if is_unsafe(value):
        raise TaskImportError(f"{where}: _id: {value!r} is empty or holds whitespace or a control character, "
                              "which TREC run and qrels files cannot hold")
    return value


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TaskImportError(f"{where}: {key}: expected a string, got {type(value).__name__}")
    return value


def _rows(path: Path) -> Iterator[tuple[str, dict, str]]:
    """(id, row, 'file:line') of each JSON line, ids unique and TREC-safe."""
    seen: dict[str, int] = {}
    for n, line in _lines(path):
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskImportError(f"{where}: not valid JSON ({e.msg}, column {e.colno})") from None
        if not isinstance(row, dict):
            raise TaskImportError(f"{where}: expected a JSON object")
        rid = _check_id(row.get("_id"), where)
        if rid in seen:
            raise TaskImportError(f"{where}: _id: {rid!r} is duplicated (also on line {seen[rid]})")
        seen[rid] = n
        yield rid, row, where


def read_corpus(path: Path) -> dict[str, SourceDoc]:
    docs = {}
    for did, row, where in _rows(path):
        title, text = _text(row, "title", where), _text(row, "text", where)
        if not title.strip() and not text.strip():
            raise TaskImportError(f"{where}: title, text: both empty (document {did!r})")
        docs[did] = SourceDoc(did, title, text)
    return docs


def read_queries(path: Path) -> dict[str, SourceQuery]:
    """Queries with their text; a `context` object is kept, anything else (BEIR `metadata`) dropped."""
    queries = {}
    for qid, row, where in _rows(path):
        text = _text(row, "text", where)
        if not text.strip():
            raise TaskImportError(f"{where}: text: empty (query {qid!r})")
        context = row.get("context") or {}
        if not isinstance(context, dict):
            raise TaskImportError(f"{where}: context: expected a JSON object")
        queries[qid] = SourceQuery(qid, text, context)
    return queries


def read_qrels(path: Path, queries: Mapping[str, SourceQuery],
               corpus: Mapping[str, SourceDoc]) -> dict[str, dict[str, int]]:
    """One split's judgments; the BEIR header line is optional."""
    qrels: dict[str, dict[str, int]] = {}
    seen: dict[tuple[str, str], int] = {}
    for n, line in _lines(path):
        fields = line.split("\t")
        if n == 1 and tuple(f.strip() for f in fields) == QRELS_HEADER:
            continue
        where = f"{path}:{n}"
        if len(fields) != 3:
            raise TaskImportError(f"{where}: expected 'query-id<TAB>corpus-id<TAB>score', got {len(fields)} "
                                  "tab-separated fields")
        qid, did, score = (f.strip() for f in fields)
        if not re.fullmatch(r"-?[0-9]+", score):
            raise TaskImportError(f"{where}: score: expected an integer grade, got {score!r}")
        if qid not in queries:
            raise TaskImportError(f"{where}: query-id: {qid!r} is not in queries.jsonl")
        if did not in corpus:
            raise TaskImportError(f"{where}: corpus-id: {did!r} is not in corpus.jsonl")
        if (qid, did) in seen:
            raise TaskImportError(f"{where}: query {qid!r}, document {did!r} already judged on line {seen[qid, did]}")
        seen[qid, did] = n
        qrels.setdefault(qid, {})[did] = int(score)
    return qrels


def toml_string(value: str) -> str:
    """A TOML basic string (JSON escaping is a valid subset)."""
    return json.dumps(value, ensure_ascii=False)


def toml_multiline(value: str) -> str:
    """A TOML literal multi-line string, lines stripped of trailing spaces (so hashes survive editors)."""
    assert "'''" not in value
    lines = [line.rstrip() for line in value.strip().splitlines()]
    return "'''\n" + "\n".join(lines) + "\n'''"


def _fill_in(hint: str) -> str:
    return f'""  # {FILL_IN}: {hint}'


def task_toml(task_id: str, family: str, source_name: str, files: list[str], splits: Mapping[str, int],
              source_splits: Mapping[str, int], eval_splits: list[str], salt: str, dropped: int) -> str:
    """The card skeleton, fields in tasks/build/common.write_task_toml's order; what the importer
    cannot know is an empty string the user completes (`iqbench task check` lists them)."""
    capped = [f"{s} keeps {splits[s]:,} of {source_splits[s]:,}" for s in eval_splits if splits[s] < source_splits[s]]
    notes = (f"Imported from the BEIR folder {source_name!r} by `iqbench task import beir`. Evaluation splits are "
             f"capped at {EVAL_CAP:,} queries by a seeded sample (benchmark.task_import.cap_queries, salt "
             f"'{salt}:<split>')" + (f": {'; '.join(capped)}." if capped else "; none needed it.")
             + (f" Queries without judgments dropped: {dropped:,}." if dropped else "")
             + " BEIR query metadata is not kept; a query's `context` object is.")
    lines = [
        f"id = {toml_string(task_id)}",
        f"title = {_fill_in('a one-line title (required)')}",
        f"family = {toml_string(family)}",
        f"main_metric = {toml_string('ndcg_cut_10')}",
        f"eval_splits = {json.dumps(eval_splits)}",
        f"description = {_fill_in('what makes these queries implicit, in a paragraph (required)')}",
        f"notes = {toml_multiline(notes)}",
        f"caveats = {_fill_in('known problems of the data (optional)')}",
        "",
        "[source]",
        f"repo = {_fill_in('where the data comes from (a repository or page)')}",
        f"commit = {_fill_in('the commit or version imported')}",
        f"license = {_fill_in('the licence, an SPDX identifier such as CC-BY-4.0 (required)')}",
        f"files = {json.dumps(files)}",
        f"citation = {_fill_in('the BibTeX of the source (required)')}",
        "",
        "[splits]",
        *[f"{name} = {count}" for name, count in splits.items()],
        "",
    ]
    return "\n".join(lines)


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_qrels_tsv(path: Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    """BEIR's qrels format with its header, queries and documents sorted (what the loader reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(QRELS_HEADER) + "\n")
        for qid in sorted(qrels):
            for did in sorted(qrels[qid]):
                f.write(f"{qid}\t{did}\t{qrels[qid][did]}\n")


def _split_order(name: str) -> tuple[int, str]:
    """train, dev, test, test_ood, then any other split by name: the order of the suite's cards."""
    known = ("train", "dev", "test", "test_ood")
    return (known.index(name) if name in known else len(known), name)


def import_beir(src: Path, dest: Path, task_id: str, family: str = "tool", force: bool = False,
                seed_salt: str | None = None) -> ImportedTask:
    """Write `dest/task_id` from the BEIR folder `src`; `seed_salt` (default: the task id) seeds the cap."""
    src, dest = Path(src), Path(dest)
    for value, what in ((task_id, "task id"), (family, "family")):
        if not NAME.match(value):
            raise TaskImportError(f"{what} {value!r}: use lower-case letters, digits, '.', '_' and '-'")
    final = dest / task_id
    if final.exists() and not force:
        raise TaskImportError(f"{final}: already exists (import with force to replace it)")
    corpus = read_corpus(src / "corpus.jsonl")
    queries = read_queries(src / "queries.jsonl")
    if not (src / "qrels").is_dir():
        raise TaskImportError(f"{src / 'qrels'}: no such folder (expected qrels/<split>.tsv)")
    paths = sorted((src / "qrels").glob("*.tsv"), key=lambda p: _split_order(p.stem))
    if not paths:
        raise TaskImportError(f"{src / 'qrels'}: no <split>.tsv files")
    for p in paths:
        if not SPLIT.match(p.stem):
            raise TaskImportError(f"{p}: split name {p.stem!r}: use letters, digits, '_' and '-'")
    source = {p.stem: read_qrels(p, queries, corpus) for p in paths}
    eval_splits = [s for s in source if s not in TRAINING_SPLITS]
    if not eval_splits:
        raise TaskImportError(f"{src / 'qrels'}: no evaluation split (every split but "
                              f"{' and '.join(TRAINING_SPLITS)}, e.g. test.tsv)")
    salt = seed_salt or task_id
    qrels = {s: ({q: source[s][q] for q in cap_queries(source[s], f"{salt}:{s}")} if s in eval_splits else source[s])
             for s in source}
    kept = {q for split in qrels.values() for q in split}
    judged = {q for split in source.values() for q in split}

    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{task_id}.import-", dir=dest))
    try:
        tmp.chmod(umask_mode(0o777))  # mkdtemp's 0700 would hide the task from other users
        (tmp / "qrels").mkdir()
        write_jsonl(tmp / "corpus.jsonl", ({"_id": d.id, "title": d.title, "text": d.text} for d in corpus.values()))
        write_jsonl(tmp / "queries.jsonl", ({"_id": q.id, "text": q.text, "context": dict(q.context)}
                                             for q in queries.values() if q.id in kept))
        for split, judgments in qrels.items():
            write_qrels_tsv(tmp / "qrels" / f"{split}.tsv", judgments)
        files = ["corpus.jsonl", "queries.jsonl", *(f"qrels/{s}.tsv" for s in qrels)]
        (tmp / "task.toml").write_text(
            task_toml(task_id, family, src.resolve().name, files, {s: len(j) for s, j in qrels.items()},
                      {s: len(j) for s, j in source.items()}, eval_splits, salt, len(queries) - len(judged)),
            encoding="utf-8")
        (tmp / "LICENSE").write_text(f"{LICENSE_PLACEHOLDER} (e.g. 'Data derived from <source> (<repo>), "
                                     "redistributed under its <licence>:' and the licence text).\n", encoding="utf-8")
        write_checksums(tmp)
        try:
            load_task(tmp)  # what the harness will read: e.g. a family's required context signals
        except TaskError as e:
            raise TaskImportError(str(e).replace(str(tmp), str(final))) from None
        if final.exists():  # force: swap the old folder out, then drop it
            old = Path(tempfile.mkdtemp(prefix=f".{task_id}.old-", dir=dest))
            final.rename(old / task_id)
            tmp.rename(final)
            shutil.rmtree(old)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        raise
    warnings = () if qrels.get("train") else (
        f"{src / 'qrels'}: no train split: the protocol's mandatory fine-tuned reference cannot be trained, so "
        "`iqbench run` reports the fine-tuned rows as not applicable",)
    return ImportedTask(final, {s: len(j) for s, j in qrels.items()}, {s: len(j) for s, j in source.items()},
                        warnings)


def official_problems(task_dir: Path) -> list[str]:
    """What keeps a task from being official: the card fields a reader needs to trust and cite it."""
    task_dir = Path(task_dir)
    card, toml = read_card(task_dir), task_dir / "task.toml"
    problems = []
    for field, what in (("title", "a one-line title"), ("description", "what makes its queries implicit"),
                        ("source.license", "the licence"), ("source.citation", "the source's BibTeX")):
        value: Any = card
        for key in field.split("."):
            value = value.get(key, "") if isinstance(value, dict) else ""
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{toml}: {field}: empty ({FILL_IN}: {what})")
    licence = task_dir / "LICENSE"
    if licence.is_file() and licence.read_text(encoding="utf-8", errors="replace").startswith(LICENSE_PLACEHOLDER):
        problems.append(f"{licence}: still the import's placeholder (replace it with the source's licence and "
                        "attribution)")
    return problems


def init_suite(root: Path, version: str = "0.1") -> Path:
    """An empty suite.toml named after its folder."""
    root = Path(root)
    name = root.resolve().name
    if not NAME.match(name):
        raise TaskError(f"{root}: the suite is named after its folder; use lower-case letters, digits, '.', '_' "
                        "and '-'")
    if (root / "suite.toml").exists():
        raise TaskError(f"{root / 'suite.toml'}: already exists")
    root.mkdir(parents=True, exist_ok=True)
    write_suite(root, name, version, [])
    return root / "suite.toml"


def add_to_suite(root: Path, task_dirs: Iterable[Path]) -> list[str]:
    """Append official-ready tasks to a suite (copying folders that live elsewhere into it) and
    rewrite suite.toml, name and version unchanged; returns the suite's task ids."""
    root = Path(root)
    suite = load_suite(root)
    ids = list(suite.task_ids)
    plan = []
    for task_dir in map(Path, task_dirs):
        task = load_task(task_dir)  # checksums and data: a suite never lists a task that cannot load
        if task.id != task_dir.resolve().name:
            raise TaskError(f"{task_dir / 'task.toml'}: id: {task.id!r} differs from the folder name "
                            f"{task_dir.resolve().name!r} (a suite finds a task by its folder)")
        if problems := official_problems(task_dir):
            raise TaskError(problems[0] + (f" (and {len(problems) - 1} more; `iqbench task check {task_dir}` lists "
                                           "them)" if len(problems) > 1 else ""))
        inside = task_dir.resolve().parent == root.resolve()
        if any(task.id == planned for _, planned, _ in plan):
            raise TaskError(f"{task_dir}: task {task.id!r} is named twice")
        if not inside and (root / task.id).exists():
            raise TaskError(f"{root / task.id}: already exists; remove it or add that folder instead")
        plan.append((task_dir, task.id, inside))
    for task_dir, task_id, inside in plan:
        if not inside:
            shutil.copytree(task_dir, root / task_id)
        if task_id not in ids:
            ids.append(task_id)
    write_suite(root, suite.name, suite.version, ids)
    return ids
