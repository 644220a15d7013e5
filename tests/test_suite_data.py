"""Data checks on every committed task of the suite: the numbers are only as clean as these."""

from __future__ import annotations

import re

import pytest

from benchmark.task import load_suite

SUITE = load_suite()
FAMILIES = {"tool", "conversational", "context", "ambiguous", "control", "usage"}
CAP = 1000


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


@pytest.fixture(scope="module", params=SUITE.task_ids)
def task(request):
    return SUITE.load(request.param)


def test_suite_file_records_the_hash_of_the_task_files():
    assert SUITE.name == "iqbench" and SUITE.version == "1.1"
    assert len(SUITE.task_ids) == 8 and len(set(SUITE.task_ids)) == 8
    assert SUITE.recorded_sha256 == SUITE.sha256(), "task files changed: run `make tasks` to rewrite suite.toml"


def test_task_card(task):
    card = task.card
    assert task.official and card["id"] == task.path.name == task.id
    for name in ("title", "description", "notes", "caveats", "main_metric", "eval_splits"):
        assert str(card[name]).strip(), name
    assert card["family"] in FAMILIES and card["main_metric"] == "ndcg_cut_10"
    source = card["source"]
    assert source["repo"].startswith("https://github.com/") and re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert source["license"] in ("MIT", "Apache-2.0")
    assert re.match(r"\s*@\w+\{[^,]+,", source["citation"]) and "title" in source["citation"]
    assert (task.path / "LICENSE").read_text(encoding="utf-8").startswith("Data derived from ")
    assert card["splits"] == {split: len(qrels) for split, qrels in task.qrels.items()}
    assert "train" in task.qrels and set(task.eval_splits) <= set(task.qrels)


def test_evaluation_splits_are_capped(task):
    for split in task.eval_splits:
        assert 0 < len(task.qrels[split]) <= CAP


def test_every_judged_query_has_a_relevant_document(task):
    for split, qrels in task.qrels.items():
        for qid, rel in qrels.items():
            assert any(g >= 1 for g in rel.values()), (split, qid)
            assert set(rel) <= set(task.corpus)  # the loader refuses otherwise; checked here too


def test_no_evaluation_query_text_occurs_in_train(task):
    train = {norm(task.queries[q].text) for q in task.qrels["train"]}
    for split in task.eval_splits:
        shared = [q for q in task.qrels[split] if norm(task.queries[q].text) in train]
        assert not shared, f"{split}: {shared[:5]}"


def test_ood_items_never_occur_in_train(task):
    if "test_ood" not in task.qrels:
        pytest.skip("no test_ood split")
    if task.card["family"] == "usage":
        pytest.skip("test_ood holds new users, not new tools (tests/test_usage_task.py)")
    train_docs = {d for rel in task.qrels["train"].values() for d in rel}
    ood_docs = {d for rel in task.qrels["test_ood"].values() for d, g in rel.items() if g >= 1}
    assert ood_docs and not ood_docs & train_docs


def test_no_answer_leakage(task):
    """No query carries an answer marker from the source, nor (except on the control task, whose
    requests are explicit by design) its relevant document's text."""
    for split in task.eval_splits:
        for qid, rel in task.qrels[split].items():
            text = norm(task.queries[qid].text)
            assert "###" not in text and "api_call" not in text, qid
            for did in rel if task.card["family"] != "control" else ():
                doc_text = norm(task.corpus[did].text)
                assert len(doc_text) < 25 or doc_text not in text, (qid, did)


def test_candidates_hold_every_relevant_item(task):
    bound = [q for q in task.queries.values() if q.candidates is not None]
    if task.id == "ikat-ptkb":
        assert len(bound) == len(task.queries)
    if not bound:
        pytest.skip("no per-query candidates")
    for split, qrels in task.qrels.items():
        for qid, rel in qrels.items():
            candidates = task.queries[qid].candidates
            assert candidates is not None and set(rel) <= set(candidates), (split, qid)
            assert set(candidates) <= set(task.corpus)


def test_explicit_rewrites_only_where_the_source_has_them(task):
    has_explicit = any(q.explicit is not None for q in task.queries.values())
    assert has_explicit == task.id.startswith("ikat-")


def test_metatool_splits():
    task = SUITE.load("metatool")
    texts = {split: {task.queries[q].text.casefold() for q in task.qrels[split]} for split in task.splits}
    for a in texts:
        for b in texts:
            if a < b:
                assert not texts[a] & texts[b], (a, b)
    seen = {d for split in ("train", "dev") for rel in task.qrels[split].values() for d in rel}
    ood = {d for rel in task.qrels["test_ood"].values() for d in rel}
    assert ood and not ood & seen
    assert 0.15 <= len(ood) / len(task.corpus) <= 0.25
    assert not any(t.startswith(("sure", "certainly")) for ts in texts.values() for t in ts)


def test_ikat_queries_carry_context_and_rewrite():
    task = SUITE.load("ikat-passages")
    first, later = task.queries["9-1_1"], task.queries["9-1_3"]
    assert first.context["profile"] and first.context["history"] == []
    assert len(later.context["history"]) == 4  # two earlier turns, user and assistant each
    assert all(q.explicit for q in task.queries.values())


def test_apibench_hf_test_apis_are_unseen():
    task = SUITE.load("apibench-hf")
    docs = {split: {d for rel in task.qrels[split].values() for d in rel} for split in task.splits}
    assert docs["test"] and not docs["test"] & (docs["train"] | docs["dev"])
    assert not docs["dev"] & docs["train"]

    def without_call(did: str) -> str:  # near-copies: the same doc with another checkpoint
        return "\n".join(ln for ln in task.corpus[did].text.splitlines() if not ln.startswith("API call:"))

    assert not {without_call(d) for d in docs["test"]} & {without_call(d) for d in docs["train"]}


def test_ikat_ptkb_candidates_are_the_users_own_statements():
    task = SUITE.load("ikat-ptkb")
    for q in task.queries.values():
        topic = q.id.rsplit("_", 1)[0]
        assert {c.rsplit(":", 1)[0] for c in q.candidates} == {topic}, q.id
        assert "profile" not in q.context  # the profile is what is retrieved


def test_seal_tools_ids_carry_no_hint():
    task = SUITE.load("seal-tools")
    assert all(re.fullmatch(r"(train|test|test_ood)-\d{4}", qid) for qid in task.queries)
