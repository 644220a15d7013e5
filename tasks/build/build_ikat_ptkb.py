"""Build tasks/ikat-ptkb from the TREC iKAT 2023 and 2024 topics and the 2023 PTKB judgments.

Context retrieval, the analogue of Context Tuning's context-item retrieval: for each
turn, rank the user's own profile statements (PTKB) by how much they matter for the
answer. A query's `candidates` are its topic's statements, so the runner searches
only them. Its text is the utterance as typed, its context the topic's earlier turns
(never the profile: that is what is retrieved), its explicit rewrite the human
`resolved_utterance`. Relevant statements: NIST's judgments where a turn has them,
else the organisers' `ptkb_provenance`. Turns with no relevant statement are skipped.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict

from build_ikat_passages import CITATION  # one source, one citation
from common import (
    SOURCES_DIR, cap_queries, finish_task, fresh_task_dir, normalize_text, source_commit, write_jsonl, write_qrels,
)

# (split, topics file, id prefix, judgments file or None). 2024 topic numbers are 0-16,
# 2023's are "9-1" style; the prefix keeps 2024 ids recognisable and collision-free.
SOURCES = (
    ("train", "2023/data/2023_train_topics.json", "", None),
    ("test", "2023/data/2023_test_topics.json", "", "2023/evaluation/ptkb_rel_nist"),
    ("test", "2024/data/2024_test_topics.json", "2024-", None),
)
ORG_JUDGMENTS = "2023/evaluation/ptkb_rel_org"


def load_topics(name: str) -> list[dict]:
    return json.loads((SOURCES_DIR / "ikat" / name).read_text(encoding="utf-8"))


def load_judgments(name: str) -> dict[str, dict[str, int]]:
    """TREC qrels lines `<topic>_<turn> 0 <ptkb key> <grade>` -> turn id -> ptkb key -> grade."""
    judgments: dict[str, dict[str, int]] = defaultdict(dict)
    for n, line in enumerate((SOURCES_DIR / "ikat" / name).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        turn, _, key, grade = line.split()
        if judgments[turn].get(key, int(grade)) != int(grade):
            raise SystemExit(f"{name}:{n}: conflicting grades for {turn} statement {key}")
        judgments[turn][key] = int(grade)
    return dict(judgments)


def gain(grade: int) -> int:
    """Positive grades stay as they are (gains for nDCG); 0 or negative means not relevant."""
    return grade if grade > 0 else 0


def check_judgments(topics: list[dict], judgments: dict[str, dict[str, int]], name: str) -> None:
    """Every judged turn exists and every judged statement is one of its topic's."""
    keys = {f"{t['number']}_{u['turn_id']}": set(t["ptkb"]) for t in topics for u in t["turns"]}
    for turn, grades in judgments.items():
        if turn not in keys or not set(grades) <= keys[turn]:
            raise SystemExit(f"{name}: judgments for an unknown turn or statement: {turn}")


def check_org_is_provenance(topics: list[dict], org: dict[str, dict[str, int]]) -> None:
    """ptkb_rel_org restates the topics' ptkb_provenance; stop if that ever stops being true."""
    for topic in topics:
        for turn in topic["turns"]:
            provenance = {str(k) for k in turn["ptkb_provenance"]}
            judged = {k for k, g in org.get(f"{topic['number']}_{turn['turn_id']}", {}).items() if gain(g)}
            if provenance != judged:
                raise SystemExit(f"ptkb_rel_org disagrees with ptkb_provenance at {topic['number']}_{turn['turn_id']}")


def topic_docs(topic: dict, prefix: str) -> dict[str, str]:
    """The topic's statements as documents `<prefix><topic>:<ptkb key>`, in key order."""
    return {f"{prefix}{topic['number']}:{k}": topic["ptkb"][k].strip() for k in sorted(topic["ptkb"], key=int)}


