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


def test_batches_never_repeat_a_document():
    triplets = [(f"q{i}", f"doc{i % 3}", f"neg{i % 4}") for i in range(12)]
    recipe = ft.FinetuneRecipe(batch_size=4, seed=1)
    plan = ft.batches(triplets, recipe, steps=6)
    assert len(plan) == 6
    for batch in plan:
        texts = [t for i in batch for t in triplets[i][1:]]
        assert len(texts) == len(set(texts))
    assert plan == ft.batches(triplets, recipe, steps=6)  # seeded


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
