"""Build tasks/seal-tools, the suite's control task, from the Seal-Tools dataset.

Seal-Tools requests mostly say what they need ("Tell me the water quality of the lake" ->
getWaterQuality), so retrieval needs no inference about hidden intent: an augmenter that
hurts here pays tokens to do harm. Documents: the 4,076 tools (API name as title; description
and parameters as text). Queries: dev.jsonl (train.jsonl is not available) is train,
test_in_domain.jsonl is test, test_out_domain.jsonl is test_ood, kept only where none of
its tools is a train target.
"""

from __future__ import annotations

from common import (
    SOURCES_DIR, cap_queries, finish_task, fresh_task_dir, normalize_text, read_jsonl, rng, source_commit,
    trec_safe_ids, write_jsonl, write_qrels,
)

DATASET = SOURCES_DIR / "seal-tools" / "Seal-Tools_Dataset"
SPLIT_FILES = {"train": "dev.jsonl", "test": "test_in_domain.jsonl", "test_ood": "test_out_domain.jsonl"}
PARAM_CHARS = 160  # longest parameter description kept (one quotes a whole protein sequence)

CITATION = """
@misc{wu2024sealtools,
  title         = {Seal-Tools: Self-Instruct Tool Learning Dataset for Agent Tuning and Detailed Benchmark},
  author        = {Mengsong Wu and Tong Zhu and Han Han and Chuanyuan Tan and Xiang Zhang and Wenliang Chen},
  year          = {2024},
  eprint        = {2405.08355},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CL}
}
"""


def load_tools() -> dict[str, dict]:
    """API name -> tool, sorted by name; names must be unique."""
    tools: dict[str, dict] = {}
    for tool in read_jsonl(DATASET / "tool.jsonl"):
        if tool["api_name"] in tools:
            raise SystemExit(f"tool.jsonl: api_name {tool['api_name']!r} is not unique")
        tools[tool["api_name"]] = tool
    return {name: tools[name] for name in sorted(tools)}


