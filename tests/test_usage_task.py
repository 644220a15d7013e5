"""The usage task (metatool-usage): its qrels follow the rule its card states, its splits keep users
and texts apart, its builder is byte-deterministic and refuses other sources, and a malformed
signal fails loading with the file, line and field."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from benchmark.task import TaskError, load_suite, load_task

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "tasks" / "build"
TASK = load_suite().load("metatool-usage")
SIMULATION = json.loads((TASK.path / "simulation.json").read_text(encoding="utf-8"))


def card_rule(habit: dict, context: dict) -> str:
    """The rule as the card words it, written again here (not imported from the builder)."""
    moment = datetime.fromisoformat(context["time"])
    exception = habit.get("exception")
    if exception:
        observed = {"place": context["place"],
                    "daypart": ("night", "morning", "afternoon", "evening")[moment.hour // 6],
                    "day": "weekend" if moment.weekday() >= 5 else "weekday"}[exception["kind"]]
        if observed == exception["value"]:
            return exception["tool"]
    return habit["usual"]


def test_the_rule_recomputed_from_the_context_reproduces_every_qrel():
    groups = SIMULATION["groups"]
    checked = 0
    for split, qrels in TASK.qrels.items():
        for qid, rel in qrels.items():
            where = SIMULATION["queries"][qid]
            habit = SIMULATION["users"][where["user"]]["habits"][where["group"]]
            context = TASK.queries[qid].context
            assert list(rel) == [card_rule(habit, context)], (split, qid)
            assert set(rel) <= set(groups[where["group"]])
            assert context["weekday"] == datetime.fromisoformat(context["time"]).strftime("%A")
            checked += 1
    assert checked == len(TASK.queries) == 2700


def test_exceptions_decide_a_real_share_of_the_evaluation_queries():
    """Neither signal is trivial: some answers are exceptions, most are the usual tool."""
    for split in TASK.eval_splits:
        exceptional = 0
        for qid, rel in TASK.qrels[split].items():
            where = SIMULATION["queries"][qid]
            exceptional += next(iter(rel)) != SIMULATION["users"][where["user"]]["habits"][where["group"]]["usual"]
        assert 0.05 < exceptional / len(TASK.qrels[split]) < 0.5, split


def test_users_and_texts_are_kept_apart():
    user_of = {qid: w["user"] for qid, w in SIMULATION["queries"].items()}
    users = {split: {user_of[q] for q in qrels} for split, qrels in TASK.qrels.items()}
    new = {u for u, user in SIMULATION["users"].items() if user["kind"] == "new"}
    assert users["test_ood"] <= new and not new & (users["train"] | users["dev"] | users["test"])
    assert users["test"] <= users["train"]  # seen users
    texts = {split: {TASK.queries[q].text.casefold() for q in qrels} for split, qrels in TASK.qrels.items()}
    for split in ("dev", "test", "test_ood"):
        assert not texts[split] & texts["train"], split
    # A temporal split: each seen user's test queries come after all of their train queries.
    last_train: dict[str, str] = {}
    for qid in TASK.qrels["train"]:
        last_train[user_of[qid]] = max(last_train.get(user_of[qid], ""), TASK.queries[qid].context["time"])
    assert all(TASK.queries[q].context["time"] > last_train[user_of[q]] for q in TASK.qrels["test"])


def test_the_relevant_tool_is_never_named_in_the_request():
    for qrels in TASK.qrels.values():
        for qid, rel in qrels.items():
            text = TASK.queries[qid].text.casefold()
            for tool in rel:
                assert tool.casefold() not in text and tool.replace("_", " ").casefold() not in text, qid


# --- the builder, on a small generated source (tests never read the raw sources) ----------------

def _load_groups() -> dict[str, tuple[str, ...]]:
    sys.path.insert(0, str(BUILD))
    try:
        import build_metatool_usage
    finally:
        sys.path.remove(str(BUILD))
    return build_metatool_usage.GROUPS


@pytest.fixture(scope="module")
def generated_source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    data = root / "metatool" / "dataset"
    (data / "data").mkdir(parents=True)
    (root / "metatool" / "COMMIT").write_text("0" * 40 + "\n")
    (root / "metatool" / "LICENSE").write_text("MIT License (generated for a test)\n")
    tools = [t for group in _load_groups().values() for t in group] + ["OtherToolA", "OtherToolB"]
    (data / "plugin_des.json").write_text(json.dumps({t: f"Generated description number {n}."
                                                      for n, t in enumerate(tools)}), encoding="utf-8")
    rows = ["Query,Tool"] + [f"Please help me with errand {n} of kind {k},{tool}"
                             for k, tool in enumerate(tools) for n in range(12)]
    (data / "data" / "all_clean_data.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def _build(sources: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "build_metatool_usage.py", "--out", str(out), *flags], cwd=BUILD,
                          env={**__import__("os").environ, "IQBENCH_SOURCES": str(sources)},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def sample_task(generated_source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built")
    done = _build(generated_source, out, "--sample", "--any-source")
    assert done.returncode == 0, done.stderr
    return out / "metatool-usage"


def test_rebuilding_gives_identical_bytes(generated_source, sample_task, tmp_path):
    again = _build(generated_source, tmp_path, "--sample", "--any-source")
    assert again.returncode == 0, again.stderr
    files = sorted(p.relative_to(sample_task) for p in sample_task.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "metatool-usage")
                           for p in (tmp_path / "metatool-usage").rglob("*") if p.is_file())
    assert {"queries.jsonl", "simulation.json", "SHA256SUMS"} <= {str(f) for f in files}
    for f in files:
        assert (sample_task / f).read_bytes() == (tmp_path / "metatool-usage" / f).read_bytes(), f
    task = load_task(sample_task)  # and the loader accepts it
    assert task.card["family"] == "usage" and set(task.qrels) == {"train", "dev", "test", "test_ood"}


def test_the_builder_refuses_a_source_it_was_not_written_for(generated_source, tmp_path):
    done = _build(generated_source, tmp_path)
    assert done.returncode != 0 and "metatool/dataset/plugin_des.json: sha256" in done.stderr
    assert not (tmp_path / "metatool-usage").exists()


def _corrupt(task_dir: Path, tmp_path: Path, change) -> Path:
    copy = tmp_path / "corrupt"
    subprocess.run(["cp", "-r", str(task_dir), str(copy)], check=True)
    lines = (copy / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[2])
    change(row["context"])
    lines[2] = json.dumps(row)
    (copy / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copy


@pytest.mark.parametrize("change, field", [
    (lambda c: c.pop("usage"), "context.usage: missing"),
    (lambda c: c.pop("time"), "context.time: missing"),
    (lambda c: c.update(time="yesterday evening"), "context.time: expected an ISO local time"),
    (lambda c: c.update(usage=[1, 2]), "context.usage: expected an object"),
    (lambda c: c["usage"].update(NoSuchTool={"count": 1, "last_used": "2026-01-05T09:00"}),
     "context.usage['NoSuchTool']: 'NoSuchTool' is not in corpus.jsonl"),
    (lambda c: next(iter(c["usage"].values())).update(count="3"), ".count: expected a positive integer"),
    (lambda c: next(iter(c["usage"].values())).update(last_used="soon"), ".last_used: expected an ISO time"),
    (lambda c: next(iter(c["usage"].values())).update(dayparts={"dawn": 1}), ".dayparts: unknown ['dawn']"),
])
def test_a_malformed_signal_names_file_line_and_field(sample_task, tmp_path, change, field):
    if "usage" in field and "missing" not in field:
        lines = (sample_task / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[2])["context"]["usage"], "the third query of the sample needs some usage"
    broken = _corrupt(sample_task, tmp_path, change)
    with pytest.raises(TaskError, match=re.escape("queries.jsonl:3: query ") + ".*" + re.escape(field)):
        load_task(broken, allow_modified=True)


def test_the_citation_says_the_users_are_synthetic():
    from benchmark.cite import suite_bibtex
    comment = next(line for line in suite_bibtex(load_suite()).splitlines() if "metatool-usage" in line)
    assert comment.startswith("% metatool, metatool-usage (its users are synthetic")


def test_the_cards_text_only_and_signal_only_figures_are_recomputed():
    """The card's two reference accuracies, recomputed here from the queries and simulation.json."""
    from collections import Counter
    groups, where = SIMULATION["groups"], SIMULATION["queries"]
    train = Counter((where[q]["group"], next(iter(r))) for q, r in TASK.qrels["train"].items())
    notes = TASK.card["notes"]
    for split in TASK.eval_splits:
        answers = {q: next(iter(r)) for q, r in TASK.qrels[split].items()}
        per_group = Counter((where[q]["group"], a) for q, a in answers.items())
        best: dict[str, int] = {}
        for (group, _), n in per_group.items():
            best[group] = max(best.get(group, 0), n)
        text_only = sum(best.values()) / len(answers)
        hits = 0
        for qid, gold in answers.items():
            group, usage = where[qid]["group"], TASK.queries[qid].context["usage"]
            used = [(usage[t]["count"], usage[t]["last_used"], t) for t in groups[group] if t in usage]
            guess = max(used)[2] if used else max(groups[group], key=lambda t: (train[(group, t)], t))
            hits += guess == gold
        assert f"{split}: text-only ceiling {text_only:.3f}, signal-only rule {hits / len(answers):.3f}" in notes
        assert text_only < 0.7 and hits / len(answers) > text_only + 0.1  # the signals carry the task
