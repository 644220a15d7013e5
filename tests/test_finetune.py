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


def test_a_lora_adapter_learns_is_small_and_retrains_bit_for_bit(tiny_root, cache, tmp_path, monkeypatch):
    """Real peft on the fixture: only adapter weights are saved (safetensors), they change the
    rankings as full fine-tuning does, and training again from scratch gives the same bytes."""
    import dataclasses

    from safetensors.torch import load_file

    from benchmark.retrievers.adapters import ADAPTER_FILE, LoraSpec
    from benchmark.storage import sha256_file

    task = load_suite(tiny_root).load("tiny")
    examples = [(q, frozenset([d])) for q, d in PAIRS.items()]
    recipe = dataclasses.replace(RECIPE, learning_rate=2e-3, adapter=LoraSpec(rank=4, alpha=8))
    assert recipe.as_dict()["adapter"] == {"method": "lora", "rank": 4, "alpha": 8,
                                           "targets": ["query", "key", "value", "dense"]}
    assert "adapter" not in RECIPE.as_dict()  # full fine-tuning keeps the recipe hash it always had
    base = DenseRetriever()
    before = ndcg(base, task)
    tuned = base.finetune(examples, task.corpus, recipe)
    assert sorted(p.name for p in tuned.folder.iterdir()) == ["adapter.json", ADAPTER_FILE]
    weights = load_file(str(tuned.folder / ADAPTER_FILE))
    assert weights and all("lora_" in name for name in weights)
    # Six layers of q, k, v, attention output (384x384) and the two feed-forward projections (384x1536),
    # plus the unused pooler's dense layer (its adapter gets no gradient and stays a no-op).
    assert sum(w.numel() for w in weights.values()) == 6 * (4 * 4 * (384 + 384) + 2 * 4 * (384 + 1536)) + 4 * 768
    assert ndcg(tuned, task) > before + 0.2
    monkeypatch.setenv("IQBENCH_CACHE", str(tmp_path / "other-cache"))
    again = base.finetune(examples, task.corpus, recipe)
    assert again.folder != tuned.folder
    assert sha256_file(again.folder / ADAPTER_FILE) == sha256_file(tuned.folder / ADAPTER_FILE)


def test_activation_checkpointing_saves_memory_not_bits(tiny_root, cache, tmp_path, monkeypatch):
    """The recomputed forward pass runs the same kernels on the same inputs (dropout masks
    replayed): with checkpointing on (the default) or off, training gives the same bytes."""
    from benchmark.storage import sha256_file

    from transformers import PreTrainedModel

    enabled = []
    real = PreTrainedModel.activation_checkpointing_enable

    def spy(model, *args, **kwargs):  # calls through: the real checkpointing runs
        enabled.append(type(model).__name__)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(PreTrainedModel, "activation_checkpointing_enable", spy)
    task = load_suite(tiny_root).load("tiny")
    examples = [(q, frozenset([d])) for q, d in PAIRS.items()]
    assert ft.checkpointing()
    on = DenseRetriever().finetune(examples, task.corpus, RECIPE)
    assert enabled == ["BertModel"]
    monkeypatch.setenv(ft.CHECKPOINTING_ENV, "0")
    monkeypatch.setenv("IQBENCH_CACHE", str(tmp_path / "other-cache"))
    assert not ft.checkpointing()
    off = DenseRetriever().finetune(examples, task.corpus, RECIPE)
    assert enabled == ["BertModel"]
    assert off.folder != on.folder
    assert sha256_file(off.folder / "model.safetensors") == sha256_file(on.folder / "model.safetensors")
