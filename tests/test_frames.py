"""Results as DataFrames: the committed result files, read back as tidy frames, agree with their JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark import results
from benchmark.frames import main_table, to_markdown

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def torchhub(tmp_path_factory) -> Path:
    """The committed results of one task (a copy: a test never writes results/)."""
    root = tmp_path_factory.mktemp("results")
    shutil.copytree(REPO / "results" / "apibench-torchhub", root / "apibench-torchhub")
    return root


def test_tidy_frames_equal_the_json(torchhub):
    frames = results.load(torchhub)
    files = sorted(torchhub.glob("*/*/*.json"))
    assert not frames.refused and frames.metrics["system"].nunique() == len(files) > 10
    for path in files:
        record = json.loads(path.read_text(encoding="utf-8"))
        mine = frames.metrics[frames.metrics["system"] == record["system"]["id"]]
        assert dict(zip(mine["metric"], mine["value"])) == record["metrics"]
        assert set(mine["role"]) == {record["system"]["role"]} and set(mine["split"]) == {"test"}
        queries = frames.per_query[frames.per_query["system"] == record["system"]["id"]]
        assert len(queries) == len(record["per_query"]) * len(record["metrics"])
        # The aggregate is the mean of the per-query values (pytrec_eval's, to the last digit).
        means = queries.groupby("metric")["value"].mean()
        for metric, value in record["metrics"].items():
            assert means[metric] == pytest.approx(value, abs=1e-12), (path.name, metric)


def test_a_tampered_result_is_refused_not_loaded(torchhub, tmp_path):
    shutil.copytree(torchhub, tmp_path / "r")
    victim = sorted((tmp_path / "r").glob("*/*/*.json"))[0]
    record = json.loads(victim.read_text(encoding="utf-8"))
    record["metrics"]["ndcg_cut_10"] += 0.01
    victim.write_text(json.dumps(record), encoding="utf-8")
    frames = results.load(tmp_path / "r")
    assert [e.path for e in frames.refused] == [victim]
    assert record["system"]["id"] not in set(frames.metrics["system"])


def test_main_table_and_markdown(torchhub):
    table = main_table(results.load(torchhub))
    reference = json.loads((torchhub / "apibench-torchhub" / "test" / "none@minilm-l6-ft.json").read_text())
    assert list(table.columns) == ["apibench-torchhub/test"]
    assert table.loc["none@minilm-l6-ft", "apibench-torchhub/test"] == reference["metrics"]["ndcg_cut_10"]
    markdown = to_markdown(table)
    assert markdown.splitlines()[0] == "| system | apibench-torchhub/test |"
    assert f"| `none@minilm-l6-ft` | {reference['metrics']['ndcg_cut_10']:.4f} |" in markdown
