"""Context tuning and the context-aware retriever form, with real MiniLM, BM25 and LightGBM.

The fixture task decides the relevant document by a context signal only: every query types the
same words, and the user's own usage says which of six music apps is theirs. A text-only
retriever ranks every query the same way, so it cannot beat chance; context tuning must.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmark.protocol import expand_all
from benchmark.results import read_result, result_path
from benchmark.retrievers.base import RetrieverInput, TrainingData
from benchmark.retrievers.context_features import FEATURES, QueryChannels, usage_features
from benchmark.retrievers.context_tuning import ContextTuningRetriever, intact, rrf
from benchmark.runner import run_suite
from benchmark.storage import cache_dir
from benchmark.submission import load_submissions
from benchmark.task import Query, load_suite, write_checksums, write_suite
from tests.conftest import REPO, write_task_card

APPS = {
    "tunestream": ("TuneStream", "Stream songs, albums and playlists."),
    "beatbox": ("BeatBox", "Listen to music, albums and playlists anywhere."),
    "soundwave": ("SoundWave", "Play music and discover new artists and songs."),
    "melodia": ("Melodia", "Music streaming with curated playlists."),
    "groovy": ("Groovy", "Your songs and radio stations, on demand."),
    "jukebox": ("Jukebox", "Play any song, album or playlist."),
}
TEXT = "Play some music."


def _usage(rng: random.Random, favourite: str) -> dict:
    """A user's usage log: the favourite app used most, the others now and then."""
    usage = {}
    for app in APPS:
        count = rng.randint(12, 20) if app == favourite else rng.randint(0, 4)
        if count:
            usage[app] = {"count": count, "last_used": f"2025-03-{rng.randint(1, 9):02d}T20:00:00",
                          "dayparts": {"evening": count}, "days": {"weekday": count}, "places": {"home": count}}
    return usage


def build_usage_task(root: Path, n_train: int = 120, n_test: int = 60) -> Path:
    rng = random.Random(7)
    task = root / "usage-only"
    write_task_card(task, "usage-only", "Usage decides", "usage")
    with (task / "corpus.jsonl").open("w") as f:
        for did, (title, text) in APPS.items():
            f.write(json.dumps({"_id": did, "title": title, "text": text}) + "\n")
    with (task / "queries.jsonl").open("w") as f:
        for split, n in (("train", n_train), ("test", n_test)):
            with (task / "qrels" / f"{split}.tsv").open("w") as q:
                q.write("query-id\tcorpus-id\tscore\n")
                for i in range(n):
                    favourite = rng.choice(list(APPS))
                    context = {"time": "2025-03-10T20:30:00", "place": "home", "usage": _usage(rng, favourite)}
                    f.write(json.dumps({"_id": f"{split}{i}", "text": TEXT, "context": context}) + "\n")
                    q.write(f"{split}{i}\t{favourite}\t1\n")
    write_checksums(task)
    write_suite(root, "iqbench-test", "0.0", ["usage-only"])
    return root


@pytest.fixture()
def usage_root(tmp_path: Path) -> Path:
    return build_usage_task(tmp_path / "tasks")


def _submissions(tmp_path: Path, names: tuple[str, ...]) -> list:
    dest = tmp_path / "submissions"
    for name in names:
        shutil.copytree(REPO / "submissions" / name, dest / name)
    return load_submissions(dest)


