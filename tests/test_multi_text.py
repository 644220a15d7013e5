"""Multi-text augmentations (HyDE's mean of embeddings), sampled completions, llm-cot-prf's
feedback prompt and the second local model (Gemma 3 270M), with the real MiniLM and llama.cpp."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from benchmark.augment import augment_submission
from benchmark.augmenters import build_augmenter, visible_query
from benchmark.augmenters.llm import CoTPRFAugmenter, HyDEAugmenter
from benchmark.llm.backend import ChatRequest, LLMError
from benchmark.llm.files import read_completions, task_file
from benchmark.llm.llama_cpp import MODELS, LlamaCppBackend, LocalModel, missing_dependency, model_file
from benchmark.metrics import aggregate, evaluate, ranked
from benchmark.storage import sha256_file as model_sha
from benchmark.protocol import expand_all
from benchmark.results import read_result, result_path
from benchmark.retrievers.base import MEAN_EMBEDDING, search
from benchmark.retrievers.bm25 import BM25Retriever
from benchmark.retrievers.dense import DenseRetriever, load_model, resolve_model
from benchmark.runner import run_suite, task_view
from benchmark.submission import load_submission, load_submissions
from benchmark.task import load_suite
from benchmark.tokens import added_tokens, count_tokens
from test_llm import needs_llm, write

GEMMA_MISSING = missing_dependency("gemma3-270m", None)
needs_gemma = pytest.mark.skipif(
    GEMMA_MISSING is not None and os.environ.get("IQBENCH_REQUIRE_LLM") != "1",
    reason=f"Gemma 3 270M is not installed: {GEMMA_MISSING}")

# A plug-in augmenter that hands the query and two fixed texts, combined by their mean embedding.
THREE_TEXTS = """
from benchmark.augmenters.base import Augmentation

class ThreeTexts:
    name = "three-texts"
    oracle = False
    text_combination = "mean-embedding"

    def fingerprint(self):
        return {"name": self.name}

    def augment(self, queries):
        return [Augmentation(q.text, 7, 3, (q.text, "rain and wind forecast", "a quiet song"))
                for q in queries]
"""


def test_mean_embedding_is_the_mean_of_the_normalised_embeddings(tiny_root):
    """By hand: each text encoded alone with the real MiniLM, normalised, averaged; every
    document's score is the mean of its cosines to the texts."""
    task = load_suite(tiny_root).load("tiny")
    dense = DenseRetriever()
    dense.index(task.corpus)
    texts = ("Will it be okay for the picnic?", "Rain is expected on Saturday afternoon.", "Bring a jacket.")
    run = dense.search_combined({"q": texts}, MEAN_EMBEDDING, len(task.corpus))["q"]
    model = load_model(resolve_model("minilm-l6"), 256, resolve_model("minilm-l6"), "cpu")
    alone = np.stack([model.encode([t], normalize_embeddings=True)[0] for t in texts]).astype(np.float64)
    assert np.allclose(np.linalg.norm(alone, axis=1), 1.0, atol=1e-6)
    docs = model.encode([d.full_text for d in task.corpus.values()], normalize_embeddings=True).astype(np.float64)
    by_hand = {d: float(np.mean(docs[i] @ alone.T)) for i, d in enumerate(task.corpus)}
    assert set(run) == set(by_hand)
    assert all(abs(run[d] - by_hand[d]) < 1e-5 for d in run)
    assert ranked(run)[:3] == ranked(by_hand)[:3]
    # One text is the plain search; the query alone ranks otherwise than the mean.
    plain = dense.search({"q": texts[0]}, len(task.corpus))["q"]
    single = dense.search_combined({"q": texts[:1]}, MEAN_EMBEDDING, len(task.corpus))["q"]
    assert all(abs(plain[d] - single[d]) < 1e-6 for d in plain)
    with pytest.raises(ValueError, match="combines texts by 'mean-embedding', not 'max'"):
        dense.search_combined({"q": texts}, "max", 3)


def test_token_cost_counts_every_text():
    texts = ("what to wear", "It will rain in the afternoon.", "Take an umbrella and a coat.")
    assert added_tokens("what to wear", texts) == count_tokens(texts[1]) + count_tokens(texts[2])
    assert added_tokens("what to wear", "what to wear") == 0