def turn_grades(topic: dict, turn: dict, nist: dict[str, dict[str, int]], stats: Counter) -> tuple[dict[str, int], str]:
    """(ptkb key -> grade, origin) for one turn: NIST's grades if it judged the turn, else provenance (grade 1)."""
    provenance = {str(k): 1 for k in turn["ptkb_provenance"]}
    judged = nist.get(f"{topic['number']}_{turn['turn_id']}")
    if judged is None:
        return provenance, "provenance"
    grades = {k: gain(g) for k, g in judged.items() if gain(g)}
    stats["nist turns"] += 1
    stats["nist turns without relevant"] += not grades
    stats["nist turns without provenance"] += not provenance
    stats["nist turns replacing other provenance"] += bool(provenance) and set(grades) != set(provenance)
    stats["nist turns equal to provenance"] += set(grades) == set(provenance)
    return grades, "nist"


def topic_queries(topic: dict, prefix: str, nist: dict, stats: Counter) -> tuple[list[dict], dict[str, dict[str, int]]]:
    """One query per turn with a relevant statement; stats counts turns, fallbacks and label origins."""
    docs = list(topic_docs(topic, prefix))
    queries, qrels, history = [], {}, []
    for turn in sorted(topic["turns"], key=lambda t: t["turn_id"]):
        utterance, rewrite = turn["utterance"].strip(), turn["resolved_utterance"].strip()
        grades, origin = turn_grades(topic, turn, nist, stats)
        stats["turns"] += 1
        stats["empty rewrites"] += not rewrite
        if grades:
            qid = f"{prefix}{topic['number']}_{turn['turn_id']}"
            stats["explicit fallbacks"] += not rewrite
            stats[f"{origin} qrels"] += len(grades)
            queries.append({
                "_id": qid,
                "text": utterance,
                "context": {"history": list(history)},
                "explicit": rewrite or utterance,
                "candidates": docs,
            })
            qrels[qid] = {f"{prefix}{topic['number']}:{k}": g for k, g in grades.items()}
        history.append({"role": "user", "text": utterance})
        history.append({"role": "assistant", "text": turn["response"].strip()})
    return queries, qrels


def random_ndcg10(n_candidates: int, grades: list[int]) -> float:
    """Expected nDCG@10 of a uniformly random ranking of the candidates (each rank equally likely per doc)."""
    discounts = [1 / math.log2(r + 2) for r in range(10)]
    ideal = sum(g * d for g, d in zip(sorted(grades, reverse=True), discounts))
    return sum(grades) / n_candidates * sum(discounts[:n_candidates]) / ideal


def check_split(queries: dict[str, dict], qrels: dict[str, dict[str, int]], corpus: dict[str, str]) -> None:
    for qid, rels in qrels.items():
        cands = queries[qid]["candidates"]
        if not set(rels) <= set(cands) or not set(cands) <= set(corpus):
            raise SystemExit(f"{qid}: a relevant statement outside its candidates, or a candidate outside the corpus")


def split_stats(queries: dict[str, dict], qrels: dict[str, dict[str, int]]) -> str:
    n = len(qrels)
    cands = sum(len(queries[q]["candidates"]) for q in qrels) / n
    rels = sum(len(r) for r in qrels.values()) / n
    rand = sum(random_ndcg10(len(queries[q]["candidates"]), list(r.values())) for q, r in qrels.items()) / n
    return (f"{n} queries, {cands:.1f} candidates and {rels:.2f} relevant statements per query, "
            f"random nDCG@10 {rand:.3f}")


def shared_statements(corpus: dict[str, str]) -> tuple[int, int]:
    """(texts that occur in more than one topic, documents carrying them)."""
    counts = Counter(normalize_text(text) for text in corpus.values())
    shared = [c for c in counts.values() if c > 1]
    return len(shared), sum(shared)


def split_texts(corpus: dict[str, str], queries: dict[str, dict], qrels: dict[str, dict[str, int]]) -> set[str]:
    """The normalized statement texts of the topics a split's queries come from."""
    return {normalize_text(corpus[did]) for qid in qrels for did in queries[qid]["candidates"]}


