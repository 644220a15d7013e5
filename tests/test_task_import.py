"""Bring your own task: a BEIR folder imported, checked and added to a private suite, with the
guide's shell blocks run as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.task import TaskError, load_suite, load_task
from benchmark.task_import import TaskImportError, add_to_suite, cap_queries, import_beir, init_suite, official_problems
from conftest import REPO

DOCS = [(f"d{i}", f"Tool {i}", f"Does job number {i}: {word}.") for i, word in enumerate(
    "weather flights recipes stocks translate jobs fitness movies music maps news hotels".split())]
QUERIES = [(f"q{i}", f"I need help with {word}") for i, word in enumerate(
    "rain travel dinner money words work gym films songs roads headlines rooms".split())]


def write_beir(root: Path, test_header: bool = True) -> Path:
    """A BEIR folder: 12 documents, 13 queries (q12 unjudged), test with a header, train without."""
    (root / "qrels").mkdir(parents=True)
    with (root / "corpus.jsonl").open("w") as f:
        for did, title, text in DOCS:
            f.write(json.dumps({"_id": did, "title": title, "text": text, "metadata": {"url": "x"}}) + "\n")
        f.write(json.dumps({"_id": "d12", "text": "Untitled document."}) + "\n")
    with (root / "queries.jsonl").open("w") as f:
        for qid, text in QUERIES:
            row = {"_id": qid, "text": text, "metadata": {"answer": "x"}}
            if qid == "q1":
                row["context"] = {"history": [{"role": "user", "text": "I'm going to Rome."}]}
            f.write(json.dumps(row) + "\n")
        f.write(json.dumps({"_id": "q12", "text": "never judged"}) + "\n")
    (root / "qrels" / "test.tsv").write_text(
        ("query-id\tcorpus-id\tscore\n" if test_header else "")
        + "q1\td1\t1\nq0\td0\t2\nq0\td9\t0\nq2\td2\t1\nq3\td3\t1\nq4\td4\t1\nq5\td5\t1\n")
    (root / "qrels" / "train.tsv").write_text("".join(f"q{i}\td{i}\t1\n" for i in range(6, 12)))
    return root


@pytest.fixture()
def beir(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "beir" / "my-task")


def test_round_trip_loads_field_by_field(beir, tmp_path):
    done = import_beir(beir, tmp_path / "suite", "my-task")
    task = load_task(tmp_path / "suite" / "my-task")
    assert done.path == tmp_path / "suite" / "my-task" and not done.warnings
    assert task.id == "my-task" and task.official and set(task.splits) == {"train", "test"}
    assert dict(done.splits) == {"train": 6, "test": 6} == dict(done.source_splits)
    assert task.corpus.keys() == {d for d, _, _ in DOCS} | {"d12"}
    assert task.corpus["d3"].title == "Tool 3" and task.corpus["d3"].text == "Does job number 3: stocks."
    assert task.corpus["d12"].title == "" and task.corpus["d12"].text == "Untitled document."
    assert set(task.queries) == {f"q{i}" for i in range(12)}  # q12 has no judgment
    assert task.queries["q1"].context == {"history": [{"role": "user", "text": "I'm going to Rome."}]}
    assert task.queries["q0"].context == {} and task.queries["q0"].text == "I need help with rain"
    assert task.queries["q0"].explicit is None and task.queries["q0"].candidates is None
    assert task.qrels["test"]["q0"] == {"d0": 2, "d9": 0} and task.qrels["train"]["q7"] == {"d7": 1}
    folder = tmp_path / "suite" / "my-task"
    assert (folder / "qrels" / "train.tsv").read_text().startswith("query-id\tcorpus-id\tscore\nq10\td10\t1\n")
    assert (folder / "qrels" / "test.tsv").read_text().splitlines()[1:4] == ["q0\td0\t2", "q0\td9\t0", "q1\td1\t1"]
    assert json.loads((folder / "queries.jsonl").read_text().splitlines()[0]) == {
        "_id": "q0", "text": "I need help with rain", "context": {}}
    card = tomllib.loads((folder / "task.toml").read_text())
    assert list(card) == ["id", "title", "family", "main_metric", "eval_splits", "description", "notes", "caveats",
                          "source", "splits"]
    assert list(card["source"]) == ["repo", "commit", "license", "files", "citation"]
    assert card["family"] == "tool" and card["main_metric"] == "ndcg_cut_10" and card["eval_splits"] == ["test"]
    assert card["splits"] == {"train": 6, "test": 6} and card["source"]["license"] == "" == card["title"]
    assert "Queries without judgments dropped: 1." in card["notes"]
    assert '\nlicense = ""  # fill in' in (folder / "task.toml").read_text()
    assert sorted(p.name for p in folder.iterdir()) == ["LICENSE", "SHA256SUMS", "corpus.jsonl", "qrels",
                                                        "queries.jsonl", "task.toml"]
    assert oct(folder.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode
    assert not [p for p in (tmp_path / "suite").iterdir() if p.name.startswith(".")]


def test_capping_is_seeded_and_bytes_repeat(tmp_path):
    src = tmp_path / "big"
    (src / "qrels").mkdir(parents=True)
    (src / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "text": f"doc {i}"}) + "\n"
                                              for i in range(5)))
    (src / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"q {i}"}) + "\n"
                                               for i in range(1300)))
    (src / "qrels" / "test.tsv").write_text("".join(f"q{i}\td{i % 5}\t1\n" for i in range(1200)))
    (src / "qrels" / "train.tsv").write_text("".join(f"q{i}\td{i % 5}\t1\n" for i in range(1200, 1300)))
    first, second = (import_beir(src, tmp_path / name, "big") for name in ("a", "b"))
    assert dict(first.splits) == {"train": 100, "test": 1000} and first.source_splits["test"] == 1200
    files = sorted(p.relative_to(first.path) for p in first.path.rglob("*") if p.is_file())
    assert all((first.path / f).read_bytes() == (second.path / f).read_bytes() for f in files)
    kept = sorted(load_task(first.path).qrels["test"])
    assert kept == cap_queries([f"q{i}" for i in range(1200)], "big:test")
    assert len(load_task(first.path).queries) == 1100  # capped-out queries judged nowhere else are dropped
    card = tomllib.loads((first.path / "task.toml").read_text())
    assert "test keeps 1,000 of 1,200" in card["notes"]
    other = import_beir(src, tmp_path / "c", "big", seed_salt="other")
    assert sorted(load_task(other.path).qrels["test"]) != kept


def error_of(src: Path, dest: Path) -> str:
    with pytest.raises(TaskImportError) as e:
        import_beir(src, dest, "my-task")
    assert not (dest / "my-task").exists() and not dest.exists()  # nothing left behind, not even dest
    return str(e.value)


def append(path: Path, text: str) -> None:
    with path.open("a", newline="") as f:
        f.write(text)


@pytest.mark.parametrize("file,line,bad,message", [
    ("corpus.jsonl", 14, '{"_id": "d13", "text": "x"\n', "not valid JSON"),
    ("corpus.jsonl", 14, '{"title": "T", "text": "x"}\n', "_id: missing"),
    ("corpus.jsonl", 14, '{"_id": 13, "text": "x"}\n', "_id: expected a string, got 13"),
    ("corpus.jsonl", 14, '{"_id": "d3", "text": "again"}\n', "_id: 'd3' is duplicated (also on line 4)"),
    ("corpus.jsonl", 14, '{"_id": "d 13", "text": "x"}\n', "_id: 'd 13' is empty or holds whitespace"),
    ("corpus.jsonl", 14, '{"_id": "d13", "title": " ", "text": ""}\n', "title, text: both empty"),
    ("corpus.jsonl", 14, '["d13"]\n', "expected a JSON object"),
    ("queries.jsonl", 14, '{"_id": "q13", "text": ""}\n', "text: empty (query 'q13')"),
    ("queries.jsonl", 14, '{"_id": "q0", "text": "dup"}\n', "_id: 'q0' is duplicated (also on line 1)"),
    ("queries.jsonl", 14, '{"_id": "q\\t13", "text": "x"}\n', "holds whitespace"),
    ("queries.jsonl", 14, '{"_id": "q13", "text": "x", "context": "home"}\n', "context: expected a JSON object"),
    ("qrels/test.tsv", 9, "q0\td0\n", "expected 'query-id<TAB>corpus-id<TAB>score', got 2"),
    ("qrels/test.tsv", 9, "q0 d1 1\n", "got 1 tab-separated fields"),
    ("qrels/test.tsv", 9, "q0\td1\t0.5\n", "score: expected an integer grade, got '0.5'"),
    ("qrels/test.tsv", 9, "q99\td1\t1\n", "query-id: 'q99' is not in queries.jsonl"),
    ("qrels/test.tsv", 9, "q0\td99\t1\n", "corpus-id: 'd99' is not in corpus.jsonl"),
    ("qrels/test.tsv", 9, "q0\td0\t1\n", "query 'q0', document 'd0' already judged on line 3"),
    ("qrels/train.tsv", 7, "q6\td0\tx\n", "score: expected an integer grade"),
])
def test_malformed_input_names_file_line_and_field(beir, tmp_path, file, line, bad, message):
    append(beir / file, bad)
    error = error_of(beir, tmp_path / "out")
    assert error.startswith(f"{beir / file}:{line}: ") and message in error


def test_non_utf8_bytes_name_their_line(beir, tmp_path):
    with (beir / "queries.jsonl").open("ab") as f:
        f.write(b'{"_id": "q13", "text": "caf\xe9"}\n')
    assert error_of(beir, tmp_path / "out") == f"{beir / 'queries.jsonl'}:14: not UTF-8 (byte 0xe9 at column 28)"


@pytest.mark.parametrize("remove,message", [
    ("corpus.jsonl", "corpus.jsonl: no such file"),
    ("queries.jsonl", "queries.jsonl: no such file"),
    ("qrels", "qrels: no such folder (expected qrels/<split>.tsv)"),
])
def test_missing_files_are_named(beir, tmp_path, remove, message):
    path = beir / remove
    if path.is_dir():
        for p in path.iterdir():
            p.unlink()
        path.rmdir()
    else:
        path.unlink()
    assert error_of(beir, tmp_path / "out") == f"{beir}/{message}"


def test_train_only_and_no_train(beir, tmp_path):
    (beir / "qrels" / "test.tsv").unlink()
    assert "no evaluation split" in error_of(beir, tmp_path / "out")
    write_beir(tmp_path / "b2")
    (tmp_path / "b2" / "qrels" / "train.tsv").unlink()
    done = import_beir(tmp_path / "b2", tmp_path / "out", "my-task")
    assert load_task(done.path).splits == ("test",) and "no train split" in done.warnings[0]


def test_a_family_that_needs_signals_fails_before_anything_is_written(beir, tmp_path):
    (tmp_path / "suite").mkdir()
    with pytest.raises(TaskImportError, match=r"suite/my-task/queries\.jsonl:\d+: query 'q\d+': context\.time"):
        import_beir(beir, tmp_path / "suite", "my-task", family="usage")
    assert list((tmp_path / "suite").iterdir()) == []  # dest existed before: kept, and empty


def test_reimport_refuses_without_force(beir, tmp_path):
    done = import_beir(beir, tmp_path / "suite", "my-task")
    (done.path / "marker").write_text("old")
    with pytest.raises(TaskImportError, match=r"my-task: already exists \(import with force to replace it\)"):
        import_beir(beir, tmp_path / "suite", "my-task")
    assert (done.path / "marker").exists()
    (beir / "queries.jsonl").write_text((beir / "queries.jsonl").read_text().replace("rain", "snow"))
    import_beir(beir, tmp_path / "suite", "my-task", force=True)
    assert not (done.path / "marker").exists() and load_task(done.path).queries["q0"].text.endswith("snow")
    append(beir / "corpus.jsonl", "{broken\n")
    with pytest.raises(TaskImportError):
        import_beir(beir, tmp_path / "suite", "my-task", force=True)
    assert load_task(done.path).queries["q0"].text.endswith("snow")  # a failed forced import keeps the old task
    assert sorted(p.name for p in (tmp_path / "suite").iterdir()) == ["my-task"]


def complete(task_dir: Path, skip: str = "") -> None:
    text = (task_dir / "task.toml").read_text()
    for field in ("title", "description", "license", "citation"):
        if field != skip:
            text = text.replace(f'\n{field} = ""', f'\n{field} = "some {field}"', 1)
    (task_dir / "task.toml").write_text(text)
    (task_dir / "LICENSE").write_text("CC0, by the test.\n")


def test_official_problems_and_suite_add(beir, tmp_path, capsys):
    done = import_beir(beir, tmp_path / "elsewhere", "my-task")
    toml = done.path / "task.toml"
    assert official_problems(done.path) == [
        f"{toml}: title: empty (fill in: a one-line title)",
        f"{toml}: description: empty (fill in: what makes its queries implicit)",
        f"{toml}: source.license: empty (fill in: the licence)",
        f"{toml}: source.citation: empty (fill in: the source's BibTeX)",
        f"{done.path / 'LICENSE'}: still the import's placeholder (replace it with the source's licence and "
        "attribution)"]
    suite_dir = tmp_path / "my-suite"
    assert main(["suite", "init", str(suite_dir)]) == 0
    assert main(["suite", "init", str(suite_dir)]) == 2
    assert capsys.readouterr().out.splitlines()[-1] == f"error: {suite_dir / 'suite.toml'}: already exists"
    complete(done.path, skip="citation")
    assert main(["task", "check", str(done.path)]) == 2  # edited: checksums no longer match
    assert "--rehash" in capsys.readouterr().out
    assert main(["task", "check", str(done.path), "--rehash"]) == 1
    assert f"{toml}: source.citation: empty" in capsys.readouterr().out
    assert main(["suite", "add", str(suite_dir), str(done.path)]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"error: {toml}: source.citation: empty") and len(out.strip().splitlines()) == 1
    complete(done.path)
    assert main(["task", "check", str(done.path), "--rehash"]) == 0
    assert main(["suite", "add", str(suite_dir), str(done.path)]) == 0  # copied in
    assert add_to_suite(suite_dir, [suite_dir / "my-task"]) == ["my-task"]  # again: not listed twice
    suite = load_suite(suite_dir)
    assert (suite.name, suite.version, suite.task_ids) == ("my-suite", "0.1", ("my-task",))
    assert suite.recorded_sha256 == suite.sha256() and suite.load("my-task").official
    with pytest.raises(TaskError, match="already exists; remove it or add that folder instead"):
        add_to_suite(suite_dir, [done.path])


def test_suite_init_names_the_suite_after_its_folder(tmp_path):
    assert init_suite(tmp_path / "lab-suite") == tmp_path / "lab-suite" / "suite.toml"
    suite = load_suite(tmp_path / "lab-suite")
    assert (suite.name, suite.version, suite.task_ids) == ("lab-suite", "0.1", ())
    with pytest.raises(TaskError, match="the suite is named after its folder"):
        init_suite(tmp_path / "Lab Suite")
    assert not (tmp_path / "Lab Suite").exists()


def test_cli_import_prints_one_error_line(beir, tmp_path, capsys):
    append(beir / "qrels" / "train.tsv", "q6\td99\t1\n")
    assert main(["task", "import", "beir", str(beir), str(tmp_path / "s"), "--id", "my-task"]) == 2
    assert capsys.readouterr().out == (f"error: {beir / 'qrels' / 'train.tsv'}:7: corpus-id: 'd99' is not in "
                                       "corpus.jsonl\n")
    assert main(["task", "import", "beir", str(beir), str(tmp_path / "s"), "--id", "My Task"]) == 2
    assert "task id 'My Task'" in capsys.readouterr().out


GUIDE = REPO / "ADDING_A_TASK.md"


def guide_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.S)


def run_guide(tmp_path: Path, blocks: list[str]) -> None:
    """The blocks as a user runs them, from a folder that looks like the repository root."""
    write_beir(tmp_path / "beir" / "my-task")
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("IQBENCH_TASKS", None)
    for block in blocks:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"


def test_the_guides_card_example_parses():
    example = tomllib.loads(re.search(r"```toml\n(.*?)```", GUIDE.read_text(), re.S).group(1))
    assert example["source"]["license"] and example["source"]["citation"].strip() and example["description"]


def test_the_guides_blocks_up_to_the_suite_run(tmp_path):
    blocks = guide_blocks()
    assert len(blocks) == 4 and "iqbench --tasks my-suite run bm25" in blocks[-1]
    run_guide(tmp_path, blocks[:-1])
    suite = load_suite(tmp_path / "my-suite")
    assert suite.task_ids == ("my-task",) and official_problems(tmp_path / "my-suite" / "my-task") == []
    assert suite.load("my-task").card["source"]["license"] == "CC-BY-4.0"


@pytest.mark.slow
def test_the_whole_guide_runs_and_renders(tmp_path):
    run_guide(tmp_path, guide_blocks())
    assert {p.stem for p in (tmp_path / "my-results" / "my-task" / "test").glob("*.json")} == {
        "none@bm25", "none@minilm-l6-ft"}
    assert "my-task" in (tmp_path / "my-board" / "index.html").read_text()