def test_a_run_averages_for_dense_and_refuses_one_text_retrievers_naming_the_augmenter(tiny_root, tmp_path):
    subs = tmp_path / "subs"
    for name, retriever in (("three-dense", 'use = "dense"\nargs = { model = "minilm-l6" }'),
                            ("three-bm25", 'use = "bm25"')):
        folder = subs / name
        folder.mkdir(parents=True)
        (folder / "three.py").write_text(THREE_TEXTS)
        (folder / "submission.toml").write_text(
            f'[submission]\nname = "{name}"\ntitle = "Three texts"\nauthors = ["T. Ester"]\n\n'
            f'[augmenter]\nuse = "three:ThreeTexts"\n\n[retriever]\n{retriever}\n')
    suite = load_suite(tiny_root)
    submissions = load_submissions(subs)
    summary = run_suite(suite, submissions, expand_all(submissions), tmp_path / "results", show_progress=False)
    assert not summary.failed, summary.failed
    rec = read_result(result_path(tmp_path / "results", "tiny", "test", "three-dense@minilm-l6"))
    queries = suite.load("tiny").split_queries("test")
    extra = count_tokens("rain and wind forecast") + count_tokens("a quiet song")
    assert rec["cost"]["added_tokens_mean"] == pytest.approx(extra)
    assert (rec["cost"]["llm_prompt_tokens_mean"], rec["cost"]["llm_completion_tokens_mean"]) == (7, 3)
    # The same run computed by hand: each query's three texts, averaged by the real MiniLM.
    dense = DenseRetriever()
    dense.index(suite.load("tiny").corpus)
    by_hand = search(dense, {q.id: (q.text, "rain and wind forecast", "a quiet song") for q in queries}, queries,
                     100, len(dense._ids), MEAN_EMBEDDING)
    assert rec["metrics"]["ndcg_cut_10"] == aggregate(evaluate(suite.load("tiny").qrels["test"], by_hand))["ndcg_cut_10"]
    skipped = "\n".join(summary.skipped)
    assert ("tiny/test/three-bm25@bm25: augmenter 'three:ThreeTexts' hands several texts per query, combined by "
            "'mean-embedding'; retriever 'bm25' takes one text") in skipped
    assert ("tiny/test/three-dense@minilm-l6-ftA: augmenter 'three:ThreeTexts' hands several texts per query; "
            "the fine-tuning recipe trains on one text per query") in skipped


def test_default_requests_keep_their_cache_keys():
    """Sampling is per request; a greedy request's dict (the cache key's part) is what it always was."""
    request = ChatRequest((("user", "hi"),), 8)
    assert request.as_dict() == {"messages": [["user", "hi"]], "max_tokens": 8, "temperature": 0.0, "seed": 0}
    with pytest.raises(LLMError, match="several completions need a temperature above 0"):
        HyDEAugmenter(samples=3, temperature=0)
    with pytest.raises(LLMError, match="samples 16: expected an integer from 1 to 15"):
        HyDEAugmenter(samples=16)


