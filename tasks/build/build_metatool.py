"""Build tasks/metatool from MetaTool's all_clean_data.csv and plugin_des.json.

Documents: the 199 tools (name as title, one-line description as text).
Queries: user requests; exact duplicate texts merged (all their tools relevant),
model chatter and merged-row artefacts dropped. About 20% of tools are held out:
queries relevant only to them form `test_ood`, and no train/dev query is relevant
to them. The rest is shuffled (seeded) into test (1,000), dev (500) and train.
"""

from __future__ import annotations

import csv
import json
import re

from common import (
    SOURCES_DIR, finish_task, fresh_task_dir, normalize_text, rng, source_commit, write_jsonl, write_qrels,
)

HELD_OUT_SHARE = 0.2
TEST_SIZE, DEV_SIZE, OOD_SIZE = 1000, 500, 1000
# Rows that are an LLM's reply rather than a user's request ("Sure! Here is ...").
CHATTER = re.compile(r"^\s*(sure|certainly|of course|absolutely|here (is|are)|as an ai|i'm sorry|sorry)\b", re.I)

CITATION = """
@inproceedings{huang2024metatool,
  title     = {MetaTool Benchmark for Large Language Models: Deciding Whether to Use Tools and Which to Use},
  author    = {Huang, Yue and Shi, Jiawen and Li, Yuan and Fan, Chenrui and Wu, Siyuan and Zhang, Qihui and Liu, Yixin and Zhou, Pan and Wan, Yao and Gong, Neil Zhenqiang and Sun, Lichao},
  booktitle = {The Twelfth International Conference on Learning Representations},
  year      = {2024},
  url       = {https://openreview.net/forum?id=R0c2qtalgG}
}
"""


def source_meta() -> dict:
    """The card's source fields, shared by every task built from MetaTool."""
    return {"source_name": "MetaTool", "repo": "https://github.com/HowieHwong/MetaTool",
            "commit": source_commit("metatool"), "license": "MIT",
            "files": ["dataset/data/all_clean_data.csv", "dataset/plugin_des.json"], "citation": CITATION}


def is_broken(text: str) -> bool:
    return bool(CHATTER.match(text)) or "\n" in text or len(text.split()) < 2


def clean_requests() -> tuple[dict[str, str], list[tuple[str, list[str]]], int]:
    """MetaTool's tool descriptions, its requests cleaned and merged as (first text, sorted tools),
    in source order, and the number of rows dropped as broken."""
    src = SOURCES_DIR / "metatool" / "dataset"
    descriptions: dict[str, str] = json.loads((src / "plugin_des.json").read_text(encoding="utf-8"))
    with (src / "data" / "all_clean_data.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))

    # A few generated requests end with a tool's description pasted verbatim: that is the answer.
    tool_texts = [normalize_text(d) for d in descriptions.values()]
    merged: dict[str, tuple[str, set[str]]] = {}  # normalized text -> (first text, tools)
    dropped = 0
    for row in rows:
        text, tool = row["Query"].strip(), row["Tool"].strip()
        if tool not in descriptions:
            raise SystemExit(f"all_clean_data.csv: unknown tool {tool!r}")
        if is_broken(text) or any(d in normalize_text(text) for d in tool_texts):
            dropped += 1
            continue
        key = normalize_text(text)
        merged.setdefault(key, (text, set()))[1].add(tool)
    return descriptions, [(text, sorted(ts)) for text, ts in merged.values()], dropped


def main() -> None:
    descriptions, items, dropped = clean_requests()
    tools = sorted(descriptions)
    held_out = set(rng("metatool:held-out-tools").sample(tools, round(HELD_OUT_SHARE * len(tools))))
    ood_pool = [it for it in items if set(it[1]) <= held_out]
    in_pool = [it for it in items if not set(it[1]) & held_out]
    mixed = len(items) - len(ood_pool) - len(in_pool)

    rng("metatool:in-distribution").shuffle(in_pool)
    rng("metatool:ood").shuffle(ood_pool)
    splits = {
        "train": in_pool[TEST_SIZE + DEV_SIZE:],
        "dev": in_pool[TEST_SIZE:TEST_SIZE + DEV_SIZE],
        "test": in_pool[:TEST_SIZE],
        "test_ood": ood_pool[:OOD_SIZE],
    }

    task_dir = fresh_task_dir("metatool")
    write_jsonl(task_dir / "corpus.jsonl",
                ({"_id": name, "title": name, "text": descriptions[name].strip()} for name in tools))
    queries = []
    for split, split_items in splits.items():
        qrels = {}
        for n, (text, rel_tools) in enumerate(split_items):
            qid = f"{split}-{n:05d}"
            queries.append({"_id": qid, "text": text, "context": {}})
            qrels[qid] = {t: 1 for t in rel_tools}
        write_qrels(task_dir / "qrels" / f"{split}.tsv", qrels)
    write_jsonl(task_dir / "queries.jsonl", queries)
    naming = sum(any(t.casefold() in text.casefold() for t in rel_tools)
                 for split in ("test", "test_ood") for text, rel_tools in splits[split])

    meta = {
        "id": "metatool",
        "title": "MetaTool: which tool does this request need?",
        "family": "tool",
        "description": (
            "Natural user requests to a chatbot (\"Can I find any peer-reviewed papers?\", "
            "\"I'm planning a trip to Paris next week\") must be routed to the right tool among "
            "MetaTool's 199 ChatGPT plugins, each described by its name and a one-line description. "
            "Requests rarely name the tool or its function: the need is implied by the situation."
        ),
        "notes": (
            f"Built by tasks/build/build_metatool.py (seeded). {dropped} rows dropped as broken "
            "(model chatter such as 'Sure! Here is ...', merged CSV rows, fewer than two words, a tool's "
            "description pasted into the request); "
            "exact duplicate texts (case and whitespace folded) merged into one query with all their "
            f"tools relevant. {len(held_out)} of {len(tools)} tools ({HELD_OUT_SHARE:.0%}) are held out: "
            f"test_ood samples {OOD_SIZE} of the {len(ood_pool)} queries relevant only to them; "
            f"{mixed} queries relevant to both held-out and other tools are dropped. test ({TEST_SIZE}) "
            f"and dev ({DEV_SIZE}) are seeded samples of the in-distribution queries (so both evaluation "
            "splits are within the suite's cap of 1,000 queries); the rest is train."
        ),
        "caveats": (
            "Several MetaTool tools overlap in function (e.g. several finance, travel and research "
            "tools), so some 'wrong' answers are defensible; scores are a lower bound. The requests "
            "were generated by ChatGPT from the tool descriptions, so their wording can echo the "
            "description more closely than a real user's would. "
            f"{naming} of {TEST_SIZE + OOD_SIZE} evaluation queries contain a relevant tool's name, "
            "mostly because the name is an ordinary word (hadith, Broadway, chess); they are kept."
        ),
        **source_meta(),
    }
    finish_task(task_dir, meta, "metatool", {k: len(v) for k, v in splits.items()}, ["test", "test_ood"])

if __name__ == "__main__":
    main()
