"""LLM augmenters with the real SmolLM2-135M through llama-cpp, a real OpenAI-compatible server
(llama-cpp-python's) on loopback, shipped completion files, the completion cache, and PRF."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.augment import augment_submission
from benchmark.augmenters import build_augmenter, visible_query
from benchmark.augmenters.base import NotApplicable
from benchmark.augmenters.llm import CoTAugmenter, RewriteAugmenter
from benchmark.augmenters.precomputed import PrecomputedError
from benchmark.augmenters.prf import PRFAugmenter, words
from benchmark.llm.backend import ChatRequest, LLMError
from benchmark.llm.files import task_file
from benchmark.llm.llama_cpp import missing_dependency, model_file
from benchmark.protocol import expand_all
from benchmark.retrievers.bm25 import BM25Retriever
from benchmark.results import read_result, result_path
from benchmark.runner import run_suite, task_view
from benchmark.submission import load_submission
from benchmark.task import Doc, Query, load_suite

MISSING = missing_dependency("smollm2-135m", None)
needs_llm = pytest.mark.skipif(
    MISSING is not None and os.environ.get("IQBENCH_REQUIRE_LLM") != "1",
    reason=f"the [llm] extra is not installed: {MISSING}")

SUBMISSION = """[submission]
name = "{name}"
title = "Test {name}"
authors = ["T. Ester"]

[augmenter]
use = "{use}"
args = {{ {args} }}

