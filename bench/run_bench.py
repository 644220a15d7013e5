"""`make bench`: suite timings (cold, warm, no-op) and the harness's overhead over a hand-written script.

cold   : empty cache, empty results: fine-tuning, corpus encoding and every evaluation.
warm   : cached models and embeddings, empty results: what re-scoring costs.
no-op  : every result present: what the main command costs on a fresh clone.
overhead: the dense pretrained system on one task split through `iqbench run` versus
          bench/minimal_dense.py (same libraries, no harness), each a fresh process.
new submission: with --new-submission, a new LLM-free submission (a copy of context-minilm
          under another name) run over the whole suite beside the committed results, with an
          empty cache: what a researcher's first run costs.
Peak resident memory: of each measured command's process (ru_maxrss, through a small wrapper).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IQBENCH = [sys.executable, "-m", "benchmark"]


PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)")
"""Runs a command and reports its peak resident set (KiB on Linux) on stderr's last line."""


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    seconds, out, _ = measured(cmd, env)
    return seconds, out


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    """(seconds, stdout, peak resident GiB) of one command in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *cmd], env=env, cwd=REPO, check=True,
                          capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout, int(done.stderr.strip().splitlines()[-1]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="metatool", help="task for the overhead comparison")
    parser.add_argument("--split", default="test")
    parser.add_argument("--skip-suite", action="store_true", help="only the overhead comparison")
    parser.add_argument("--new-submission", action="store_true",
                        help="also time a new LLM-free submission's first run over the suite (empty cache)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="iqbench-bench-"))
    env = {**os.environ, "IQBENCH_CACHE": str(tmp / "cache")}
    run = [*IQBENCH, "run", "--quiet", "--no-table"]
    report = {}

    if not args.skip_suite:
        report["suite_cold_s"], _, report["suite_cold_peak_rss_gb"] = measured(
            [*run, "--results", str(tmp / "r-cold")], env)
        report["suite_warm_s"], _ = timed([*run, "--results", str(tmp / "r-warm")], env)
        report["suite_noop_s"], _ = timed([*run, "--results", str(tmp / "r-warm")], env)

    if args.new_submission:
        subs = tmp / "submissions"
        shutil.copytree(REPO / "submissions", subs)
        manifest = (subs / "context-minilm" / "submission.toml").read_text()
        (subs / "my-method").mkdir()
        (subs / "my-method" / "submission.toml").write_text(manifest.replace('"context-minilm"', '"my-method"'))
        shutil.copytree(REPO / "results", tmp / "r-new")
        env_n = {**os.environ, "IQBENCH_CACHE": str(tmp / "cache-new")}
        report["new_submission_first_run_s"], _, report["new_submission_peak_rss_gb"] = measured(
            [*run, "my-method", "--submissions", str(subs), "--results", str(tmp / "r-new")], env_n)

    env_o = {**os.environ, "IQBENCH_CACHE": str(tmp / "cache-overhead")}
    harness_s, _ = timed([*run, "dense-minilm", "--only", "none@minilm-l6", "--task", args.task,
                          "--split", args.split, "--results", str(tmp / "r-overhead")], env_o)
    minimal_s, out = timed([sys.executable, "bench/minimal_dense.py", str(REPO / "tasks" / args.task), args.split], env_o)
    rec = json.loads((tmp / "r-overhead" / args.task / args.split / "none@minilm-l6.json").read_text())
    report.update({
        "overhead_on": f"{args.task}/{args.split}, none@minilm-l6, cold cache, fresh processes",
        "harness_s": harness_s,
        "minimal_script_s": minimal_s,
        "overhead_ratio": harness_s / minimal_s,
        "ndcg_cut_10_harness": rec["metrics"]["ndcg_cut_10"],
        "ndcg_cut_10_minimal": json.loads(out)["ndcg_cut_10"],
    })
    width = max(map(len, report))
    for key, value in report.items():
        shown = value if key.startswith("ndcg") or not isinstance(value, float) else f"{value:.3f}"
        print(f"{key:<{width}}  {shown}")


if __name__ == "__main__":
    main()