def shorten(text: str, limit: int = PARAM_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def render_tool(tool: dict) -> str:
    """Description, then 'name: description' for required parameters, then optional ones."""
    params, required = tool["parameters"], tool["required"]
    order = [p for p in required if p in params] + [p for p in params if p not in required]
    text = " ".join(tool["api_description"].split())
    if not text.endswith((".", "?", "!")):
        text += "."
    if order:
        text += " Parameters: " + "; ".join(f"{p}: {shorten(params[p].get('description', ''))}" for p in order)
    return text


def gold_tools(row: dict) -> list[str]:
    return sorted({call["api"] for call in row["calling"]})


def load_split(name: str, tools: dict[str, dict], counts: dict[str, int]) -> dict[str, tuple[str, list[str]]]:
    """Query id -> (request, gold tools); golds missing from tool.jsonl are dropped and counted."""
    items = {}
    for row in read_jsonl(DATASET / SPLIT_FILES[name]):
        golds = gold_tools(row)
        known = [g for g in golds if g in tools]
        counts["missing_gold"] += len(golds) - len(known)
        if not known:
            counts["no_gold"] += 1
            continue
        if row["id"] in items:
            raise SystemExit(f"{SPLIT_FILES[name]}: duplicate id {row['id']!r}")
        items[row["id"]] = (row["query"].strip(), known)
    return items


def mentions_gold(text: str, golds: list[str]) -> bool:
    return any(g.casefold() in text.casefold() for g in golds)


def per_split(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())


def main() -> None:
    tools = load_tools()
    counts = {"missing_gold": 0, "no_gold": 0}
    splits = {name: load_split(name, tools, counts) for name in SPLIT_FILES}
    train_texts = {normalize_text(text) for text, _ in splits["train"].values()}
    train_tools = {g for _, golds in splits["train"].values() for g in golds}
    pools, dropped_dup, dropped_seen = {}, {}, 0
    for name in ("test", "test_ood"):
        unique = {qid: it for qid, it in splits[name].items() if normalize_text(it[0]) not in train_texts}
        dropped_dup[name] = len(splits[name]) - len(unique)
        if name == "test_ood":
            dropped_seen = sum(1 for _, golds in unique.values() if set(golds) & train_tools)
            unique = {qid: it for qid, it in unique.items() if not set(it[1]) & train_tools}
        pools[name] = len(unique)
        splits[name] = {qid: unique[qid] for qid in cap_queries(unique, f"seal-tools:{name}")}

    task_dir = fresh_task_dir("seal-tools")
    doc_id = trec_safe_ids(tools)
    write_jsonl(task_dir / "corpus.jsonl",
                ({"_id": doc_id[name], "title": name, "text": render_tool(tool)} for name, tool in tools.items()))
    queries, sizes, literal, multi = [], {}, {}, {}
    for name, items in splits.items():
        source_ids = sorted(items, key=lambda q: (q.rsplit("-", 1)[0], int(q.rsplit("-", 1)[1])))
        # Renumbered in a seeded order: the source ids say "easy" (one tool) or "difficult" (several).
        rng(f"seal-tools:order:{name}").shuffle(source_ids)
        qids = {f"{name}-{n:04d}": sid for n, sid in enumerate(source_ids)}
        queries += [{"_id": qid, "text": items[sid][0], "context": {}} for qid, sid in qids.items()]
        write_qrels(task_dir / "qrels" / f"{name}.tsv",
                    {qid: {doc_id[g]: 1 for g in items[sid][1]} for qid, sid in qids.items()})
        sizes[name] = len(items)
        literal[name] = sum(1 for text, golds in items.values() if mentions_gold(text, golds))
        multi[name] = sum(1 for _, golds in items.values() if len(golds) > 1)
    write_jsonl(task_dir / "queries.jsonl", queries)
    seen_all = sum(set(golds) <= train_tools for _, golds in splits["test"].values())
    seen_none = sum(not set(golds) & train_tools for _, golds in splits["test"].values())

    fields = len({tool["field"].split("/")[0] for tool in tools.values()})
    meta = {
        "id": "seal-tools",
        "title": "Seal-Tools: explicit tool requests (control)",
        "family": "control",
        "description": (
            "The control task. Seal-Tools requests state what they need (\"Tell me the water quality of the "
            "lake\", \"Find available rooms in New York from November 25\"), often in the words of the tool's "
            "own description, and must be matched to the right tools (one to six per request) among "
            f"{len(tools):,} self-instructed APIs across {fields} fields. Nothing here is implicit, so a "
            "retriever needs no help: an augmenter that lowers scores on this task is paying tokens to do harm."
        ),
        "notes": (
            f"Built by tasks/build/build_seal_tools.py (deterministic; no sampling below the cap). Documents: "
            f"all {len(tools)} tools of tool.jsonl, title = api_name, id = api_name with each run of whitespace "
            "replaced by '_' (TREC run and qrels files split on whitespace: 'requestFirst Aid Assistance' is "
            "'requestFirst_Aid_Assistance'; the ids are checked unique after the change), text = api_description followed by "
            "'Parameters: name: description; ...' with required parameters first (parameter descriptions "
            f"over {PARAM_CHARS} characters cut at a word). Queries: dev.jsonl is train (the source's "
            "train.jsonl was not available), test_in_domain.jsonl is test, test_out_domain.jsonl is test_ood; "
            "text = the request as given, empty context, query ids renumbered <split>-NNNN in a seeded order "
            "(the source ids name the difficulty, a hint at the number of tools); relevant = the distinct "
            f"APIs in `calling` (grade 1). Every gold API is in tool.jsonl ({counts['missing_gold']} missing, "
            f"{counts['no_gold']} queries dropped for it). Queries whose text (case and whitespace folded) "
            f"equals a train query are dropped from test and test_ood: {per_split(dropped_dup)}. Seal-Tools' "
            "out-of-domain split is out of domain for its unavailable train.jsonl, not for dev.jsonl: "
            f"{dropped_seen} test_out_domain queries have a relevant tool that is also a train target and are "
            f"dropped, leaving {pools['test_ood']} whose tools never occur in train qrels (most multi-tool "
            "requests fall to this rule). Both evaluation splits are under the "
            f"1,000-query cap (common.cap_queries keeps all: test {pools['test']}, test_ood {pools['test_ood']}). "
            f"Multi-tool queries: {per_split(multi)}. Requests that contain a gold API name literally (case "
            f"folded): {per_split(literal)}; kept, as explicit requests are the point of this task."
        ),
        "caveats": (
            "The requests and tools were generated by an LLM (self-instruct), so requests echo tool "
            "descriptions more closely than real users would, and many tools are near-duplicates "
            "(checkIn / checkInGuest; getCurrentWeather / getDestinationWeather): some 'wrong' tools are "
            "defensible and scores are a lower bound. test_ood keeps only the queries whose tools are all "
            "unseen in train, which skews it toward single-tool requests. test is in-domain for the source's "
            f"train.jsonl, not for dev.jsonl used here as train: only {seen_all} of its {len(splits['test'])} "
            f"queries have all their tools among train targets and {seen_none} have none. The citation is not published by "
            "the authors: it was assembled from the arXiv record (2405.08355; citation key and primaryClass "
            "unverified); the paper also appeared at NLPCC 2024 "
            "(doi:10.1007/978-981-97-9434-8_29)."
        ),
        "source_name": "Seal-Tools",
        "repo": "https://github.com/fairyshine/Seal-Tools",
        "commit": source_commit("seal-tools"),
        "license": "Apache-2.0",
        "files": [f"Seal-Tools_Dataset/{name}" for name in ("tool.jsonl", *SPLIT_FILES.values())],
        "citation": CITATION,
    }
    finish_task(task_dir, meta, "seal-tools", sizes, ["test", "test_ood"])

if __name__ == "__main__":
    main()
