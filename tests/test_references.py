"""The fine-tuned reference as a verifiable artifact: `verify` scores with the cached model,
`verify --retrain` re-derives it from the recipe and compares it weight by weight."""

import shutil

import numpy as np
from safetensors.numpy import load_file, save_file

from benchmark import verify as verify_module
from benchmark.retrievers import finetune as ft
from benchmark.protocol import expand_all
from benchmark.results import read_result, result_path
from benchmark.runner import run_suite
from benchmark.submission import load_submissions
from benchmark.task import load_suite
from benchmark.verify import ModelCheck, verify
from tests.conftest import REPO


def test_retrain_reproduces_the_reference_bit_for_bit_and_fills_an_empty_cache(tiny_root, cache, tmp_path,
                                                                              monkeypatch):
    suite = load_suite(tiny_root)
    subs = load_submissions(REPO / "submissions", ["dense-minilm"])
    systems = [s for s in expand_all(subs) if s.id == "none@minilm-l6-ft"]
    run_suite(suite, subs, systems, tmp_path / "results", show_progress=False)
    committed = read_result(result_path(tmp_path / "results", "tiny", "test", "none@minilm-l6-ft"))
    sha = committed["system"]["retriever"]["fingerprint"]["weights_sha256"]

    fresh_cache = tmp_path / "fresh-cache"  # a clone on another day: the reference is not cached
    monkeypatch.setenv("IQBENCH_CACHE", str(fresh_cache))
    checked, differences, summary, models = verify(tmp_path / "results", suite, subs, systems, retrain=True)
    assert (checked, differences, summary.failed) == (1, [], [])  # per-query values reproduced exactly
    assert models == [ModelCheck("tiny", sha, sha, 0.0, 0)]
    kept = [p for p in (fresh_cache / "models").iterdir() if not p.name.startswith(".")]
    assert [p.name for p in kept] == [p.name for p in (cache / "models").iterdir() if not p.name.startswith(".")]

    def no_training(*args, **kwargs):
        raise AssertionError("verify without --retrain must use the cached reference")

    monkeypatch.setattr(ft, "train", no_training)
    checked, differences, summary, models = verify(tmp_path / "results", suite, subs, systems)
    assert (checked, differences, summary.failed, models) == (1, [], [], [])


def test_weight_difference_names_the_tensors_that_moved(tmp_path):
    from benchmark.retrievers.dense import resolve_model

    base = resolve_model("minilm-l6")
    weights = load_file(base / "model.safetensors")
    name = sorted(weights)[3]
    moved = dict(weights)
    moved[name] = weights[name] + np.float32(0.25)
    (tmp_path / "moved").mkdir()
    save_file(moved, tmp_path / "moved" / "model.safetensors")
    shutil.copy(base / "model.safetensors", tmp_path / "same.safetensors")
    assert verify_module._weight_difference(base, tmp_path / "moved") == (0.25, 1)
    assert verify_module._weight_difference(base, base) == (0.0, 0)
