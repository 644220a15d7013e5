"""Build tasks/qulac-facets from Qulac's qulac.json (column-oriented: one row per topic, facet and question).

An ambiguous web query ("dnr", "the sun") is resolved by one clarifying question and the
user's answer: the query is the topic as typed, the context is that two-turn exchange, and
the relevant document is the facet the user had in mind, searched among all 762 facet
descriptions. The facet description is never given as `explicit`: it is the answer.
Topics (never rows) are split, so no test facet is ever a train target.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from common import (
    SOURCES_DIR, cap_queries, finish_task, fresh_task_dir, normalize_text, rng, source_commit, write_jsonl,
    write_qrels,
)

TEST_SHARE, DEV_SHARE = 0.3, 0.1  # of topics; the rest is train
CAPPED_SPLITS = ("dev", "test")

CITATION = """
@inproceedings{AliannejadiSigir19,
    author    = {Aliannejadi, Mohammad and Zamani, Hamed and Crestani, Fabio and Croft, W. Bruce},
    title     = {Asking Clarifying Questions in Open-Domain Information-Seeking Conversations},
    booktitle = {International {ACM} {SIGIR} Conference on Research and Development in Information Retrieval (SIGIR)},
    series    = {{SIGIR '19}},
    location  = {Paris, France},          
    year      = {2019}
  }
"""


def load_rows() -> list[dict]:
    """The column-oriented dict as rows, in the source's row order, each with its row key."""
    columns = json.loads((SOURCES_DIR / "qulac" / "data" / "qulac" / "qulac.json").read_text(encoding="utf-8"))
    keys = sorted(columns["topic_id"], key=int)
    return [{"row": key, **{name: column[key] for name, column in columns.items()}} for key in keys]


def unescape(text: str) -> str:
    """Facet descriptions carry the TREC files' backslash escapes (\\' and \\"); remove them."""
    return text.replace("\\'", "'").replace('\\"', '"').strip()


def leak_key(text: str) -> str:
    """Lower-cased alphanumeric words: crowd answers drop punctuation, so compare without it."""
    return " ".join(re.findall(r"[a-z0-9]+", unescape(text).lower()))


def load_facets(rows: list[dict]) -> dict[str, str]:
    """Facet id ('<topic_id>-<facet_id>') -> description, sorted by topic then facet number."""
    facets: dict[str, str] = {}
    for row in rows:
        desc = unescape(row["facet_desc"])
        if facets.setdefault(row["topic_facet_id"], desc) != desc:
            raise SystemExit(f"qulac.json: facet {row['topic_facet_id']} has two descriptions")
    return {fid: facets[fid] for fid in sorted(facets, key=lambda f: tuple(map(int, f.split("-"))))}


def group_exchanges(rows: list[dict], facets: dict[str, str]) -> tuple[list[dict], Counter]:
    """One item per distinct (topic, question, answer); identical exchanges for several facets are merged."""
    counts: Counter = Counter()
    groups: dict[tuple, dict] = {}
    for row in rows:
        question, answer = row["question"].strip(), row["answer"].strip()
        if not question or not answer:
            counts["empty"] += 1
            continue
        if leak_key(answer) == leak_key(facets[row["topic_facet_id"]]):
            counts["answer_equals_facet"] += 1
            continue
        if leak_key(facets[row["topic_facet_id"]]) in leak_key(answer):
            counts["answer_contains_facet"] += 1
        key = (row["topic_id"], normalize_text(question), normalize_text(answer))
        group = groups.setdefault(key, {"row": row["row"], "topic_id": row["topic_id"], "topic": row["topic"].strip(),
                                        "question": question, "answer": answer, "facets": set()})
        if row["topic_facet_id"] in group["facets"]:
            counts["duplicate_row"] += 1
        group["facets"].add(row["topic_facet_id"])
    merged = [g for g in groups.values() if len(g["facets"]) > 1]
    counts["merged_groups"] = len(merged)
    counts["merged_rows"] = sum(len(g["facets"]) for g in merged)
    return list(groups.values()), counts


def split_topics(topic_ids: list[int]) -> dict[int, str]:
    """Seeded topic split: ~30% test, ~10% dev, the rest train."""
    topics = sorted(topic_ids)
    rng("qulac-facets:topics").shuffle(topics)
    n_test, n_dev = round(TEST_SHARE * len(topics)), round(DEV_SHARE * len(topics))
    return {t: "test" if i < n_test else "dev" if i < n_test + n_dev else "train" for i, t in enumerate(topics)}


def main() -> None:
    rows = load_rows()
    facets = load_facets(rows)
    groups, counts = group_exchanges(rows, facets)
    topic_split = split_topics(sorted({row["topic_id"] for row in rows}))
    topic_types = {row["topic_id"]: row["topic_type"] for row in rows}
    facetless = sorted(set(facets) - {f for g in groups for f in g["facets"]})

    task_dir = fresh_task_dir("qulac-facets")
    write_jsonl(task_dir / "corpus.jsonl", ({"_id": fid, "title": "", "text": desc} for fid, desc in facets.items()))
    queries, sizes, pools, types = [], {}, {}, {}
    for split in ("train", "dev", "test"):
        by_row = {g["row"]: g for g in groups if topic_split[g["topic_id"]] == split}
        pools[split] = len(by_row)
        kept = cap_queries(by_row, f"qulac-facets:{split}") if split in CAPPED_SPLITS else sorted(by_row)
        rng(f"qulac-facets:order:{split}").shuffle(kept)  # query ids say nothing about topic or facet
        qrels = {}
        for n, row_key in enumerate(kept):
            group, qid = by_row[row_key], f"{split}-{n:05d}"
            queries.append({"_id": qid, "text": group["topic"], "context": {"history": [
                {"role": "assistant", "text": group["question"]}, {"role": "user", "text": group["answer"]}]}})
            qrels[qid] = {f: 1 for f in sorted(group["facets"])}
        write_qrels(task_dir / "qrels" / f"{split}.tsv", qrels)
        sizes[split] = len(qrels)
        split_types = [topic_types[t] for t, s in topic_split.items() if s == split]
        types[split] = (len(split_types), split_types.count("ambiguous"))
    write_jsonl(task_dir / "queries.jsonl", queries)

    answered = len(rows) - counts["empty"]
    meta = {
        "id": "qulac-facets",
        "title": "Qulac: which facet did the user of an ambiguous query mean?",
        "family": "ambiguous",
        "description": (
            "Short ambiguous or faceted web queries from the TREC Web Track (\"dnr\", \"the sun\", "
            "\"obama family tree\") must be matched to the facet the user has in mind, among all 762 facet "
            "descriptions of Qulac's 198 topics. The typed query cannot tell the facets apart; the context "
            "holds one clarifying question asked by the system and the user's answer (\"are you interested in "
            "the suns size\" / \"no im looking for the website of the newspaper\"), which is where the intent is."
        ),
        "notes": (
            f"Built by tasks/build/build_qulac_facets.py (seeded). qulac.json has {len(rows)} rows; "
            f"{counts['empty']} have an empty question and answer (one '<topic>-<facet>-X' placeholder per facet) "
            f"and are dropped. Of the {answered} answered rows, {counts['answer_equals_facet']} whose answer equals "
            "the facet description (lower-cased alphanumeric words) is dropped as leakage; "
            f"{counts['answer_contains_facet']} kept answers contain the whole facet description in that form "
            "(\"no i want to know what are the symptoms of lymphoma in dogs\"). Rows with the same topic, question "
            "and answer (case and whitespace folded) are one query: "
            f"{counts['duplicate_row']} exact duplicate row dropped, and {counts['merged_groups']} exchanges given "
            f"for several facets ({counts['merged_rows']} rows, mostly 'no', 'yes', 'i dont know') merged into one "
            f"query with all those facets relevant. That leaves {len(groups)} queries. Documents: all {len(facets)} "
            "facets, id '<topic_id>-<facet_id>', empty title, text = facet_desc with the source's backslash "
            "escapes removed"
            + (f" ({len(facetless)} facets have no query: {', '.join(facetless)})" if facetless else "")
            + ". Query text = the topic as typed; context.history = [assistant: question, user: answer]; "
            "no explicit rewrite (it would be the facet description). Split by topic, seeded: of 198 topics "
            f"{types['test'][0]} test, {types['dev'][0]} dev, {types['train'][0]} train "
            f"(ambiguous-type topics: {types['test'][1]} / {types['dev'][1]} / {types['train'][1]}; the rest are "
            "faceted), so test facets are never train targets. test samples "
            f"{sizes['test']} of its {pools['test']} queries and dev {sizes['dev']} of {pools['dev']} "
            f"(common.cap_queries); train keeps all {pools['train']}. Query ids are numbered in a seeded random "
            "order, so they reveal neither topic nor facet."
        ),
        "caveats": (
            "Answers were written by crowd workers who were shown the facet description, so many paraphrase or "
            f"quote it ({counts['answer_contains_facet']} quote it whole): such queries test reading the context "
            "more than inferring intent. Many other answers carry little ('no', 'i dont know', 'this is not "
            "related to my search'), and a 'no' to a question about another facet only rules that one out, so "
            "some queries cannot be resolved by any system. Facets of one topic can overlap (a general and a "
            "specific facet), so some 'wrong' facets are defensible and scores are a lower bound. Every query's "
            "relevant facets belong to its own topic, which the typed query names: the hard part is choosing "
            "among that topic's 1-6 facets, not finding the topic."
        ),
        "source_name": "Qulac",
        "repo": "https://github.com/aliannejadi/qulac",
        "commit": source_commit("qulac"),
        "license": "MIT",
        "files": ["data/qulac/qulac.json"],
        "citation": CITATION,
    }
    finish_task(task_dir, meta, "qulac", sizes, ["test"])

if __name__ == "__main__":
    main()