@pytest.mark.slow
def test_context_tuning_learns_what_only_the_context_says(usage_root, cache, tmp_path):
    suite = load_suite(usage_root)
    subs = _submissions(tmp_path, ("dense-minilm", "context-tuning", "context-tuning-ranker"))
    systems = expand_all(subs)
    assert [s.id for s in systems] == ["none@minilm-l6", "none@minilm-l6-ft", "none@context-tuning",
                                      "none@context-tuning-ft", "none@context-tuning-ranker",
                                      "none@context-tuning-ranker-ft"]
    summary = run_suite(suite, subs, systems, tmp_path / "results", show_progress=False)
    assert not summary.failed, summary.failed

    def ndcg(system: str) -> dict:
        return read_result(result_path(tmp_path / "results", "usage-only", "test", system))

    text_only, tuned = ndcg("none@minilm-l6-ft"), ndcg("none@context-tuning-ft")
    # The text is the same for every query: one ranking for all, so the reference is at chance
    # (a fixed ranking of six apps, each the favourite of about a sixth: MRR about 0.41).
    hits_at_1 = sum(v["recip_rank_10"] == 1.0 for v in text_only["per_query"].values())
    assert hits_at_1 <= 20 and text_only["metrics"]["recip_rank_10"] < 0.6
    # The ranker finds each user's app; fusion with the (uninformative) dense list keeps it in the
    # top two: RRF gives 1/61 + 1/(60 + r) against 1/62 + 1/61 for the dense list's first app.
    assert tuned["metrics"]["recall_3"] > 0.9 and tuned["metrics"]["recip_rank_10"] > 0.7
    assert tuned["system"]["role"] == "submission" and tuned["system"]["reference"] == "none@minilm-l6-ft"
    fp = tuned["system"]["retriever"]["fingerprint"]
    assert fp["ranker_sha256"] in tuned["provenance"]["models"].values()
    # The fine-tuned cell's dense model is the reference's own (same recipe, same train queries).
    assert fp["dense"]["weights_sha256"] == text_only["system"]["retriever"]["fingerprint"]["weights_sha256"]
    # Without the fusion the same ranker's list is the answer: each user's app first. Untrained, the
    # ablation is context tuning's own pipeline, query for query.
    ranker_only = ndcg("none@context-tuning-ranker-ft")
    assert ranker_only["system"]["retriever"]["fingerprint"]["ranker_sha256"] == fp["ranker_sha256"]
    assert ranker_only["metrics"]["recip_rank_10"] > 0.95 > tuned["metrics"]["recip_rank_10"]
    assert ndcg("none@context-tuning-ranker")["per_query"] == ndcg("none@context-tuning")["per_query"]

    # Same command, empty results: identical per-query values (cached ranker, deterministic features).
    again = run_suite(suite, subs, systems, tmp_path / "again", show_progress=False)
    assert not again.failed
    assert read_result(result_path(tmp_path / "again", "usage-only", "test", "none@context-tuning-ft"))["per_query"] \
        == tuned["per_query"]

    # A tampered ranker file in the cache is detected by its hash and retrained, never used.
    [folder] = [p for p in (cache_dir() / "rankers").iterdir() if not p.name.startswith(".")]
    model = folder / "model.txt"
    model.write_text(model.read_text() + "\n")
    assert not intact(folder)
    third = run_suite(suite, subs, [s for s in systems if s.id == "none@context-tuning-ft"], tmp_path / "third",
                      show_progress=False)
    assert not third.failed and intact(folder)
    assert read_result(result_path(tmp_path / "third", "usage-only", "test", "none@context-tuning-ft"))["per_query"] \
        == tuned["per_query"]


def test_usage_features_follow_the_documented_rules():
    context = {"time": "2025-03-15T08:00:00", "place": "work",  # a Saturday morning
               "usage": {"a": {"count": 3, "last_used": "2025-03-14T08:00:00", "dayparts": {"morning": 3},
                               "days": {"weekend": 1, "weekday": 2}, "places": {"work": 1, "home": 2}},
                         "b": {"count": 1, "last_used": "2025-03-05T20:00:00", "dayparts": {"evening": 1},
                               "days": {"weekday": 1}, "places": {"home": 1}}}}
    rows = usage_features(context, ["a", "b", "c"])
    # a: 3 of 4 uses, last one day ago, all in the morning, 1 of 3 on a weekend, 1 of 3 at work;
    # b: last used 9.5 days ago, never in this daypart, kind of day or place.
    np.testing.assert_allclose(rows, [[0.75, 0.5, 1.0, 1 / 3, 1 / 3], [0.25, 1 / 10.5, 0.0, 0.0, 0.0], [0.0] * 5],
                               rtol=1e-6)
    assert usage_features({"usage": "not a mapping"}, ["a"]).tolist() == [[0.0] * 5]
    channels = QueryChannels.of("and there?", {"history": [
        {"role": "user", "text": "weather in Rome", "item": "weather"},
        {"role": "assistant", "text": "Sunny."}], "profile": ["I live in Rome."], "location": "Rome"})
    assert (channels.last_user, channels.last_assistant, channels.items) == ("weather in Rome", "Sunny.", ("weather",))
    assert channels.profile == ("I live in Rome.",) and channels.signals == "location: Rome"
    assert len(FEATURES) == 19


def test_rrf_is_the_published_formula():
    fused = rrf([["a", "b", "c"], ["b", "c"]])
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 63 + 1 / 62})


