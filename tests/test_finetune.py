"""The fine-tuning recipe on a tiny training set: it changes the model, learns the pairs, and is cached."""

import pytest

from benchmark.metrics import aggregate, evaluate
from benchmark.retrievers import finetune as ft
from benchmark.retrievers.dense import DenseRetriever, model_sha256
from benchmark.task import load_suite

# An arbitrary query -> tool mapping the pretrained model cannot guess; fine-tuning must learn it.
PAIRS = {
    "Should I take an umbrella today?": "music",
    "I need to get to Berlin next week as cheaply as possible.": "recipes",
    "What can I make with eggs and spinach?": "maps",
    "How is my Apple position doing?": "fitness",
    "I'm looking for a new position as a nurse.": "weather",
    "Anything good to watch tonight?": "stocks",
}
RECIPE = ft.FinetuneRecipe(steps=20, batch_size=6, max_seq_length=32,
                           learning_rate=2e-4, hard_negative_depth=5)


def ndcg(retriever, task):
    retriever.index(task.corpus)
    queries = {str(i): q for i, q in enumerate(PAIRS)}
    qrels = {str(i): {d: 1} for i, d in enumerate(PAIRS.values())}
    return aggregate(evaluate(qrels, retriever.search(queries, 10)))["ndcg_cut_10"]


def test_batches_hold_no_false_negatives():
    # q0..q3 share docs and each query has two relevant docs: rows of one query never share a batch,
    # and no document in a batch is relevant to another query in it.
    triplets = [ft.Triplet(f"q{i % 4}", f"doc{i % 6}", f"neg{i % 5}", frozenset({f"doc{i % 6}", f"doc{(i + 1) % 6}"}))
                for i in range(12)]
    recipe = ft.FinetuneRecipe(batch_size=3, seed=1)
    plan = ft.batches(triplets, recipe, steps=8)
    assert len(plan) == 8
    for batch in plan:
        rows = [triplets[i] for i in batch]
        assert len({t.query for t in rows}) == len(rows)
        docs = [d for t in rows for d in (t.positive, t.negative)]
        assert len(docs) == len(set(docs))
        for t in rows:
            others = {d for o in rows if o is not t for d in (o.positive, o.negative)}
            assert not t.relevant & others
    assert plan == ft.batches(triplets, recipe, steps=8)  # seeded
    with pytest.raises(ValueError, match="no training pairs"):
        ft.batches([], recipe, steps=1)


def test_finetuning_learns_and_is_cached(tiny_root, cache, monkeypatch):
    task = load_suite(tiny_root).load("tiny")
    examples = [(q, frozenset([d])) for q, d in PAIRS.items()]
    base = DenseRetriever()
    before = ndcg(base, task)
    tuned = base.finetune(examples, task.corpus, RECIPE)
    assert tuned.name == "minilm-l6-ft" and tuned.folder.parent == cache / "models"
    assert model_sha256(tuned.folder) != model_sha256(base.folder)
    assert list(tuned.folder.glob("*.pkl")) == [] and (tuned.folder / "model.safetensors").is_file()
    after = ndcg(tuned, task)
    assert after > before + 0.2, (before, after)

    def no_training(*args, **kwargs):
        raise AssertionError("the cached model should have been reused")

    monkeypatch.setattr(ft, "train", no_training)
    again = base.finetune(examples, task.corpus, RECIPE)
    assert again.folder == tuned.folder
    with pytest.raises(AssertionError, match="cached model"):
        base.finetune(examples[:-1], task.corpus, RECIPE)  # other data: a different model, so training runs
