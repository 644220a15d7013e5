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


def test_malformed_qrels_name_file_and_line(tiny_root, tmp_path):
    copy = tmp_path / "bad"
    shutil.copytree(tiny_root / "tiny", copy)
    qrels = copy / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + "te0\tno-such-doc\t1\n")
    with pytest.raises(TaskError, match=r"test.tsv:\d+: document 'no-such-doc' is not in corpus.jsonl"):
        load_task(copy, allow_modified=True)


@pytest.fixture(scope="module")
def suite():
    return load_suite()


@pytest.mark.parametrize("task_id", ["metatool", "ikat-passages"])
def test_committed_tasks_verify(suite, task_id):
    task = suite.load(task_id)
    assert task.official
    for name in ("id", "title", "description", "family", "source", "splits", "main_metric"):
        assert name in task.card, name
    assert "@" in task.card["source"]["citation"] and task.card["source"]["license"]
    for split, count in task.card["splits"].items():
        assert len(task.qrels[split]) == count
    for split in task.eval_splits:
        assert len(task.qrels[split]) <= 1000


def test_metatool_splits(suite):
    task = suite.load("metatool")
    texts = {split: {task.queries[q].text.casefold() for q in task.qrels[split]} for split in task.splits}
    for a in texts:
        for b in texts:
            if a < b:
                assert not texts[a] & texts[b], (a, b)
    seen = {d for split in ("train", "dev") for rel in task.qrels[split].values() for d in rel}
    ood = {d for rel in task.qrels["test_ood"].values() for d in rel}
    assert ood and not ood & seen
    assert 0.15 <= len(ood) / len(task.corpus) <= 0.25
    assert not any(t.startswith(("sure", "certainly")) for ts in texts.values() for t in ts)


def test_ikat_queries_carry_context_and_rewrite(suite):
    task = suite.load("ikat-passages")
    first, later = task.queries["9-1_1"], task.queries["9-1_3"]
    assert first.context["profile"] and first.context["history"] == []
    assert len(later.context["history"]) == 4  # two earlier turns, user and assistant each
    assert all(q.explicit for q in task.queries.values())
