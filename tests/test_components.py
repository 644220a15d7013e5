"""Augmenters, guardrails and the protocol's expansion of a submission into systems."""

from types import MappingProxyType

from benchmark.augmenters import build_augmenter, visible_query
from benchmark.augmenters.base import NotApplicable
from benchmark.augmenters.simple import serialize_context
from benchmark.guardrails import GuardrailError, check_run
from benchmark.protocol import expand, expand_all
from benchmark.submission import load_submissions
from benchmark.task import Query

import pytest

QUERY = Query(
    id="q", text="Which one is fastest?",
    context=MappingProxyType({
        "history": [{"role": "user", "text": "Find me a diet."}, {"role": "assistant", "text": "Keto or vegan."}],
        "profile": ["I'm vegetarian."], "time": "08:00", "location": {"city": "Paris"},
    }),
    explicit="Which diet, keto or vegan, makes me lose weight fastest?",
)


def test_context_serialization_is_fixed():
    assert serialize_context(QUERY.context) == (
        "Earlier turns (most recent first):\n"
        "assistant: Keto or vegan.\n"
        "user: Find me a diet.\n"
        "User profile:\n"
        "- I'm vegetarian.\n"
        "location: city=Paris\n"
        "time: 08:00"
    )
    [aug] = build_augmenter("context").augment([QUERY])
    assert aug.text.startswith("Which one is fastest?\nEarlier turns") and aug.llm_prompt_tokens == 0
    assert build_augmenter("context").augment([Query("e", "plain")])[0].text == "plain"


def test_explicit_is_hidden_from_non_oracles():
    assert visible_query(QUERY, oracle=False).explicit is None
    assert visible_query(QUERY, oracle=True).explicit == QUERY.explicit
    oracle = build_augmenter("oracle")
    assert oracle.augment([visible_query(QUERY, oracle.oracle)])[0].text == QUERY.explicit
    with pytest.raises(NotApplicable):
        oracle.augment([Query("e", "no rewrite")])


def test_unknown_component_names_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown augmenter 'cot'; did you mean 'llm-cot'\? Registered: context, "
                                         r"llm-cot, llm-cot-prf, llm-hyde, llm-hyde-passage, llm-query2doc, llm-rewrite, none, oracle, precomputed, prf"):
        build_augmenter("cot")


def test_protocol_cells(baseline_submissions):
    subs = {s.name: s for s in load_submissions(baseline_submissions)}
    bm25 = {s.id: (s.role, s.finetuned, s.retriever.use) for s in expand(subs["bm25"])}
    # BM25 cannot be fine-tuned: its reference is the suite's fine-tuned MiniLM.
    assert bm25 == {"none@bm25": ("baseline", False, "bm25"), "none@minilm-l6-ft": ("reference", True, "dense")}
    ctx = {s.id: s.role for s in expand(subs["context-minilm"])}
    assert ctx == {"none@minilm-l6": "baseline", "none@minilm-l6-ft": "reference",
                   "context-minilm@minilm-l6": "submission", "context-minilm@minilm-l6-ft": "submission",
                   "context-minilm@minilm-l6-ftA": "submission"}
    # The oracle gets no -ftA cell (training on human rewrites is no deployable method).
    assert [s.id for s in expand(subs["oracle-minilm"])][2:] == ["oracle-minilm@minilm-l6", "oracle-minilm@minilm-l6-ft"]
    all_ids = [s.id for s in expand_all(list(subs.values()))]
    assert len(all_ids) == len(set(all_ids)) == 8
    assert all_ids[:3] == ["none@bm25", "none@minilm-l6", "none@minilm-l6-ft"]


def test_candidates_restrict_the_ranking():
    from benchmark.retrievers.bm25 import BM25Retriever
    from benchmark.runner import search
    from benchmark.task import Doc

    corpus = {f"d{i}": Doc("", text) for i, text in enumerate(
        ["rain and wind forecast", "rain boots for sale", "cheap flights to rome", "rain rain rain", "weather today"])}
    retriever = BM25Retriever()
    retriever.index(corpus)
    queries = [Query("free", "rain forecast"), Query("bound", "rain forecast", candidates=("d1", "d2", "d4"))]
    run = search(retriever, {q.id: q.text for q in queries}, queries, 2, len(corpus))
    assert set(run["free"]) <= set(corpus) and "d0" in run["free"]
    # Only candidates, in the order and with the scores of the unrestricted ranking; unmatched candidates
    # are ranked too (at 0, in trec_eval's tie order: document id descending), never dropped.
    full = retriever.search({"bound": "rain forecast"}, len(corpus))["bound"]
    assert set(full) == set(corpus) and full["d2"] == full["d4"] == 0.0
    assert run["bound"] == {"d1": full["d1"], "d4": 0.0}
    everything = search(retriever, {"bound": "rain forecast"}, queries[1:], 100, len(corpus))
    assert list(everything["bound"]) == ["d1", "d4", "d2"]
    check_run(everything, queries[1:], corpus, 100, "bm25")


def test_a_retriever_that_drops_candidates_is_refused():
    """What BM25 did before: a full ranking that holds only matched documents."""
    from benchmark.task import Doc

    corpus = {"a": Doc("", "rain"), "b": Doc("", "sun"), "c": Doc("", "snow")}
    query = Query("q", "rain", candidates=("a", "b", "c"))
    with pytest.raises(GuardrailError, match=r"query 'q': ranks 1 of its 3 candidates; a candidate-restricted "
                                             r"query must rank every candidate"):
        check_run({"q": {"a": 1.2}}, [query], corpus, 100, "lexical-plugin")
