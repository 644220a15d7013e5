"""The suite's fine-tuning recipe: how a dense retriever becomes its mandatory fine-tuned reference.

MultipleNegativesRankingLoss over (query, relevant doc, mined hard negative) triplets,
with in-batch negatives; a batch never repeats a query or a document, nor holds a document
relevant to another of its queries (that would be a false in-batch negative). Only documents
judged in the train split take part. Fixed seed and step budget, sized for a 2-core CPU.
The fine-tuned model is cached by content hash (base weights, recipe, training data) and
saved as safetensors, never pickled.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from tqdm import tqdm

from benchmark import device
from benchmark.augmenters.base import NotApplicable
from benchmark.memory import release_memory
from benchmark.retrievers.adapters import ADAPTER_FILE, LoraSpec, apply_lora, save_adapter
from benchmark.retrievers.base import RetrieverInput, TrainingData
from benchmark.storage import cache_dir, publish_dir, sha256_json
from benchmark.task import Doc, Query

if TYPE_CHECKING:
    from benchmark.retrievers.dense import DenseRetriever


@dataclass(frozen=True)
class FinetuneRecipe:
    """Part of the suite: changing any field changes every fine-tuned reference."""

    steps: int = 100
    """Optimizer steps: a fixed budget whatever the train split's size (small splits are cycled)."""
    batch_size: int = 32
    """Queries per batch; each brings its positive and one hard negative (3 x batch texts)."""
    max_seq_length: int = 64
    """Word pieces per text while training (inference keeps the retriever's own length, 256)."""
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    hard_negative_depth: int = 30
    """Hard negatives are drawn from the pretrained model's top ranks below this depth, excluding relevant docs."""
    scale: float = 20.0
    """MultipleNegativesRankingLoss temperature (similarity x scale)."""
    seed: int = 0
    version: int = 2
    """Batching and negative-sampling rules (2: no repeated query, no false in-batch negatives, train docs only)."""
    adapter: LoraSpec | None = None
    """None: every weight trains (full fine-tuning); else only a LoRA adapter of this shape."""

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("adapter")
        if self.adapter is not None:  # full fine-tuning keeps the hash it always had
            out["adapter"] = {"method": "lora", **self.adapter.as_dict()}
        return out


DEFAULT_RECIPE = FinetuneRecipe()

CHECKPOINTING_ENV = "IQBENCH_TRAIN_CHECKPOINTING"
"""Set to 0 to keep every activation during training: about 40% faster steps on a CPU, about 1 GB
more peak memory on the suite's longest documents. Weights are the same bit for bit either way
(the recomputed forward pass runs the same kernels on the same inputs, dropout masks replayed),
so the setting is not part of the recipe or of any cache key."""


def checkpointing() -> bool:
    """Activation (gradient) checkpointing while training; on unless the environment says 0."""
    return os.environ.get(CHECKPOINTING_ENV, "1").strip() != "0"


@dataclass(frozen=True)
class Triplet:
    query: str
    positive: str
    negative: str
    relevant: frozenset[str]
    """Every document relevant to this query: none of them may serve as an in-batch negative for it."""


def mine_triplets(retriever: "DenseRetriever", examples: list[tuple[str, frozenset[str]]],
                  corpus: Mapping[str, Doc], recipe: FinetuneRecipe) -> list[Triplet]:
    """One triplet per relevant doc; its hard negative comes from the pretrained ranking of `corpus`."""
    rng = random.Random(recipe.seed)
    retriever.index(corpus)
    run = retriever.search({str(i): q for i, (q, _) in enumerate(examples)}, recipe.hard_negative_depth)
    triplets = []
    for i, (query, relevant) in enumerate(examples):
        negatives = [did for did in run[str(i)] if did not in relevant] or [d for d in corpus if d not in relevant]
        if not negatives:
            raise ValueError("fine-tuning needs at least one non-relevant training document per query")
        triplets += [Triplet(query, pos, rng.choice(negatives), relevant) for pos in sorted(relevant)]
    return triplets


def _fits(batch: list[Triplet], row: Triplet) -> bool:
    """No repeated query or document, and no document in the batch relevant to another of its queries."""
    docs = {d for t in batch for d in (t.positive, t.negative)}
    relevant = set().union(*(t.relevant for t in batch)) if batch else set()
    return (all(t.query != row.query for t in batch) and not {row.positive, row.negative} & docs
            and not {row.positive, row.negative} & relevant and not row.relevant & docs)


def batches(triplets: list[Triplet], recipe: FinetuneRecipe, steps: int) -> list[list[int]]:
    """Seeded batches free of false in-batch negatives. A row that does not fit waits for the next
    batch; a batch that no remaining row can join is used as it is (small train splits)."""
    if not triplets:
        raise ValueError("no training pairs: the train split has no relevant documents")
    rng = random.Random(recipe.seed)
    out: list[list[int]] = []
    pending: list[int] = []
    batch: list[int] = []
    while len(out) < steps:
        grew = False
        order = list(dict.fromkeys(pending + rng.sample(range(len(triplets)), len(triplets))))
        pending = []
        for i in order:
            if len(out) == steps:
                break
            if _fits([triplets[j] for j in batch], triplets[i]):
                batch.append(i)
                grew = True
                if len(batch) == recipe.batch_size:
                    out.append(batch)
                    batch = []
            else:
                pending.append(i)
        if not grew and batch:
            out.append(batch)
            batch = []
    return out