def test_a_context_aware_retriever_never_sees_the_human_rewrite(tiny_root, cache, tmp_path):
    """The guardrail for the context-aware form: the query it receives has no `explicit`, its
    context is its own copy, and a ranking outside a query's candidates is refused."""
    module = tmp_path / "submissions" / "peek" / "peek.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "SEEN = []\n"
        "class Peek:\n"
        "    name = 'peek'\n"
        "    reads_context = True\n"
        "    def fingerprint(self):\n        return {'name': self.name}\n"
        "    def index(self, corpus):\n        self.ids = list(corpus)\n"
        "    def search_inputs(self, inputs, k):\n"
        "        for qid, inp in inputs.items():\n"
        "            SEEN.append((qid, inp.text, inp.query.explicit, dict(inp.query.context)))\n"
        "        return {qid: {d: 1.0 / (i + 1) for i, d in enumerate(self.ids[:k])} for qid in inputs}\n")
    (module.parent / "submission.toml").write_text(
        '[submission]\nname = "peek"\ntitle = "Peek"\nauthors = ["t"]\n\n[augmenter]\nuse = "context"\n\n'
        '[retriever]\nuse = "peek:Peek"\n')
    subs = load_submissions(tmp_path / "submissions")
    systems = expand_all(subs)
    # Not trainable: its reference is the suite's text-only fine-tuned MiniLM; no -ftA cell.
    assert [s.id for s in systems] == ["none@minilm-l6", "none@minilm-l6-ft", "none@peek-peek",
                                      "peek@minilm-l6-ft", "peek@peek-peek"]
    suite = load_suite(tiny_root)
    summary = run_suite(suite, subs, [s for s in systems if s.id.endswith("@peek-peek")],
                        tmp_path / "results", show_progress=False)
    assert not summary.failed, summary.failed
    import sys
    seen = next(m for name, m in sys.modules.items() if name.endswith("_peek")).SEEN
    task = suite.load("tiny")
    assert {explicit for _, _, explicit, _ in seen} == {None}
    assert all(ctx == dict(task.queries[qid].context) for qid, _, _, ctx in seen)
    texts = {(qid, text) for qid, text, _, _ in seen}
    assert ("te0", "Will it be okay for the picnic?") in texts  # none@peek-peek: the typed text
    assert any(qid == "te0" and "picnic in the park" in text for qid, text in texts)  # peek@peek-peek: augmented


@pytest.mark.slow
@pytest.mark.parametrize("scores,message", [
    ("{'weather': float('nan')}", "scores must be finite numbers"),
    ("{'nowhere': 1.0}", "unknown document ids ['nowhere']"),
    ("1 / 0", "ZeroDivisionError"),
])
def test_a_failing_context_aware_retriever_is_recorded_and_the_others_complete(tiny_root, cache, tmp_path, scores,
                                                                             message):
    folder = tmp_path / "submissions" / "broken"
    folder.mkdir(parents=True)
    (folder / "broken.py").write_text(
        "class Broken:\n    name = 'broken'\n    reads_context = True\n"
        "    def fingerprint(self):\n        return {'name': self.name}\n"
        "    def index(self, corpus):\n        pass\n"
        f"    def search_inputs(self, inputs, k):\n        return {{qid: {scores} for qid in inputs}}\n")
    (folder / "submission.toml").write_text(
        '[submission]\nname = "broken"\ntitle = "Broken"\nauthors = ["t"]\n\n[augmenter]\nuse = "none"\n\n'
        '[retriever]\nuse = "broken:Broken"\n')
    shutil.copytree(REPO / "submissions" / "bm25", tmp_path / "submissions" / "bm25")
    subs = load_submissions(tmp_path / "submissions")
    systems = [s for s in expand_all(subs) if s.id in ("none@broken-broken", "none@bm25")]
    summary = run_suite(load_suite(tiny_root), subs, systems, tmp_path / "results", show_progress=False)
    [failure] = summary.failed
    assert failure.startswith("tiny/test/none@broken-broken:") and message in failure
    assert [p.name for p in summary.written] == ["none@bm25.json"]


