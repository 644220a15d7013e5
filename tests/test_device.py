"""--device: auto falls back to the CPU, cuda without a GPU is a one-line error, results record
their device, and verify compares results of two devices within the documented tolerance."""

from __future__ import annotations

import copy
import shutil

import pytest
import torch

from benchmark import device
from benchmark.cli import main
from benchmark.results import read_result, result_path
from benchmark.verify import _compare

from conftest import REPO

NO_GPU = not torch.cuda.is_available()


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present")
def test_auto_is_the_cpu_and_cuda_is_refused_without_a_gpu(tiny_root, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("IQBENCH_DEVICE", raising=False)
    assert device.resolve("auto") == "cpu" and device.current() == "cpu"
    subs = tmp_path / "submissions"
    shutil.copytree(REPO / "submissions" / "bm25", subs / "bm25")
    args = ["--tasks", str(tiny_root), "run", "--results", str(tmp_path / "results"), "--submissions", str(subs),
            "--only", "none@bm25", "--quiet", "--no-table"]
    assert main([*args, "--device", "cuda"]) == 2
    out = capsys.readouterr().out.strip()
    assert out.startswith("error: --device cuda: no CUDA GPU is available here") and "\n" not in out
    assert not (tmp_path / "results").exists()
    assert main([*args, "--device", "auto"]) == 0
    rec = read_result(result_path(tmp_path / "results", "tiny", "test", "none@bm25"))
    assert rec["provenance"]["device"] == "cpu"


def test_verify_compares_results_of_two_devices_within_the_tolerance(tiny_root, tmp_path):
    subs = tmp_path / "submissions"
    shutil.copytree(REPO / "submissions" / "bm25", subs / "bm25")
    assert main(["--tasks", str(tiny_root), "run", "--results", str(tmp_path / "r"), "--submissions", str(subs),
                 "--only", "none@bm25", "--quiet", "--no-table"]) == 0
    cpu = read_result(result_path(tmp_path / "r", "tiny", "test", "none@bm25"))
    gpu = copy.deepcopy(cpu)
    gpu["provenance"]["device"] = "cuda"
    gpu["per_query"]["te0"]["ndcg_cut_10"] = 0.0  # a swapped near-tie: not compared across devices
    gpu["metrics"]["ndcg_cut_10"] += device.CROSS_DEVICE_TOLERANCE / 2
    assert _compare("tiny/test/none@bm25", cpu, gpu, 0.0) == []
    gpu["metrics"]["ndcg_cut_10"] += device.CROSS_DEVICE_TOLERANCE
    assert [d.what for d in _compare("tiny/test/none@bm25", cpu, gpu, 0.0)] == ["ndcg_cut_10"]
    same_device = copy.deepcopy(cpu)
    same_device["per_query"]["te0"]["ndcg_cut_10"] = 0.5
    assert [d.what for d in _compare("x", cpu, same_device, 0.0)] == ["per_query[te0].ndcg_cut_10"]