def load_source(filename: str, prefix: str, nist_file: str | None, stats: Counter) -> tuple[dict, dict, dict, str]:
    """(corpus, queries, qrels, a summary line) of one topics file, after checking its judgment files against it."""
    topics = load_topics(filename)
    nist = load_judgments(nist_file) if nist_file else {}
    if nist_file:
        check_judgments(topics, nist, nist_file)
        check_judgments(topics, org := load_judgments(ORG_JUDGMENTS), ORG_JUDGMENTS)
        check_org_is_provenance(topics, org)
    corpus, queries, qrels, turns = {}, {}, {}, stats["turns"]
    for topic in topics:
        corpus.update(topic_docs(topic, prefix))
        topic_qs, topic_qrels = topic_queries(topic, prefix, nist, stats)
        queries.update((q["_id"], q) for q in topic_qs)
        qrels.update(topic_qrels)
    stats["topics"] += len(topics)
    summary = (f"{filename.rsplit('/', 1)[1]}: {len(topics)} topics, {len(corpus)} statements, "
               f"{len(qrels)} of {stats['turns'] - turns} turns have a relevant statement")
    return corpus, queries, qrels, summary


def main() -> None:
    corpus, queries, qrels, stats, summaries = {}, {}, {"train": {}, "test": {}}, Counter(), []
    for split, filename, prefix, nist_file in SOURCES:
        source_corpus, source_queries, source_qrels, summary = load_source(filename, prefix, nist_file, stats)
        summaries.append(summary)
        if set(source_corpus) & set(corpus) or set(source_queries) & set(queries):
            raise SystemExit(f"{filename}: document or query ids collide with an earlier file")
        corpus.update(source_corpus)
        queries.update(source_queries)
        qrels[split].update(source_qrels)

    train_texts = {normalize_text(queries[q]["text"]) for q in qrels["train"]}
    leaked = sorted(q for q in qrels["test"] if normalize_text(queries[q]["text"]) in train_texts)
    if leaked:
        raise SystemExit(f"test query texts also in train: {leaked}")
    skipped = stats["turns"] - len(queries)
    kept = set(cap_queries(qrels["test"], "ikat-ptkb:test"))
    capped = len(qrels["test"]) - len(kept)
    qrels["test"] = {q: r for q, r in qrels["test"].items() if q in kept}
    queries = {q: row for q, row in queries.items() if q in qrels["train"] or q in qrels["test"]}
    for split in qrels:
        check_split(queries, qrels[split], corpus)
    test_texts = Counter(normalize_text(queries[q]["text"]) for q in qrels["test"])
    repeated = sum(c for c in test_texts.values() if c > 1)
    n_shared, n_shared_docs = shared_statements(corpus)
    cross_split = len(split_texts(corpus, queries, qrels["train"]) & split_texts(corpus, queries, qrels["test"]))

    task_dir = fresh_task_dir("ikat-ptkb")
    write_jsonl(task_dir / "corpus.jsonl", ({"_id": did, "title": "", "text": text} for did, text in corpus.items()))
    write_jsonl(task_dir / "queries.jsonl", queries.values())
    for split, split_qrels in qrels.items():
        write_qrels(task_dir / "qrels" / f"{split}.tsv", split_qrels)
    sizes = {split: len(split_qrels) for split, split_qrels in qrels.items()}

    meta = {
        "id": "ikat-ptkb",
        "title": "TREC iKAT 2023/2024: which of my profile statements matter for this turn?",
        "family": "context",
        "description": (
            "Each turn of a personal, multi-turn conversation (\"Can you help me find a diet for myself?\", "
            "\"Are they okay for me?\", \"Which one do you think my aunt would like more?\") is a query over the "
            "user's own profile, a dozen or so first-person statements (\"I am lactose intolerant.\", \"My aunt "
            "is a highly skilled chef.\", \"I live in the Netherlands.\"); the task is to rank the statements "
            "that the answer must take into account. The queries are implicit because the user never says which "
            "of their own facts matter: asking whether some cheeses are okay does not mention the intolerance, "
            "and a follow-up often names neither its subject nor the constraint, which only the earlier turns "
            "and an understanding of the need connect to the profile."
        ),
        "notes": (
            "Built by tasks/build/build_ikat_ptkb.py (deterministic). train = the 2023 train topics; test = the "
            "2023 test topics plus the 2024 test topics, whose ptkb_provenance is as dense as 2023's "
            "(see the counts below; query and "
            "document ids of 2024 are prefixed '2024-'; its topic numbers are 0-16). " + "; ".join(summaries) + ". "
            "A query is one turn: text = the utterance as typed; context.history = the earlier turns of the same "
            "topic (user utterances and system responses), with no profile, since the profile is what is "
            f"retrieved; explicit = resolved_utterance (oracle only), or the utterance where the rewrite is empty "
            f"({stats['explicit fallbacks']} queries; the sources have {stats['empty rewrites']} empty rewrite(s) in "
            "all, on turns that are not queries); candidates = the doc ids of the topic's statements, to "
            f"which retrieval is restricted. Documents: '<topic>:<ptkb key>', the {len(corpus)} statements of all "
            f"{stats['topics']} topics, title empty. Relevance: for 2023 test turns that NIST judged "
            "(2023/evaluation/ptkb_rel_nist), NIST's grades; for every other turn, its ptkb_provenance (grade 1). "
            "Both judgment files are TREC qrels ('<topic>_<turn> 0 <ptkb key> <grade>', every statement of the "
            "topic judged) with binary grades 0/1; a positive grade is kept as the gain, 0 or negative means not "
            "relevant and is left out of the qrels, so every qrel here has grade 1. ptkb_rel_org covers exactly the "
            "2023 test turns with provenance and restates it (checked at build time), so it adds nothing. "
            f"NIST judged {stats['nist turns']} test turns ({stats['nist turns without relevant']} with no relevant "
            f"statement): {stats['nist turns without provenance']} of them have no provenance, "
            f"{stats['nist turns replacing other provenance']} a different provenance set (NIST's wins) and "
            f"{stats['nist turns equal to provenance']} the same. "
            f"Of the {stats['nist qrels'] + stats['provenance qrels']} "
            f"qrels, {stats['nist qrels']} come from NIST and {stats['provenance qrels']} from provenance. "
            f"{skipped} of {stats['turns']} turns have no relevant statement and are not queries. test is capped "
            f"at 1,000 queries with a seeded sample ({capped} dropped); train is not capped. No test utterance "
            f"equals a train utterance (case and whitespace folded); within test, {repeated} queries share their "
            "text with another test query (short replies such as 'yes.'); they are kept, since their contexts "
            f"differ. {n_shared} statement texts occur in more than one topic ({n_shared_docs} documents; "
            f"{cross_split} of the texts in both a train and a test topic, e.g. 'I live in the Netherlands.'); "
            "they stay separate documents, "
            "since candidates are per topic. No dev split: the source has too few train topics."
        ),
        "caveats": (
            "NIST judged only some 2023 test turns; all other labels (all of train and of 2024) are the "
            "organisers' ptkb_provenance, which NIST's judgments show to be incomplete (turns without provenance "
            "for which NIST found relevant statements) and often different where both exist, so some relevant "
            "statements are unlabelled and penalise the systems that rank them high. Candidate sets are small, so "
            "absolute scores are high and a random ranking is a non-trivial baseline (expected nDCG@10 of a "
            f"uniformly random ranking): train {split_stats(queries, qrels['train'])}; test "
            f"{split_stats(queries, qrels['test'])}. Several 2023 test topics are variants of one conversation "
            "with different profiles (e.g. 9-1 and 9-2), so test queries are not independent. Only "
            f"{len(qrels['train'])} train turns (from 11 topics) have a relevant statement: the fine-tuned "
            "reference learns from very little here, as the issue's split rule (2023 train only) dictates."
        ),
        "source_name": "TREC iKAT",
        "repo": "https://github.com/irlabamsterdam/iKAT",
        "commit": source_commit("ikat"),
        "license": "MIT",
        "files": [name for _, filename, _, nist_file in SOURCES for name in (filename, nist_file) if name]
        + [ORG_JUDGMENTS],
        "citation": CITATION,
    }
    finish_task(task_dir, meta, "ikat", sizes, ["test"])


if __name__ == "__main__":
    main()