[retriever]
use = "bm25"
"""


def write(root: Path, name: str, use: str, args: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "submission.toml").write_text(SUBMISSION.format(name=name, use=use, args=args))
    return folder


def test_llm_dependency_is_present_where_required():
    """CI sets IQBENCH_REQUIRE_LLM=1: there the real model must run, never skip."""
    if os.environ.get("IQBENCH_REQUIRE_LLM") == "1":
        assert MISSING is None, MISSING


# --- the real model through llama-cpp ---------------------------------------------------------


@needs_llm
def test_smollm2_completions_are_real_deterministic_and_counted_by_the_backend(tiny_root, cache):
    from llama_cpp import Llama

    from benchmark.llm.llama_cpp import LlamaCppBackend

    task = load_suite(tiny_root).load("tiny")
    queries = [visible_query(q, False) for q in task.split_queries("test")[:3]]
    aug = CoTAugmenter(max_new_tokens=24)
    aug.prepare(task_view(task))
    out = aug.augment(queries)
    assert aug.live.misses == 3 and aug.live.hits == 0
    requests = aug.requests(queries)
    # The same batch again gives the same completions (a completion depends on its batch mates,
    # so determinism is claimed for the same batch, as `iqbench augment` forms it).
    again = LlamaCppBackend().complete(requests)
    assert [aug.combine(q, c.text.strip()) for q, c in zip(queries, again)] == [a.text for a in out]
    # One at a time, the batched engine is llama-cpp-python's create_chat_completion exactly,
    # and token counts are llama.cpp's own (the prompt's count does not depend on the batch).
    alone = LlamaCppBackend(parallel=1).complete(requests)
    llama = Llama(model_path=str(model_file("smollm2-135m")), n_ctx=4096, seed=0, verbose=False)
    for q, a, single, batched, request in zip(queries, out, alone, again, requests):
        llama.reset()
        direct = llama.create_chat_completion(messages=[{"role": r, "content": c} for r, c in request.messages],
                                              max_tokens=24, temperature=0.0, seed=0)
        assert (single.text, single.prompt_tokens, single.completion_tokens) == (
            direct["choices"][0]["message"]["content"], direct["usage"]["prompt_tokens"],
            direct["usage"]["completion_tokens"])
        assert (a.llm_prompt_tokens, a.llm_completion_tokens) == (batched.prompt_tokens, batched.completion_tokens)
        assert a.llm_prompt_tokens == direct["usage"]["prompt_tokens"]
        assert 0 < a.llm_completion_tokens <= 24
        # the prompt holds the query and (when there is one) its context
        assert q.text in request.messages[1][1]
    assert "picnic" in requests[0].messages[1][1]  # te0's history is in its prompt


@needs_llm
def test_cache_hits_regenerate_nothing_and_a_new_setting_misses(tiny_root, cache):
    task = load_suite(tiny_root).load("tiny")
    queries = task.split_queries("test")[:2]
    first = RewriteAugmenter(max_new_tokens=16)
    first.prepare(task_view(task))
    a = first.augment(queries)
    again = RewriteAugmenter(max_new_tokens=16)  # a new process would see the same: the cache is on disk
    again.prepare(task_view(task))
    assert again.augment(queries) == a
    assert (again.live.hits, again.live.misses) == (2, 0)
    longer = RewriteAugmenter(max_new_tokens=17)
    longer.prepare(task_view(task))
    longer.augment(queries)
    assert (longer.live.hits, longer.live.misses) == (0, 2)
    assert (cache / "llm" / "completions.sqlite3").is_file()


@needs_llm
def test_augment_ships_files_that_a_run_reads_without_generating(tiny_root, tmp_path, cache):
    suite = load_suite(tiny_root)
    folder = write(tmp_path / "subs", "cot-tiny", "llm-cot",
                   'backend = "llama-cpp", max_new_tokens = 16, precomputed_path = "augmentations"')
    [generated] = augment_submission(load_submission(folder), suite, show_progress=False)
    assert (generated.queries, generated.generated, generated.present) == (6, 6, 0)
    path = task_file(folder / "augmentations", "tiny")
    header = json.loads(path.read_text().splitlines()[0])
    assert header["task_sha256"] == suite.load("tiny").sha256 and header["provenance"]["generation_s"] > 0
    [again] = augment_submission(load_submission(folder), suite, show_progress=False)
    assert (again.generated, again.present) == (0, 6)
    # Resuming: a file cut after three queries (as a killed job leaves it) gets only the rest,
    # and the same bytes as before apart from the header's provenance.
    full = path.read_text().splitlines()
    path.write_text("\n".join(full[:4]) + "\n")
    [resumed] = augment_submission(load_submission(folder), suite, show_progress=False)
    assert (resumed.generated, resumed.present) == (3, 3)
    assert path.read_text().splitlines()[1:] == full[1:]
    # A submission reading the same folder with backend = "file" gets the same texts and tokens.
    reader = write(tmp_path / "subs", "cot-file", "llm-cot", 'backend = "file", precomputed_path = "augmentations"')
    (reader / "augmentations").mkdir()
    (reader / "augmentations" / "tiny.jsonl").write_bytes(path.read_bytes())
    results = tmp_path / "results"
    subs = [load_submission(folder), load_submission(reader)]
    systems = [s for s in expand_all(subs) if s.submission and not s.finetuned]  # no fine-tuning needed here
    summary = run_suite(suite, subs, systems, results, show_progress=False)
    assert not summary.failed, summary.failed
    live = read_result(result_path(results, "tiny", "test", "cot-tiny@bm25"))
    shipped = read_result(result_path(results, "tiny", "test", "cot-file@bm25"))
    assert live["per_query"] == shipped["per_query"]
    assert live["cost"]["llm_completion_tokens_mean"] == shipped["cost"]["llm_completion_tokens_mean"] > 0
    rows = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert shipped["cost"]["llm_prompt_tokens_mean"] == pytest.approx(sum(r["llm_prompt_tokens"] for r in rows) / 6)


# --- a real OpenAI-compatible server on loopback --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server with SmolLM2, on loopback, small context window."""
    if MISSING is not None:
        pytest.skip(f"the [llm] extra is not installed: {MISSING}") if os.environ.get(
            "IQBENCH_REQUIRE_LLM") != "1" else pytest.fail(MISSING)
    port = _free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w+")  # a pipe could fill and block it
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model_file("smollm2-135m")),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--seed", "0",
                             "--model_alias", "smollm2"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"the server exited: {log.read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the server did not start in 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_openai_backend_against_a_real_server(server, tiny_root, cache):
    task = load_suite(tiny_root).load("tiny")
    queries = task.split_queries("test")[:3]
    aug = build_augmenter("llm-query2doc", {"backend": "openai", "base_url": server, "model": "smollm2",
                                            "max_new_tokens": 12, "concurrency": 2})
    aug.prepare(task_view(task))
    out = aug.augment(queries)
    assert aug.live.misses == 3
    for q, a in zip(queries, out):
        assert a.text.startswith(q.text) and a.llm_prompt_tokens > 10 and 0 < a.llm_completion_tokens <= 12
    # The server's usage is what the augmentation reports (asked again, straight from the backend).
    direct = aug.live.backend.complete(aug.requests(queries))
    assert [(c.prompt_tokens, c.completion_tokens) for c in direct] == \
        [(a.llm_prompt_tokens, a.llm_completion_tokens) for a in out]