def train(base_folder: Path, triplets: list[Triplet], corpus: Mapping[str, Doc], recipe: FinetuneRecipe,
          out_dir: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    from benchmark.retrievers.dense import quiet_transformers

    quiet_transformers()

    torch.manual_seed(recipe.seed)
    model = SentenceTransformer(str(base_folder), device=device.current(), local_files_only=True)
    model.max_seq_length = recipe.max_seq_length
    encoder = model[0].auto_model
    if checkpointing() and encoder.supports_gradient_checkpointing:
        encoder.activation_checkpointing_enable({"use_reentrant": False})
    if recipe.adapter is not None:
        apply_lora(model, recipe.adapter)
    params = [p for p in model.parameters() if p.requires_grad]
    loss_fn = MultipleNegativesRankingLoss(model, scale=recipe.scale)
    plan = batches(triplets, recipe, recipe.steps)
    optimizer = torch.optim.AdamW(params, lr=recipe.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup_ratio * recipe.steps), recipe.steps)
    model.train()
    for batch in tqdm(plan, desc="fine-tuning", unit="step", leave=False, disable=None):  # no bar in logs
        rows = [triplets[i] for i in batch]
        columns = ([t.query for t in rows], [corpus[t.positive].full_text for t in rows],
                   [corpus[t.negative].full_text for t in rows])
        features = [model.preprocess(col) for col in columns]  # what the deprecated tokenize() calls
        loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.eval()
    if encoder.is_activation_checkpointing:
        encoder.activation_checkpointing_disable()
    if recipe.adapter is not None:
        save_adapter(model, recipe.adapter, out_dir)
    else:
        model.save(str(out_dir), safe_serialization=True)


def finetuned_model(retriever: "DenseRetriever", examples: list[tuple[str, frozenset[str]]],
                    corpus: Mapping[str, Doc], recipe: FinetuneRecipe) -> Path:
    """The cached fine-tuned model folder for these inputs, training it only if it is missing."""
    from benchmark.retrievers.dense import model_sha256

    data_sha = sha256_json({"examples": [[q, sorted(r)] for q, r in examples],
                            "corpus": [[d, c.full_text] for d, c in corpus.items()]})
    key_parts = {"base": model_sha256(retriever.folder), "mining_seq_length": retriever.max_seq_length,
                 "recipe": recipe.as_dict(), "data": data_sha}
    if device.current() != "cpu":  # trained elsewhere, other weights: cached apart from the CPU's
        key_parts["device"] = device.current()
    key = sha256_json(key_parts)
    final = cache_dir() / "models" / key
    if (final / "model.safetensors").is_file() or (final / ADAPTER_FILE).is_file():
        return final
    triplets = mine_triplets(retriever, examples, corpus, recipe)
    (cache_dir() / "models").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir() / "models", prefix=f".{key[:12]}."))
    try:
        train(retriever.folder, triplets, corpus, recipe, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        release_memory()  # the optimizer state and activations, before the new model encodes
    publish_dir(tmp, final)
    return final


def _judged(task, split: str, query_ids: list[str] | None = None,
            ) -> tuple[list[tuple[str, frozenset[str]]], set[str]]:
    """(query id, relevant doc ids) per query of the split with a relevant document, in qrels
    order, and every document judged for the chosen queries (`query_ids`: only those)."""
    if split not in task.qrels:  # e.g. an imported task without a train split: the fine-tuned rows do not exist
        raise NotApplicable(f"task {task.id!r} has no {split} split to fine-tune on (qrels/{split}.tsv)")
    qrels = task.qrels[split]
    chosen = {q: qrels[q] for q in query_ids} if query_ids is not None else qrels
    relevant = [(qid, frozenset(d for d, g in rel.items() if g >= 1)) for qid, rel in chosen.items()]
    return [(qid, rel) for qid, rel in relevant if rel], {d for rel in chosen.values() for d in rel}


def training_data(task, split: str = "train", query_ids: list[str] | None = None,
                  ) -> tuple[list[tuple[str, frozenset[str]]], dict[str, Doc]]:
    """(query text, relevant doc ids) per train query, and the documents judged in train
    (`query_ids`: only those queries of the split, e.g. to hold some out).

    The only place train data flows (with `training_set`, which selects the same queries and
    documents). Fine-tuning sees no other document, not even as a negative, so items relevant
    only to held-out queries (test_ood) stay unseen.
    """
    rows, judged = _judged(task, split, query_ids)
    return [(task.queries[qid].text, rel) for qid, rel in rows], {d: doc for d, doc in task.corpus.items()
                                                                   if d in judged}


def training_set(task, texts_for: Callable[[list[Query]], list[str]], with_dev: bool = False,
                 query_ids: list[str] | None = None) -> TrainingData:
    """The train split as fine-tuning reads it, each query's text made by `texts_for` (the
    reference: the typed text; the -ftA cell: the augmenter's output), over the same queries
    and documents as `training_data`; with `with_dev`, the dev split too (for early stopping);
    with `query_ids`, only those train queries and the documents judged for them (a label-budget
    subset). Queries are seen as an augmenter sees them: never the human rewrite."""

    def part(split: str) -> tuple[tuple[tuple[RetrieverInput, frozenset[str]], ...], set[str]]:
        rows, judged = _judged(task, split, query_ids if split == "train" else None)
        queries = [task.queries[qid].visible() for qid, _ in rows]
        inputs = [RetrieverInput(text, q) for q, text in zip(queries, texts_for(queries), strict=True)]
        return tuple(zip(inputs, (rel for _, rel in rows))), judged

    examples, train_docs = part("train")
    dev, dev_docs = part("dev") if with_dev and "dev" in task.qrels else ((), set())
    corpus = {d: doc for d, doc in task.corpus.items() if d in train_docs}
    dev_corpus = {d: doc for d, doc in task.corpus.items() if d in train_docs | dev_docs} if dev else None
    return TrainingData(examples, corpus, dev, dev_corpus)
