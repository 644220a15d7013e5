"""The submission path: the guide's example end to end, plugins, strict manifests, guardrails,
timeouts, failure isolation and kill-and-resume, on the tiny task with the real components."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.augmenters import build_augmenter
from benchmark.augmenters.precomputed import PrecomputedError, parse_line
from benchmark.cite import submission_bibtex, suite_bibtex
from benchmark.guardrails import GuardrailError, check_run
from benchmark.plugins import PluginError, resolve
from benchmark.protocol import expand_all
from benchmark.results import read_result, result_path
from benchmark.runner import run_suite
from benchmark.submission import SubmissionError, load_submission, load_submissions
from benchmark.task import Doc, Query, load_suite
from benchmark.validate import validate
from benchmark.verify import verify
from conftest import REPO


def write_submission(root: Path, name: str, augmenter: str, retriever: str = 'use = "bm25"',
                     code: str | None = None, module: str = "plugin") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "submission.toml").write_text(
        f'[submission]\nname = "{name}"\ntitle = "Test {name}"\nauthors = ["T. Ester"]\n\n'
        f"[augmenter]\n{augmenter}\n\n[retriever]\n{retriever}\n")
    if code:
        (folder / f"{module}.py").write_text(code)
    return folder


def guide_blocks() -> tuple[str, str]:
    text = (REPO / "SUBMITTING.md").read_text()
    python = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    manifest = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    return python, manifest


def test_the_guides_example_validates_and_runs_end_to_end(tiny_root, tmp_path):
    python, manifest = guide_blocks()
    assert len(python.strip().splitlines()) <= 25  # "a 20-line example augmenter"
    folder = tmp_path / "submissions" / "last-turn"
    folder.mkdir(parents=True)
    (folder / "last_turn.py").write_text(python)
    (folder / "submission.toml").write_text(manifest)
    suite = load_suite(tiny_root)
    assert validate(folder, suite) == []
    subs = load_submissions(tmp_path / "submissions")
    summary = run_suite(suite, subs, expand_all(subs), tmp_path / "results", show_progress=False)
    assert not summary.failed and len(summary.written) == 5  # baseline, reference, A@R, A@R-ft, A@R-ftA
    rec = read_result(result_path(tmp_path / "results", "tiny", "test", "last-turn@minilm-l6"))
    assert rec["system"]["role"] == "submission" and rec["cost"]["added_tokens_mean"] > 0


def test_entry_point_plugin_from_an_installed_distribution(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "iqbench_echo_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "iqbench_echo_plugin.py").write_text(
        "from benchmark.augmenters.base import Augmentation\n"
        "class Echo:\n    name = 'echo'\n    oracle = False\n"
        "    def fingerprint(self):\n        return {'name': 'echo'}\n"
        "    def augment(self, queries):\n        return [Augmentation(q.text + ' ' + q.text) for q in queries]\n")
    info = site / "iqbench_echo_plugin-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iqbench-echo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[iqbench.augmenters]\necho = iqbench_echo_plugin:Echo\n")
    monkeypatch.syspath_prepend(str(site))
    assert resolve("augmenter", "echo").__name__ == "Echo"
    assert build_augmenter("echo").augment([Query("q", "hi")])[0].text == "hi hi"


def test_metadata_is_validated(tmp_path):
    cases = {
        'trained_on_test = "no"': "metadata.trained_on_test: Input should be a valid boolean",
        "llm_parameters = 135000000": "metadata: Value error, llm_parameters needs llm",
        'weights = "closed"': "metadata.weights: Input should be 'open' or 'api'",
        "open_weights = true": "metadata.open_weights: unknown field",
        "retriever_parameters = -1": "metadata.retriever_parameters: Input should be greater than or equal to 0",
    }
    for n, (line, message) in enumerate(cases.items()):
        folder = write_submission(tmp_path, f"meta-{n}", f'use = "context"\n\n[metadata]\n{line}')
        with pytest.raises(SubmissionError) as e:
            load_submission(folder)
        assert e.value.problems[0].startswith(f"{folder / 'submission.toml'}: {message}"), e.value.problems
    folder = write_submission(tmp_path, "meta-ok", 'use = "context"\n\n[metadata]\nllm = "SmolLM2"\n'
                              "llm_parameters = 134515008\ntrained_on_test = false")
    meta = load_submission(folder).manifest.metadata
    assert meta.declared_clean and meta.llm_parameters == 134515008
    assert not load_submission(write_submission(tmp_path, "meta-none", 'use = "context"')).manifest.metadata.declared_clean


def test_unknown_names_get_a_did_you_mean():
    with pytest.raises(PluginError, match=r"unknown augmenter 'contxt'; did you mean 'context'\?"):
        build_augmenter("contxt")
    with pytest.raises(PluginError, match=r"cannot import module 'no_such_module'"):
        build_augmenter("no_such_module:Thing")


def test_manifest_errors_name_file_field_and_expectation(tmp_path):
    folder = write_submission(tmp_path, "bad-one", 'use = "context"\nargz = {}')
    with pytest.raises(SubmissionError) as e:
        load_submission(folder)
    assert e.value.problems == [f"{folder / 'submission.toml'}: augmenter.argz: unknown field; did you mean "
                                "'augmenter.args'? (allowed here: use, args)"]
    folder = write_submission(tmp_path, "Bad_Name", 'use = "context"')
    with pytest.raises(SubmissionError, match=r"submission\.name: String should match pattern"):
        load_submission(folder)


def test_paths_must_stay_inside_the_submission(tmp_path, tiny_root):
    folder = write_submission(tmp_path, "escape", 'use = "precomputed"\nargs = { path = "../../etc/passwd" }')
    [problem] = validate(folder, load_suite(tiny_root))
    assert "argument 'path' = '../../etc/passwd': paths must stay inside the submission folder" in problem


def test_validate_reports_every_problem_at_once(tmp_path, tiny_root):
    folder = write_submission(tmp_path, "broken", 'use = "plugin:Missing"', retriever='use = "dnse"',
                              code="class Other:\n    pass\n")
    problems = validate(folder, load_suite(tiny_root))
    assert len(problems) == 2
    assert "module 'plugin' has no attribute 'Missing'" in problems[0]
    assert "unknown retriever 'dnse'; did you mean 'dense'?" in problems[1]


def test_precomputed_file_is_checked_against_the_suite(tmp_path, tiny_root):
    suite = load_suite(tiny_root)
    task = suite.load("tiny")
    rows = [{"query_id": q.id, "query": q.text, "text": q.text + " expanded", "llm_prompt_tokens": 10,
             "llm_completion_tokens": 5} for q in task.split_queries("test")[:-1]]
    rows.append({"query_id": "te0", "query": "a different text", "text": "x"})
    folder = write_submission(tmp_path, "pre", 'use = "precomputed"\nargs = { path = "aug.jsonl" }')
    (folder / "aug.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = validate(folder, suite)
    assert problems == ["aug.jsonl: tiny/test: no augmentation for 1 of 6 queries (first: te5)",
                        "aug.jsonl: 1 rows match no evaluation query of the suite (id and query text must both "
                        "match; first: te0)"]


def test_guardrails_on_retriever_output():
    corpus = {"a": Doc("", "x"), "b": Doc("", "y")}
    queries = [Query("q", "t", candidates=("a",))]
    for run, message in (({"q": {"zzz": 1.0}}, "unknown document ids"), ({"q": {"a": float("nan")}}, "finite"),
                         ({"other": {}}, "unknown query ids"), ({"q": {"a": 1.0, "b": 0.5}}, "outside its candidates")):
        with pytest.raises(GuardrailError, match=message):
            check_run(run, queries, corpus, 10, "plugin:R")


BAD_AUGMENTERS = {
    "short": "return [Augmentation(q.text) for q in queries][:-1]",
    "huge": "return [Augmentation('x' * 50001) for q in queries]",
    "raises": "raise RuntimeError('the LLM server is down')",
    "hangs": "time.sleep(120)",
}


def plugin_code(body: str) -> str:
    return ("import time\nfrom benchmark.augmenters.base import Augmentation\n"
            "class Aug:\n    name = 'aug'\n    oracle = False\n"
            "    def fingerprint(self):\n        return {'name': 'aug'}\n"
            f"    def augment(self, queries):\n        {body}\n")


def test_failing_submissions_do_not_take_the_others_down(tiny_root, tmp_path):
    subs_dir = tmp_path / "submissions"
    for name, body in BAD_AUGMENTERS.items():
        write_submission(subs_dir, name, 'use = "plugin:Aug"', code=plugin_code(body))
    write_submission(subs_dir, "ok", 'use = "context"')
    subs = load_submissions(subs_dir)
    summary = run_suite(load_suite(tiny_root), subs, expand_all(subs), tmp_path / "results", show_progress=False,
                        timeout_s=2.0)
    failed = "\n".join(summary.failed)
    assert len(summary.failed) == 8  # each bad augmenter's two rows
    assert "must return a list of 6 Augmentations, got 5" in failed
    assert "50,001 characters of text; at most 50,000" in failed
    assert "RuntimeError: the LLM server is down" in failed
    assert "augmenter 'plugin:Aug' still running after 2 s (the time limit); abandoned" in failed
    assert {p.stem for p in summary.written} == {"none@bm25", "none@minilm-l6-ft", "ok@bm25", "ok@minilm-l6-ft"}
    assert summary.log_path.is_file() and "Traceback" in summary.log_path.read_text()


def test_cli_exit_status_and_summary_name_the_failure(tiny_root, tmp_path, capsys):
    from benchmark.cli import main

    write_submission(tmp_path / "submissions", "raises", 'use = "plugin:Aug"', code=plugin_code(BAD_AUGMENTERS["raises"]))
    code = main(["--tasks", str(tiny_root), "run", "--results", str(tmp_path / "results"), "--submissions",
                 str(tmp_path / "submissions"), "--quiet", "--no-table", "--only", "raises@bm25"])
    out = capsys.readouterr().out
    assert code == 1 and "FAILED tiny/test/raises@bm25: RuntimeError: the LLM server is down" in out
    assert "Tracebacks: " in out


def test_killed_run_resumes_to_the_same_results(tiny_root, tmp_path):
    subs_dir = tmp_path / "submissions"
    write_submission(subs_dir, "slow", 'use = "plugin:Aug"',
                     code=plugin_code("time.sleep(3); return [Augmentation(q.text + ' please') for q in queries]"))
    command = [sys.executable, "-m", "benchmark", "--tasks", str(tiny_root), "run", "--submissions", str(subs_dir),
               "--quiet", "--no-table", "--results"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(command + [str(tmp_path / "killed")], env=env, cwd=REPO)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "killed").glob("*/*/*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    interrupted = {p.name for p in (tmp_path / "killed").glob("*/*/*.json")}
    assert 1 <= len(interrupted) < 4  # killed midway, with finished results on disk
    assert not list((tmp_path / "killed").glob("**/.*.tmp*"))  # no half-written file is left as a result
    subprocess.run(command + [str(tmp_path / "killed")], env=env, cwd=REPO, check=True)
    subprocess.run(command + [str(tmp_path / "clean")], env=env, cwd=REPO, check=True)
    for path in sorted((tmp_path / "clean").glob("*/*/*.json")):
        resumed = read_result(tmp_path / "killed" / path.relative_to(tmp_path / "clean"))
        clean = read_result(path)
        assert resumed["per_query"] == clean["per_query"] and resumed["metrics"] == clean["metrics"]
    assert len(list((tmp_path / "killed").glob("*/*/*.json"))) == 4


def test_verify_recomputes_and_reports_differences(tiny_root, tmp_path):
    suite = load_suite(tiny_root)
    subs = load_submissions(REPO / "submissions", ["bm25"])
    systems = [s for s in expand_all(subs) if s.id == "none@bm25"]
    run_suite(suite, subs, systems, tmp_path / "results", show_progress=False)
    assert verify(tmp_path / "results", suite, subs, systems)[:2] == (1, [])
    path = result_path(tmp_path / "results", "tiny", "test", "none@bm25")
    rec = json.loads(path.read_text())
    rec["per_query"]["te0"]["ndcg_cut_10"] = 0.123
    path.write_text(json.dumps(rec))
    checked, differences, summary, _ = verify(tmp_path / "results", suite, subs, systems)
    assert checked == 1 and not summary.failed
    assert [(d.result, d.what) for d in differences] == [
        (str(path), "the file itself"), ("tiny/test/none@bm25", "per_query[te0].ndcg_cut_10")]
    assert "content_sha256: does not match the content" in differences[0].committed
    assert differences[1].committed == 0.123


def test_cite(tiny_root, tmp_path):
    folder = write_submission(tmp_path, "cited", 'use = "context"')
    bib = submission_bibtex(load_submission(folder))
    assert bib.startswith("@misc{iqbench-cited,") and "author = {T. Ester}" in bib
    suite_bib = suite_bibtex(load_suite(tiny_root))
    assert suite_bib.startswith("@misc{iqbench,") and "% tiny\n@misc{tiny," in suite_bib


manifest_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["submission", "augmenter", "retriever", "extra"]), manifest_values))
def test_any_manifest_loads_or_fails_with_the_file_named(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz") / "fuzzed"
    folder.mkdir()
    (folder / "submission.toml").write_text(json.dumps(data))  # JSON objects are rarely valid TOML: both paths
    try:
        load_submission(folder)
    except SubmissionError as e:
        assert all(p.startswith(str(folder / "submission.toml")) for p in e.problems)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60), st.dictionaries(
    st.sampled_from(["query_id", "query", "text", "llm_prompt_tokens", "llm_completion_tokens", "x"]),
    st.none() | st.integers(-3, 10**6) | st.text(max_size=10) | st.booleans()).map(json.dumps)))
def test_any_augmentation_line_parses_or_fails_with_file_and_line(line):
    try:
        row = parse_line(line, "aug.jsonl:7")
    except PrecomputedError as e:
        assert str(e).startswith("aug.jsonl:7: ")
    else:
        assert isinstance(row.augmentation.text, str) and row.augmentation.llm_prompt_tokens >= 0


def test_editing_a_plugin_makes_its_results_stale(tiny_root, tmp_path):
    subs_dir = tmp_path / "submissions"
    folder = write_submission(subs_dir, "edited", 'use = "plugin:Aug"',
                              code=plugin_code("return [Augmentation(q.text + ' a') for q in queries]"))
    suite = load_suite(tiny_root)

    def run_once():
        subs = load_submissions(subs_dir)
        systems = [s for s in expand_all(subs) if s.id == "edited@bm25"]
        return run_suite(suite, subs, systems, tmp_path / "results", show_progress=False)

    assert len(run_once().written) == 1 and len(run_once().present) == 1
    (folder / "plugin.py").write_text(plugin_code("return [Augmentation(q.text + ' b') for q in queries]"))
    assert len(run_once().written) == 1


def test_validate_tries_the_retriever(tmp_path, tiny_root):
    code = ("class R:\n    name = 'r'\n    def fingerprint(self):\n        return {}\n"
            "    def index(self, corpus):\n        self.ids = list(corpus)\n"
            "    def search(self, texts, k):\n        return {q: {'not-a-doc': 1.0} for q in texts}\n")
    folder = write_submission(tmp_path, "badret", 'use = "context"', retriever='use = "ret:R"', code=code, module="ret")
    [problem] = validate(folder, load_suite(tiny_root))
    assert "retriever: a trial search of 2 tiny queries" in problem and "unknown document ids ['not-a-doc']" in problem