def test_openai_backend_reports_a_refused_request(server):
    from benchmark.llm.openai_compat import OpenAIBackend

    backend = OpenAIBackend(server, "smollm2", retries=0)
    too_long = ChatRequest((("user", "word " * 2000),), 8)  # over the server's 512-token window
    with pytest.raises(LLMError, match=r"HTTP 4\d\d: .*context"):
        backend.complete([too_long])


def test_openai_backend_times_out_and_cannot_connect(server):
    from benchmark.llm.openai_compat import OpenAIBackend

    slow = OpenAIBackend(server, "smollm2", timeout_s=0.05, retries=1)
    with pytest.raises(LLMError, match=r"no answer within 0.05 s \(1 retries\)"):
        slow.complete([ChatRequest((("user", "Write a long story about the sea."),), 400)])
    closed = OpenAIBackend(f"http://127.0.0.1:{_free_port()}/v1", "smollm2", retries=0)
    with pytest.raises(LLMError, match="cannot connect"):
        closed.complete([ChatRequest((("user", "hello"),), 4)])


# --- shipped completion files: every problem names file and line ---------------------------------


def _ship(folder: Path, task, rows: list[dict], header: dict | None = None) -> Path:
    header = header if header is not None else {"format": "iqbench.augmentations/1", "task": task.id,
                                                "task_sha256": task.sha256, "generator": {"by": "hand"}}
    path = task_file(folder / "augmentations", task.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([json.dumps(header)] + [r if isinstance(r, str) else json.dumps(r) for r in rows]) + "\n")
    return path


def _file_augmenter(folder: Path):
    return build_augmenter("llm-hyde-passage", {"backend": "file", "precomputed_path": "augmentations"}, folder)


def test_file_backend_reads_completions_and_their_token_counts(tiny_root, tmp_path):
    task = load_suite(tiny_root).load("tiny")
    queries = task.split_queries("test")
    _ship(tmp_path, task, [{"query_id": q.id, "query": q.text, "text": f"  passage {i}  ", "llm_prompt_tokens": 40 + i,
                            "llm_completion_tokens": i} for i, q in enumerate(queries)])
    aug = _file_augmenter(tmp_path)
    aug.prepare(task_view(task))
    out = aug.augment(queries)
    assert [a.text for a in out] == [f"passage {i}" for i in range(6)]  # one passage replaces the query
    assert [(a.llm_prompt_tokens, a.llm_completion_tokens) for a in out] == [(40 + i, i) for i in range(6)]
    assert aug.fingerprint()["shipped_generator"] == {"by": "hand"}


@pytest.mark.parametrize("rows, header, message", [
    (['{"query_id": "te0", '], None, r"tiny.jsonl:2: not valid JSON"),
    ([{"query_id": "nope", "query": "x", "text": "y"}], None, r"tiny.jsonl:2: unknown query id 'nope'"),
    ([{"query_id": "te0", "query": "Changed?", "text": "y"}], None, r"tiny.jsonl:2: query 'te0' has text 'Changed\?'"),
    ([{"query_id": "te0", "query": "Will it be okay for the picnic?", "text": "y", "llm_prompt_tokens": -1}], None,
     r"tiny.jsonl:2: field 'llm_prompt_tokens' must be a non-negative integer"),
    ([], {"format": "iqbench.augmentations/1", "task": "tiny", "task_sha256": "0" * 64, "generator": {}},
     r"tiny.jsonl:1: made for task sha256 000000000000…, but the task is now"),
    ([], {"format": "something else"}, r"tiny.jsonl:1: expected a header line"),
])
def test_file_backend_rejects_bad_files_naming_file_and_line(tiny_root, tmp_path, rows, header, message):
    task = load_suite(tiny_root).load("tiny")
    _ship(tmp_path, task, rows, header)
    aug = _file_augmenter(tmp_path)
    with pytest.raises(PrecomputedError, match=message):
        aug.prepare(task_view(task))