def test_ftA_trains_on_the_augmenters_own_inputs(tiny_root, cache, tmp_path, monkeypatch):
    """The -ftA cell fine-tunes on what the augmenter makes of each train query (asserted on
    the texts the recipe receives); the reference fine-tunes on the typed text."""
    from benchmark.retrievers import dense

    subs = _submissions(tmp_path, ("context-minilm",))
    systems = {s.id: s for s in expand_all(subs)}
    suite = load_suite(tiny_root)
    seen: dict[str, list[str]] = {}
    original = dense.DenseRetriever.finetune

    def recording(self, examples, corpus, recipe=None):
        seen[str(len(seen))] = [text for text, _ in examples]
        return original(self, examples, corpus, recipe)

    monkeypatch.setattr(dense.DenseRetriever, "finetune", recording)
    # A train split with context, so that the augmented inputs differ from the typed ones.
    queries = tiny_root / "tiny" / "queries.jsonl"
    rows = [json.loads(line) for line in queries.read_text().splitlines()]
    for row in rows:
        if row["_id"].startswith("tr"):
            row["context"] = {"profile": [f"I am user {row['_id']}."]}
    queries.write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_checksums(tiny_root / "tiny")
    write_suite(tiny_root, "iqbench-test", "0.0", ["tiny"])
    suite = load_suite(tiny_root)
    summary = run_suite(suite, subs, [systems["none@minilm-l6-ft"], systems["context-minilm@minilm-l6-ftA"]],
                        tmp_path / "results", show_progress=False)
    assert not summary.failed, summary.failed
    typed, augmented = seen["0"], seen["1"]
    assert typed[0] == "Should I take an umbrella today?"
    assert augmented[0] == "Should I take an umbrella today?\nUser profile:\n- I am user tr0."
    ftA = read_result(result_path(tmp_path / "results", "tiny", "test", "context-minilm@minilm-l6-ftA"))
    ref = read_result(result_path(tmp_path / "results", "tiny", "test", "none@minilm-l6-ft"))
    assert ftA["system"]["retriever"]["finetuned_on"] == "augmented"
    assert ftA["system"]["retriever"]["fingerprint"]["weights_sha256"] != \
        ref["system"]["retriever"]["fingerprint"]["weights_sha256"]


def test_ftA_is_not_applicable_without_train_inputs(tiny_root, cache, tmp_path):
    """Augmentations shipped for the evaluation split only: the -ftA cell is not applicable
    (no silent fallback to the typed text), and the submission's other cells still run."""
    folder = tmp_path / "submissions" / "shipped"
    folder.mkdir(parents=True)
    task = load_suite(tiny_root).load("tiny")
    (folder / "rows.jsonl").write_text("".join(
        json.dumps({"query_id": q.id, "query": q.text, "text": q.text + " (expanded)"}) + "\n"
        for q in task.split_queries("test")))
    (folder / "submission.toml").write_text(
        '[submission]\nname = "shipped"\ntitle = "Shipped"\nauthors = ["t"]\n\n[augmenter]\nuse = "precomputed"\n'
        'args = { path = "rows.jsonl" }\n\n[retriever]\nuse = "dense"\nargs = { model = "minilm-l6" }\n')
    subs = load_submissions(tmp_path / "submissions")
    systems = [s for s in expand_all(subs) if s.submission == "shipped"]
    assert [s.id for s in systems] == ["shipped@minilm-l6", "shipped@minilm-l6-ft", "shipped@minilm-l6-ftA"]
    summary = run_suite(load_suite(tiny_root), subs, systems, tmp_path / "results", show_progress=False)
    assert not summary.failed and len(summary.written) == 2
    [skipped] = summary.skipped
    assert skipped.startswith("tiny/test/shipped@minilm-l6-ftA: fine-tuning on the augmenter's train-split inputs")
    assert "no augmentation for 14 of 14 queries" in skipped


def test_training_data_carries_queries_without_the_rewrite(tiny_root):
    from benchmark.retrievers.finetune import training_set

    task = load_suite(tiny_root).load("tiny")
    data = training_set(task, lambda qs: [q.text.upper() for q in qs])
    assert isinstance(data, TrainingData) and data.dev == ()
    first, relevant = data.examples[0]
    assert isinstance(first, RetrieverInput) and first.text == "SHOULD I TAKE AN UMBRELLA TODAY?"
    assert first.query.explicit is None and relevant == frozenset({"weather"})
    assert set(data.corpus) <= set(task.corpus)
    assert isinstance(Query("q", "x").visible(), Query)


def test_untrained_pipeline_ranks_every_document_for_a_full_ranking(tiny_root, cache):
    task = load_suite(tiny_root).load("tiny")
    retriever = ContextTuningRetriever()
    retriever.index(task.corpus)
    q = task.queries["te0"].visible()
    full = retriever.search_inputs({"te0": RetrieverInput(q.text, q)}, len(task.corpus))["te0"]
    assert set(full) == set(task.corpus)
    top = retriever.search_inputs({"te0": RetrieverInput(q.text, q)}, 3)["te0"]
    assert len(top) == 3 and set(top) <= set(task.corpus)
