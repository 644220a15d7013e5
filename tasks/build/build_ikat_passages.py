"""Build tasks/ikat-passages from the TREC iKAT 2023 topics and provenance passages.

Each turn with response provenance is a query: its text is the utterance as typed,
its context the topic's earlier turns and the user's profile statements (PTKB), its
explicit rewrite the human `resolved_utterance`. Relevant documents: the turn's
provenance passages, searched among the pooled provenance passages of all topics.
"""

from __future__ import annotations

import json

from common import SOURCES_DIR, finish_task, fresh_task_dir, source_commit, write_jsonl, write_qrels

CITATION = r"""
@inproceedings{DBLP:conf/trec/AliannejadiACDA23,
  author    = {Mohammad Aliannejadi and Zahra Abbasiantaeb and Shubham Chatterjee and Jeffery Dalton and Leif Azzopardi},
  editor    = {Ian Soboroff and Angela Ellis},
  title     = {{TREC} iKAT 2023: The Interactive Knowledge Assistance Track Overview},
  booktitle = {The Thirty-Second Text REtrieval Conference Proceedings {(TREC} 2023), Gaithersburg, MD, USA, November 14-17, 2023},
  series    = {{NIST} Special Publication},
  volume    = {1328},
  publisher = {National Institute of Standards and Technology {(NIST)}},
  year      = {2023},
  url       = {https://trec.nist.gov/pubs/trec32/papers/Overview\_ikat.pdf}
}
"""


def load_topics(name: str) -> list[dict]:
    return json.loads((SOURCES_DIR / "ikat" / "2023" / "data" / name).read_text(encoding="utf-8"))


def load_passages(name: str) -> dict[str, str]:
    passages = {}
    with (SOURCES_DIR / "ikat" / "2023" / "data" / name).open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            passages[f"{row['doc_id']}:{row['passage_id']}"] = row["passage_text"].strip()
    return passages


def topic_queries(topic: dict, corpus: dict[str, str]) -> tuple[list[dict], dict[str, dict[str, int]]]:
    profile = [topic["ptkb"][k] for k in sorted(topic["ptkb"], key=int)]
    queries, qrels, history = [], {}, []
    for turn in sorted(topic["turns"], key=lambda t: t["turn_id"]):
        provenance = turn.get("response_provenance") or []
        if provenance:
            qid = f"{topic['number']}_{turn['turn_id']}"
            missing = [p for p in provenance if p not in corpus]
            if missing:
                raise SystemExit(f"topic {topic['number']}: provenance passages without text: {missing}")
            queries.append({
                "_id": qid,
                "text": turn["utterance"].strip(),
                "context": {"history": list(history), "profile": profile},
                # An empty rewrite (one 2023 test turn) falls back to the utterance as typed.
                "explicit": turn["resolved_utterance"].strip() or turn["utterance"].strip(),
            })
            qrels[qid] = {p: 1 for p in provenance}
        history.append({"role": "user", "text": turn["utterance"].strip()})
        history.append({"role": "assistant", "text": turn["response"].strip()})
    return queries, qrels


def main() -> None:
    corpus = {**load_passages("2023_train_topics_psg_text.jsonl"), **load_passages("2023_test_topics_psg_text.jsonl")}
    task_dir = fresh_task_dir("ikat-passages")
    write_jsonl(task_dir / "corpus.jsonl", ({"_id": pid, "title": "", "text": corpus[pid]} for pid in sorted(corpus)))
    all_queries, sizes = [], {}
    for split, filename in (("train", "2023_train_topics.json"), ("test", "2023_test_topics.json")):
        split_qrels = {}
        for topic in load_topics(filename):
            queries, qrels = topic_queries(topic, corpus)
            all_queries += queries
            split_qrels.update(qrels)
        write_qrels(task_dir / "qrels" / f"{split}.tsv", split_qrels)
        sizes[split] = len(split_qrels)

    meta = {
        "id": "ikat-passages",
        "title": "TREC iKAT 2023: personal conversational passage retrieval",
        "family": "conversational",
        "description": (
            "Turns of personal, multi-turn conversations (\"Can you help me find a diet for myself?\", "
            "\"Which of the aforementioned ones is natural?\") whose answer depends on what was said "
            "earlier and on the user's profile (\"I'm vegetarian\", \"I'm allergic to soybeans\"). The "
            "typed utterance leaves both implicit; the context carries them, and a human rewrite makes "
            "them explicit."
        ),
        "notes": (
            "Built by tasks/build/build_ikat_passages.py. One query per turn with response provenance; "
            "relevant documents are that turn's provenance passages (grade 1), searched among the "
            f"{len(corpus)} pooled provenance passages of the 2023 train and test topics. "
            "context.history = earlier turns of the same topic (user utterances and system responses); "
            "context.profile = the topic's PTKB statements; explicit = resolved_utterance (oracle only; "
            "turn 12-1_12 has an empty resolved_utterance and falls back to its utterance). "
            "No dev split: the source has too few train topics. test has fewer than 1,000 queries, "
            "so the suite's cap leaves it whole."
        ),
        "caveats": (
            "The corpus is the pooled provenance passages, not the ClueWeb22 collection, so absolute "
            "scores are far higher than in TREC runs. Provenance marks the passages the organisers "
            "used for the response, not every relevant passage, so some unjudged passages may be "
            "relevant. Several test topics are variants of one conversation with different profiles, "
            "so some utterances repeat across test topics."
        ),
        "source_name": "TREC iKAT",
        "repo": "https://github.com/irlabamsterdam/iKAT",
        "commit": source_commit("ikat"),
        "license": "MIT",
        "files": ["2023/data/2023_train_topics.json", "2023/data/2023_test_topics.json",
                  "2023/data/2023_train_topics_psg_text.jsonl", "2023/data/2023_test_topics_psg_text.jsonl"],
        "citation": CITATION,
    }
    write_jsonl(task_dir / "queries.jsonl", all_queries)
    finish_task(task_dir, meta, "ikat", sizes, ["test"])

if __name__ == "__main__":
    main()