def test_file_backend_names_missing_queries_and_a_run_reports_them(tiny_root, tmp_path):
    task = load_suite(tiny_root).load("tiny")
    q0 = task.queries["te0"]
    _ship(tmp_path, task, [{"query_id": "te0", "query": q0.text, "text": "sunny"}])
    aug = _file_augmenter(tmp_path)
    aug.prepare(task_view(task))
    with pytest.raises(PrecomputedError, match=r"augmentations/tiny.jsonl has no completion for 5 of 6 queries "
                                               r"\(first: te1, te2"):
        aug.augment(task.split_queries("test"))
    # A generating backend with shipped files never generates during a run: the gap is reported.
    other = tmp_path / "live"
    live = build_augmenter("llm-hyde-passage", {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m",
                                        "precomputed_path": "augmentations"}, other)
    _ship(other, task, [{"query_id": "te0", "query": q0.text, "text": "sunny"}],
          {"format": "iqbench.augmentations/1", "task": "tiny", "task_sha256": task.sha256,
           "generator": live.generator})
    live.prepare(task_view(task))
    with pytest.raises(NotApplicable, match=r"no completion for 5 of 6 queries: run `iqbench augment`"):
        live.augment(task.split_queries("test"))


def test_shipped_files_from_another_generator_are_refused(tiny_root, tmp_path):
    task = load_suite(tiny_root).load("tiny")
    _ship(tmp_path, task, [])  # generator {"by": "hand"} is not what this manifest describes
    aug = build_augmenter("llm-cot", {"backend": "llama-cpp", "precomputed_path": "augmentations"}, tmp_path)
    with pytest.raises(PrecomputedError, match=r"tiny.jsonl:1: made by a different generator"):
        aug.prepare(task_view(task))


def test_bad_llm_arguments_are_clear(tmp_path):
    from benchmark.plugins import PluginError

    with pytest.raises(PluginError, match="backend 'gpt'"):
        build_augmenter("llm-cot", {"backend": "gpt"})
    with pytest.raises(PluginError, match="backend 'file' needs precomputed_path"):
        build_augmenter("llm-cot", {"backend": "file"})
    with pytest.raises(PluginError, match="paths must stay inside"):
        build_augmenter("llm-cot", {"backend": "file", "precomputed_path": "../elsewhere"}, tmp_path)
    with pytest.raises(PluginError, match="unknown local model 'gpt-5'"):
        build_augmenter("llm-cot", {"model": "gpt-5"})


# --- pseudo-relevance feedback ---------------------------------------------------------------------


def test_prf_terms_follow_rm3_weights_by_hand():
    corpus = {"d1": Doc("Apple banana", "banana bread banana"), "d2": Doc("Apple", "cherry pie"),
              "d3": Doc("Grape", "grape juice")}
    prf = PRFAugmenter(fb_docs=2, fb_terms=3)
    from benchmark.augmenters.base import TaskView
    prf.prepare(TaskView("t", "0", corpus, {"q": "apple"}))
    bm25 = BM25Retriever()
    bm25.index(corpus)
    scores = bm25.search({"q": "apple"}, 2)["q"]
    assert set(scores) == {"d1", "d2"}
    s1, s2 = scores["d1"] / sum(scores.values()), scores["d2"] / sum(scores.values())
    # d1 words: apple banana banana bread banana (5); d2: apple cherry pie (3); "apple" is the query's own.
    expected = {"banana": 3 / 5 * s1, "bread": 1 / 5 * s1, "cherry": 1 / 3 * s2, "pie": 1 / 3 * s2}
    top = sorted(expected, key=lambda w: (-expected[w], w))[:3]
    [a] = prf.augment([Query("q", "apple")])
    assert a.text == "apple " + " ".join(top)
    assert a.llm_prompt_tokens == a.llm_completion_tokens == 0
    assert words("The 2 U.S. state-of-the-art APIs") == ["state-of-the-art", "apis"]


def test_prf_takes_feedback_from_candidates_only():
    corpus = {f"d{i}": Doc("", text) for i, text in enumerate(
        ["coffee espresso beans", "coffee latte milk", "coffee tea kettle", "tea green leaves"])}
    prf = PRFAugmenter(fb_docs=5, fb_terms=10)
    from benchmark.augmenters.base import TaskView
    prf.prepare(TaskView("t", "0", corpus, {"q": "coffee"}))
    [a] = prf.augment([Query("q", "coffee", candidates=("d1", "d3"))])
    assert set(a.text.split()[1:]) == {"latte", "milk"}  # d3 has no query term: BM25 gives it no feedback weight
