"""Task loading: checksums guard the data; the committed suite loads and is internally consistent."""

import shutil

import pytest

from benchmark.task import TaskError, load_suite, load_task


def test_tiny_task_loads(tiny_root):
    task = load_suite(tiny_root).load("tiny")
    assert task.official and len(task.corpus) == 12 and task.splits == ("test", "train")
    assert [q.id for q in task.split_queries("test")][:2] == ["te0", "te1"]
    assert task.queries["te0"].explicit.startswith("What will the weather")


def test_tampering_is_detected(tiny_root):
    corpus = tiny_root / "tiny" / "corpus.jsonl"
    corpus.write_text(corpus.read_text().replace("Hourly forecasts", "Daily forecasts"))
    with pytest.raises(TaskError, match=r"tiny.*corpus.jsonl was modified"):
        load_task(tiny_root / "tiny")
    task = load_task(tiny_root / "tiny", allow_modified=True)
    assert not task.official


def test_extra_and_missing_files_are_detected(tiny_root):
    (tiny_root / "tiny" / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(TaskError, match=r"qrels/dev.tsv is not listed"):
        load_task(tiny_root / "tiny")
    (tiny_root / "tiny" / "qrels" / "dev.tsv").unlink()
    (tiny_root / "tiny" / "LICENSE").unlink()
    with pytest.raises(TaskError, match="LICENSE is missing"):
        load_task(tiny_root / "tiny")


@pytest.mark.parametrize("line,message", [
    ("te0\tno-such-doc\t1", r"test.tsv:9: document 'no-such-doc' is not in corpus.jsonl"),
    # trec_eval refuses a repeated judgment too; keeping either grade would be a guess
    ("te0\tweather\t2", r"test.tsv:9: query 'te0', document 'weather' already judged on line 2"),
])
def test_malformed_qrels_name_file_and_line(tiny_root, tmp_path, line, message):
    copy = tmp_path / "bad"
    shutil.copytree(tiny_root / "tiny", copy)
    qrels = copy / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + line + "\n")
    with pytest.raises(TaskError, match=message):
        load_task(copy, allow_modified=True)


def test_suite_hash_follows_every_task_file(tiny_root):
    suite = load_suite(tiny_root)  # build_tiny_task wrote suite.toml with write_suite
    assert suite.recorded_sha256 == suite.sha256()
    with (tiny_root / "tiny" / "corpus.jsonl").open("a") as f:
        f.write('{"_id": "extra", "title": "", "text": "x"}\n')
    assert suite.sha256() != suite.recorded_sha256  # a file changed, SHA256SUMS did not
