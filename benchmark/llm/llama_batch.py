"""Batched decoding on llama.cpp's low-level API (several sequences per llama_decode).

Greedy by default; a request with a temperature above 0 draws each token from the softmax of
logits / temperature with its own generator seeded by the request's seed (inverse CDF over the
vocabulary in float64), so a sampled completion is as reproducible as a greedy one.

The prompt is the GGUF's own chat template, tokenized exactly as llama-cpp-python's
create_chat_completion does; generation stops at an end-of-generation token or max_tokens.
Token counts are the prompt's and the completion's token lists (the end token not counted,
as llama-cpp-python counts them).
"""

from __future__ import annotations

import numpy as np
import llama_cpp as L
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from benchmark.llm.backend import ChatRequest, Completion, LLMError

MAX_BATCH_TOKENS = 2048


class BatchedDecoder:
    def __init__(self, path, threads: int, context_tokens: int, parallel: int, seed: int,
                 chat_template: str | None = None) -> None:
        # The high-level object gives the model, its tokenizer and chat template; decoding runs
        # in a context of our own with one KV sequence per parallel request.
        self.llama = Llama(model_path=str(path), n_ctx=256, n_batch=256, n_threads=threads, seed=seed,
                           verbose=False)
        self.vocab = L.llama_model_get_vocab(self.llama._model.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        template = self.llama.metadata.get("tokenizer.chat_template") or chat_template
        if not template:
            raise LLMError(f"{path}: the GGUF carries no chat template and none was given")
        eos, bos = self.llama.token_eos(), self.llama.token_bos()
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=self.llama._model.token_get_text(eos),
                                             bos_token=self.llama._model.token_get_text(bos), stop_token_ids=[eos])
        params = L.llama_context_default_params()
        params.n_ctx = context_tokens * parallel
        params.n_batch = MAX_BATCH_TOKENS
        params.n_ubatch = 512
        params.n_seq_max = parallel
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = False  # a KV stream per sequence: attention reads only its own cells
        params.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as llama-cpp-python's Llama
        self.context_tokens, self.parallel = context_tokens, parallel
        self.ctx = L.llama_init_from_model(self.llama._model.model, params)
        if not self.ctx:
            raise LLMError("llama.cpp could not create a context")
        self.memory = L.llama_get_memory(self.ctx)
        self.batch = L.llama_batch_init(MAX_BATCH_TOKENS, 0, 1)

    def close(self) -> None:
        if self.ctx:
            L.llama_batch_free(self.batch)
            L.llama_free(self.ctx)
            self.ctx = None

    def __del__(self) -> None:
        self.close()

    def prompt_tokens(self, request: ChatRequest) -> list[int]:
        formatted = self.formatter(messages=[{"role": r, "content": c} for r, c in request.messages])
        return self.llama.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special,
                                   special=True)

    def _decode(self, items: list[tuple[int, int, int, bool]], pick) -> dict[int, int]:
        """Decode (seq, pos, token, wants_next) items; the next token of each wanting sequence,
        chosen by `pick(seq, logits)`."""
        chosen: dict[int, int] = {}
        for start in range(0, len(items), MAX_BATCH_TOKENS):
            chunk = items[start:start + MAX_BATCH_TOKENS]
            b = self.batch
            b.n_tokens = len(chunk)
            for i, (seq, pos, token, wants) in enumerate(chunk):
                b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, wants
                b.seq_id[i][0] = seq
            status = L.llama_decode(self.ctx, b)
            if status != 0:
                raise LLMError(f"llama_decode failed with status {status}")
            for i, (seq, _, _, wants) in enumerate(chunk):
                if wants:
                    logits = np.ctypeslib.as_array(L.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,))
                    chosen[seq] = pick(seq, logits)
        return chosen

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        if len(requests) > self.parallel:
            raise LLMError(f"at most {self.parallel} requests per batch")
        prompts = [self.prompt_tokens(r) for r in requests]
        for p, r in zip(prompts, requests):
            if len(p) + r.max_tokens > self.context_tokens:
                raise LLMError(f"a prompt of {len(p)} tokens plus max_tokens {r.max_tokens} exceeds the "
                               f"context window of {self.context_tokens} tokens")
        L.llama_memory_clear(self.memory, True)
        generated: list[list[int]] = [[] for _ in requests]
        rngs = [np.random.default_rng(r.seed) if r.temperature > 0 else None for r in requests]

        def pick(seq: int, logits: np.ndarray) -> int:
            if rngs[seq] is None:
                return int(np.argmax(logits))  # greedy; the first of equal maxima
            scaled = logits.astype(np.float64) / requests[seq].temperature
            cdf = np.cumsum(np.exp(scaled - scaled.max()))
            return int(min(np.searchsorted(cdf, rngs[seq].random() * cdf[-1], side="right"), len(cdf) - 1))

        items = [(s, pos, tok, pos == len(p) - 1) for s, p in enumerate(prompts) for pos, tok in enumerate(p)]
        while items:
            step = []
            for seq, token in sorted(self._decode(items, pick).items()):
                if L.llama_vocab_is_eog(self.vocab, token):
                    continue
                generated[seq].append(token)
                if len(generated[seq]) < requests[seq].max_tokens:
                    step.append((seq, len(prompts[seq]) + len(generated[seq]) - 1, token, True))
            items = step
        return [Completion(self.llama.detokenize(g).decode("utf-8", errors="ignore"), len(p), len(g))
                for p, g in zip(prompts, generated)]
