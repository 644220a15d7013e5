"""Local LLM throughput: a local model through llama-cpp, one request at a time (llama-cpp-python's
create_chat_completion; for a model whose prompt format iqbench supplies, the backend with
parallel=1) against the batched backend, on real dev queries of the suite.

    .venv/bin/python bench/llm_throughput.py [--model smollm2-135m|gemma3-270m] [--queries 32] [--max-new-tokens 48]

Prints completion tokens/s, queries/s, the batched/sequential ratio, and how many completions
are the same (a batch can flip a near-tie greedy token: see LlamaCppBackend). Needs the
[llm] extra (`make setup-llm`).
"""

from __future__ import annotations

import argparse
import time

from benchmark.augmenters import build_augmenter, visible_query
from benchmark.llm.llama_cpp import MODELS, LlamaCppBackend, model_file
from benchmark.runner import task_view
from benchmark.task import load_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--model", default="smollm2-135m", choices=sorted(MODELS))
    args = parser.parse_args()
    from llama_cpp import Llama

    task = load_suite().load("metatool")
    queries = [visible_query(q, False) for q in task.split_queries("dev")[:args.queries]]
    aug = build_augmenter("llm-query2doc", {"model": args.model, "max_new_tokens": args.max_new_tokens})
    aug.prepare(task_view(task))
    requests = aug.requests(queries)

    start, sequential = time.perf_counter(), []
    if MODELS[args.model].chat_template is None:  # the GGUF's own template: llama-cpp-python's path
        llama = Llama(model_path=str(model_file(args.model)), n_ctx=2048, seed=0, verbose=False)
        start = time.perf_counter()
        for r in requests:
            llama.reset()
            out = llama.create_chat_completion(messages=[{"role": a, "content": b} for a, b in r.messages],
                                               max_tokens=r.max_tokens, temperature=0.0, seed=0)
            sequential.append((out["choices"][0]["message"]["content"], out["usage"]["completion_tokens"]))
    else:
        alone = LlamaCppBackend(args.model, parallel=1)
        alone.complete(requests[:1])
        start = time.perf_counter()
        sequential = [(c.text, c.completion_tokens) for c in alone.complete(requests)]
    seq_s = time.perf_counter() - start

    backend = LlamaCppBackend(args.model, parallel=args.parallel)
    backend.complete(requests[:1])  # load the model outside the timing, as above
    start = time.perf_counter()
    batched = backend.complete(requests)
    bat_s = time.perf_counter() - start

    tokens = sum(n for _, n in sequential)
    print(f"{args.model}: {len(requests)} metatool dev queries, max {args.max_new_tokens} new tokens, {tokens} completion tokens")
    print(f"one at a time : {tokens / seq_s:6.1f} tokens/s  {len(requests) / seq_s:5.2f} queries/s")
    print(f"batched ({args.parallel:>2})  : {sum(c.completion_tokens for c in batched) / bat_s:6.1f} tokens/s  "
          f"{len(requests) / bat_s:5.2f} queries/s   ratio {seq_s / bat_s:.2f}x")
    same = sum(c.text == t for c, (t, _) in zip(batched, sequential))
    print(f"identical completions: {same} of {len(requests)}")


if __name__ == "__main__":
    main()
