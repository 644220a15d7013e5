"""The suite's fine-tuning recipe: how a dense retriever becomes its mandatory fine-tuned reference.

MultipleNegativesRankingLoss over (query, relevant doc, mined hard negative) triplets,
with in-batch negatives; batches never hold the same document twice (a duplicate would
be a false in-batch negative). Fixed seed and step budget, sized for a 2-core CPU.
The fine-tuned model is cached by content hash (base weights, recipe, training data)
and saved as safetensors, never pickled.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from tqdm import tqdm

from benchmark.storage import cache_dir, publish_dir, sha256_json
from benchmark.task import Doc

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

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_RECIPE = FinetuneRecipe()


def mine_triplets(retriever: "DenseRetriever", examples: list[tuple[str, frozenset[str]]],
                  corpus: Mapping[str, Doc], recipe: FinetuneRecipe) -> list[tuple[str, str, str]]:
    """(query, positive text, hard negative text) per relevant doc, negatives from the pretrained ranking."""
    rng = random.Random(recipe.seed)
    retriever.index(corpus)
    run = retriever.search({str(i): q for i, (q, _) in enumerate(examples)}, recipe.hard_negative_depth)
    triplets = []
    for i, (query, relevant) in enumerate(examples):
        negatives = [did for did in run[str(i)] if did not in relevant]
        for pos in sorted(relevant):
            neg = rng.choice(negatives) if negatives else rng.choice([d for d in corpus if d not in relevant])
            triplets.append((query, pos, neg))
    return [(q, corpus[p].full_text, corpus[n].full_text) for q, p, n in triplets]


def batches(triplets: list[tuple[str, str, str]], recipe: FinetuneRecipe, steps: int) -> list[list[int]]:
    """Seeded batches in which no document text appears twice (as positive or negative)."""
    rng = random.Random(recipe.seed)
    out: list[list[int]] = []
    pending: list[int] = []
    while len(out) < steps:
        order = pending + rng.sample(range(len(triplets)), len(triplets))
        pending, batch, seen = [], [], set()
        for i in order:
            _, pos, neg = triplets[i]
            if len(batch) < recipe.batch_size and pos not in seen and neg not in seen and pos != neg:
                batch.append(i)
                seen.update((pos, neg))
                if len(batch) == recipe.batch_size:
                    out.append(batch)
                    batch, seen = [], set()
                    if len(out) == steps:
                        break
            else:
                pending.append(i)
        if batch and len(out) < steps:
            out.append(batch)
    return out


def train(base_folder: Path, triplets: list[tuple[str, str, str]], recipe: FinetuneRecipe, out_dir: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    from benchmark.retrievers.dense import quiet_transformers

    quiet_transformers()

    torch.manual_seed(recipe.seed)
    model = SentenceTransformer(str(base_folder), device="cpu", local_files_only=True)
    model.max_seq_length = recipe.max_seq_length
    loss_fn = MultipleNegativesRankingLoss(model, scale=recipe.scale)
    steps = recipe.steps
    plan = batches(triplets, recipe, steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup_ratio * steps), steps)
    model.train()
    for batch in tqdm(plan, desc="fine-tuning", unit="step", leave=False):
        columns = list(zip(*(triplets[i] for i in batch)))
        features = [model.tokenize(list(col)) for col in columns]
        loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.eval()
    model.save(str(out_dir), safe_serialization=True)


def finetuned_model(retriever: "DenseRetriever", examples: list[tuple[str, frozenset[str]]],
                    corpus: Mapping[str, Doc], recipe: FinetuneRecipe) -> Path:
    """The cached fine-tuned model folder for these inputs, training it only if it is missing."""
    from benchmark.retrievers.dense import model_sha256

    data_sha = sha256_json({"examples": [[q, sorted(r)] for q, r in examples], "corpus": [[d, c.full_text] for d, c in corpus.items()]})
    key = sha256_json({"base": model_sha256(retriever.folder), "recipe": recipe.as_dict(), "data": data_sha})
    final = cache_dir() / "models" / key
    if (final / "model.safetensors").is_file():
        return final
    triplets = mine_triplets(retriever, examples, corpus, recipe)
    (cache_dir() / "models").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir() / "models", prefix=f".{key[:12]}."))
    try:
        train(retriever.folder, triplets, recipe, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish_dir(tmp, final)
    return final


def training_examples(task, split: str = "train") -> list[tuple[str, frozenset[str]]]:
    """(query text, relevant doc ids) for every train query: the only place train data flows."""
    return [(task.queries[qid].text, frozenset(d for d, g in rel.items() if g >= 1))
            for qid, rel in task.qrels[split].items() if any(g >= 1 for g in rel.values())]