def test_cot_prf_prompt_holds_the_top_bm25_documents_of_what_the_user_typed(tiny_root):
    task = load_suite(tiny_root).load("tiny")
    aug = CoTPRFAugmenter(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", fb_docs=2, doc_chars=30)
    aug.prepare(task_view(task))
    queries = [visible_query(q, False) for q in task.split_queries("test")]
    requests = aug.requests(queries)
    bm25 = BM25Retriever()
    bm25.index(task.corpus)
    run = search(bm25, {q.id: q.text for q in queries}, queries, 2, len(task.corpus))
    for q, request in zip(queries, requests):
        prompt = request.messages[1][1]
        top = ranked(run[q.id])[:2]
        expected = "\n".join(" ".join(task.corpus[d].full_text.split())[:30] for d in top)
        assert f"Context: {expected}\nQuery: {q.text}\nGive the rationale before answering" in prompt
    assert requests[0].messages[1][1].startswith("Conversation:\nEarlier turns (most recent first):\nuser: We are")
    assert aug.generator["feedback"] == {"first_stage": BM25Retriever().fingerprint(), "docs": 2, "doc_chars": 30}


@needs_llm
def test_hyde_samples_are_seeded_summed_and_shipped_row_by_row(tiny_root, tmp_path, cache):
    suite = load_suite(tiny_root)
    task = suite.load("tiny")
    folder = write(tmp_path / "subs", "hyde-tiny", "llm-hyde",
                   'backend = "llama-cpp", max_new_tokens = 12, samples = 2, precomputed_path = "augmentations"')
    [generated] = augment_submission(load_submission(folder), suite, show_progress=False)
    assert generated.generated == 6
    path = task_file(folder / "augmentations", "tiny")
    rows = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert [(r["query_id"], r.get("sample", 0)) for r in rows] == [(q.id, j) for q in sorted(
        task.split_queries("test"), key=lambda q: q.id) for j in (0, 1)]
    shipped = read_completions(path, "tiny", task.sha256, {q.id: q.text for q in task.queries.values()})
    # A fresh backend, no cache: the same requests in the same batch give the same samples.
    live = HyDEAugmenter(samples=2, max_new_tokens=12)
    live.prepare(task_view(task))
    queries = [visible_query(q, False) for q in task.split_queries("test")]
    again = LlamaCppBackend().complete(live.requests(queries))
    assert [c.text for c in again] == [shipped.get(q, j).text for q in queries for j in (0, 1)]
    assert any(shipped.get(q, 0).text != shipped.get(q, 1).text for q in queries)  # sampled, not greedy
    # A run reads the file: the query and its non-empty documents, tokens summed over the samples.
    reader = build_augmenter("llm-hyde", {"backend": "llama-cpp", "max_new_tokens": 12, "samples": 2,
                                          "precomputed_path": "augmentations"}, folder)
    reader.prepare(task_view(task))
    for q, a in zip(queries, reader.augment(queries)):
        drawn = [shipped.get(q, j) for j in (0, 1)]
        assert a.texts == (q.text, *(c.text.strip() for c in drawn if c.text.strip()))
        assert a.llm_completion_tokens == sum(c.completion_tokens for c in drawn)
        assert a.llm_prompt_tokens == 2 * drawn[0].prompt_tokens
    assert reader.live.misses == 0


@needs_gemma
def test_gemma_base_model_runs_on_llama_cpp_with_a_plain_text_prompt(tiny_root, cache):
    task = load_suite(tiny_root).load("tiny")
    queries = [visible_query(q, False) for q in task.split_queries("test")[:2]]
    aug = build_augmenter("llm-query2doc", {"model": "gemma3-270m", "max_new_tokens": 16})
    aug.prepare(task_view(task))
    out = aug.augment(queries)
    assert all(a.text.startswith(q.text + "\n") and 0 < a.llm_completion_tokens <= 16 for q, a in zip(queries, out))
    assert len({a.text for a in out}) == 2
    engine = aug.live.backend._load()
    request = aug.requests(queries)[0]
    prompt = engine.llama.detokenize(engine.prompt_tokens(request), special=True).decode()
    assert prompt == "<bos>" + request.messages[1][1].strip() + "\n"  # no turn markers, no system message
    assert out[0].llm_prompt_tokens == len(engine.prompt_tokens(request))
    assert aug.generator["backend"]["gguf_sha256"] == MODELS["gemma3-270m"].sha256 == model_sha(model_file("gemma3-270m"))
    assert "chat_template_sha256" in aug.generator["backend"]
    # Greedy and deterministic: a fresh backend gives the same completions for the same batch.
    again = LlamaCppBackend(model="gemma3-270m").complete(aug.requests(queries))
    assert [q.text + "\n" + c.text.strip() for q, c in zip(queries, again)] == [a.text for a in out]


def test_a_missing_chunk_package_or_a_wrong_assembly_is_a_one_line_error(monkeypatch, cache):
    monkeypatch.setitem(MODELS, "two-parts", LocalModel(
        (("benchmark", "augmenters/prompts/cot.toml"), ("iqbench_no_such_chunk_part2", "data/x.part01")),
        "x.gguf", "0" * 64, "pip install no-such-chunk"))
    with pytest.raises(LLMError, match=r"^model 'two-parts' needs the package iqbench-no-such-chunk-part2: "
                                       r"pip install no-such-chunk$"):
        model_file("two-parts")
    assert missing_dependency("two-parts", None).startswith("the model package iqbench-no-such-chunk-part2")
    monkeypatch.setitem(MODELS, "two-parts", LocalModel(
        (("benchmark", "augmenters/prompts/cot.toml"), ("benchmark", "augmenters/prompts/hyde.toml")),
        "x.gguf", "0" * 64, "pip install no-such-chunk"))
    with pytest.raises(LLMError, match=r"the file assembled from benchmark, benchmark does not have the pinned "
                                       r"sha256 000000000000…"):
        model_file("two-parts")
    assert not list((cache / "llm" / "models").iterdir())  # nothing half-made is left behind
