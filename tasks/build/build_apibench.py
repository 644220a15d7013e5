"""Build tasks/apibench-hf and tasks/apibench-torchhub from Gorilla's APIBench.

APIBench pairs self-instruct task descriptions ("The user is interested in a tool to find
relationships between medical terms.") with the one model API that solves them; the
description names the need, not the model: the query is implicit, the document explicit.
Documents: the API docs of data/api/*_api.jsonl (HuggingFace docs that duplicate one
another are merged). Queries: the `###Instruction:` part of each instruction; the rest
of the upstream `code` field (input, output, api_call, code) gives the answer away and
never reaches the query. Each query has one relevant document, its gold API.

HuggingFace has no train file upstream: its eval instructions are split by gold API
(seeded), so test and dev APIs never occur in train and test APIs never occur in dev.
TorchHub keeps upstream's torchhub_train (train) and torchhub_eval (test).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from apibench_text import (
    doc_text, hf_model_names, instruction, mentions, squash, torch_model, torch_model_names,
)
from common import (
    SOURCES_DIR, cap_queries, finish_task, fresh_task_dir, normalize_text, read_jsonl, rng, source_commit,
    write_jsonl, write_qrels,
)

DATA = SOURCES_DIR / "apibench" / "data"
TEST_SHARE, DEV_SHARE = 0.4, 0.1  # shares of the HuggingFace gold APIs; the rest is train

CITATION = """
@article{patil2023gorilla,
  title={Gorilla: Large Language Model Connected with Massive APIs},
  author={Shishir G. Patil and Tianjun Zhang and Xin Wang and Joseph E. Gonzalez},
  year={2023},
  journal={arXiv preprint arXiv:2305.15334},
}
"""


def call_twins(apis: list[dict], indices: list[int]) -> set[int]:
    """Docs whose text equals another doc's but for the api_call (e.g. base and large of one model)."""
    groups = defaultdict(list)
    for i in indices:
        groups[doc_text({**apis[i], "api_call": ""})].append(i)
    return {i for group in groups.values() if len(group) > 1 for i in group}


def api_key(api: dict, without: tuple[str, ...] = ()) -> str:
    return json.dumps({k: v for k, v in api.items() if k not in without}, sort_keys=True, ensure_ascii=False)


def representatives(apis: list[dict]) -> list[int]:
    """Each doc's representative: the first doc it duplicates (same api_name and api_call, or
    identical in every field but api_call), followed transitively; else itself."""
    rep, first = list(range(len(apis))), {}
    for i, api in enumerate(apis):
        for key in ("pair:" + json.dumps([api["api_name"], api["api_call"]]), "nocall:" + api_key(api, ("api_call",))):
            if key not in first:
                first[key] = i
            elif rep[i] == i:
                rep[i] = rep[first[key]]
            elif rep[i] != rep[first[key]]:
                raise SystemExit(f"API doc {i} duplicates two different docs")
    return rep


def match_gold(api_data: dict, index: dict[str, list[int]], index_nocall: dict[str, list[int]],
               stats: dict) -> int:
    """The doc an instruction's api_data is: identical, or identical but for api_call (HF eval
    items sometimes add arguments to it). Anything else fails loudly."""
    for how, candidates in (("exact", index.get(api_key(api_data), [])),
                            ("but_call", index_nocall.get(api_key(api_data, ("api_call",)), []))):
        if len(candidates) == 1:
            stats["matched"][how] += 1
            return candidates[0]
        if len(candidates) > 1:
            raise SystemExit(f"ambiguous gold API {api_data['api_name']!r}: docs {candidates}")
    raise SystemExit(f"gold API not in the API docs: {api_data['api_name']!r} {api_data['api_call']!r}")


def load_queries(filename: str, apis: list[dict], rep: list[int], names_of, stats: dict) -> list[tuple[str, int]]:
    """(instruction, gold doc) pairs, without instructions that name their gold model or quote its call."""
    index, index_nocall = defaultdict(list), defaultdict(list)
    for i, api in enumerate(apis):
        index[api_key(api)].append(i)
        index_nocall[api_key(api, ("api_call",))].append(i)
    pairs, rows = [], read_jsonl(DATA / "apibench" / filename)
    stats["items"] += len(rows)
    for row in rows:
        text, gold = instruction(row["code"]), rep[match_gold(row["api_data"], index, index_nocall, stats)]
        names = names_of(row["api_data"], row["api_call"])
        if row["api_call"].casefold() in text.casefold() or mentions(text, names):
            stats["leaks"].append((filename, text))
        else:
            pairs.append((text, gold))
    return pairs


def dedupe(pairs: list[tuple[str, int]], stats: dict) -> list[tuple[str, int]]:
    """One query per normalized text; texts given different gold APIs are dropped."""
    golds, first = defaultdict(set), {}
    for text, gold in pairs:
        key = normalize_text(text)
        golds[key].add(gold)
        first.setdefault(key, text)
    stats["duplicates"] += len(pairs) - len(golds)
    conflicts = {key for key, gs in golds.items() if len(gs) > 1}
    stats["conflicts"] += len(conflicts)
    return [(first[key], next(iter(golds[key]))) for key in first if key not in conflicts]


def split_by_api(pairs: list[tuple[str, int]], apis: list[dict], salt: str) -> dict[str, list[tuple[str, int]]]:
    """Seeded split by API, where APIs whose docs differ only in the api_call (base/large
    checkpoints of one model) count as one API: test never holds a near-copy of a train doc."""
    group = {gold: doc_text({**apis[gold], "api_call": ""}) for _, gold in pairs}
    keys = sorted(set(group.values()))
    rng(salt).shuffle(keys)
    n_test, n_dev = round(TEST_SHARE * len(keys)), round(DEV_SHARE * len(keys))
    split_of = {k: "test" for k in keys[:n_test]} | {k: "dev" for k in keys[n_test:n_test + n_dev]}
    splits = {"train": [], "dev": [], "test": []}
    for text, gold in pairs:
        splits[split_of.get(group[gold], "train")].append((text, gold))
    return splits


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._/@:-]+", "-", name).strip("-")


def unique_ids(names: list[str]) -> list[str]:
    """Slugs, with -2, -3, ... appended (in file order) where they collide."""
    ids, seen = [], set()
    for name in names:
        base, n = slug(name), 1
        candidate = base
        while candidate in seen:
            n += 1
            candidate = f"{base}-{n}"
        seen.add(candidate)
        ids.append(candidate)
    return ids


def torch_doc_name(api: dict) -> str:
    repo = re.search(r"repo_or_dir='([^']+)'", api["api_call"]).group(1)
    model = torch_model(api["api_call"])
    return f"{repo}/{model}" if model else repo


def torch_title(api: dict) -> str:
    """api_name (model); the model alone where api_name is just the loading call ('torch.hub.load')."""
    model, name = torch_model(api["api_call"]), api["api_name"]
    if not model or squash(model) == squash(name):
        return name
    return model if api["api_call"].startswith(name) else f"{name} ({model})"


def write_task(task_id: str, docs: list[dict], splits: dict[str, list[tuple[str, int]]],
               doc_ids: list[str]) -> tuple[Path, dict[str, int]]:
    """corpus, queries and qrels; the test split goes through the suite's evaluation cap."""
    task_dir = fresh_task_dir(task_id)
    write_jsonl(task_dir / "corpus.jsonl", docs)
    queries, sizes = [], {}
    for split, pairs in splits.items():
        qrels = {f"{split}-{n:04d}": {doc_ids[gold]: 1} for n, (_, gold) in enumerate(pairs)}
        if split == "test":
            kept = set(cap_queries(qrels, f"{task_id}:{split}"))
            qrels = {qid: rel for qid, rel in qrels.items() if qid in kept}
        queries += [{"_id": f"{split}-{n:04d}", "text": text, "context": {}}
                    for n, (text, _) in enumerate(pairs) if f"{split}-{n:04d}" in qrels]
        write_qrels(task_dir / "qrels" / f"{split}.tsv", qrels)
        sizes[split] = len(qrels)
    write_jsonl(task_dir / "queries.jsonl", queries)
    return task_dir, sizes


def new_stats() -> dict:
    return {"items": 0, "matched": {"exact": 0, "but_call": 0}, "leaks": [], "duplicates": 0, "conflicts": 0}


def build_hf() -> None:
    apis = read_jsonl(DATA / "api" / "huggingface_api.jsonl")
    rep = representatives(apis)
    kept = [i for i in range(len(apis)) if rep[i] == i]
    ids = dict(zip(kept, unique_ids([apis[i]["api_name"] for i in kept])))
    doc_ids = [ids[rep[i]] for i in range(len(apis))]
    docs = [{"_id": ids[i], "title": apis[i]["api_name"], "text": doc_text(apis[i])} for i in kept]

    stats = new_stats()
    pairs = load_queries("huggingface_eval.json", apis, rep, hf_model_names, stats)
    pairs = dedupe(pairs, stats)
    splits = split_by_api(pairs, apis, "apibench-hf:api-split")
    task_dir, sizes = write_task("apibench-hf", docs, splits, doc_ids)
    n_apis = {split: len({gold for _, gold in ps}) for split, ps in splits.items()}
    per_api = Counter(gold for _, gold in pairs)
    twins = call_twins(apis, kept)
    twin_tests = sum(gold in twins for _, gold in splits["test"])

    meta = {
        "id": "apibench-hf",
        "title": "APIBench HuggingFace: which model API does this task need? (unseen APIs)",
        "family": "tool",
        "description": (
            "Developers describe what they need done (\"Design a feature for a social media website to "
            "recommend articles to users based on how similar the articles are to their previously liked "
            "articles.\", \"The user is interested in a tool to find relationships between medical terms.\") "
            f"and the right HuggingFace model API must be found among {len(docs)} API docs. The request does "
            "not name the model or its loading call: the API is implied by the task, the data and the "
            "domain. Test APIs never occur in train, nor do near-copies of them (the same doc with another "
            "checkpoint in its api_call)."
        ),
        "notes": (
            "Built by tasks/build/build_apibench.py (seeded). Documents: the "
            f"{len(apis)} docs of data/api/huggingface_api.jsonl, less {len(apis) - len(docs)} that duplicate "
            "an earlier doc (same api_name and api_call, or identical in every field but api_call, e.g. "
            "pipeline('fill-mask') beside pipeline('fill-mask', model='bert-base-uncased')) and are merged "
            f"into it: {len(docs)} docs. _id = api_name made id-safe (-2, -3 on collisions); text = domain, "
            "functionality, description, api_call, framework, dataset names. Queries: the instruction of each "
            f"of the {stats['items']} items of data/apibench/huggingface_eval.json, i.e. the text after "
            "###Instruction: up to the next ### marker (###Input:, ###Output:, which hold the answer, are cut). "
            f"Gold API: the doc equal to the item's api_data ({stats['matched']['exact']} items) or equal to it "
            f"in every field but api_call ({stats['matched']['but_call']} items, whose api_call differs, mostly "
            "by added arguments such as torch_dtype); each match is unique. "
            f"{len(stats['leaks'])} instructions that name their gold model (its api_name or a model id quoted "
            "in its api_call, or their last path component, as whole words with case and punctuation folded, "
            "e.g. 'Hubert-large-ll60k', 'StreetCLIP') or quote its api_call are dropped; "
            f"{stats['duplicates']} repeated instructions (case and whitespace folded) are merged and "
            f"{stats['conflicts']} texts given different gold APIs are dropped. Upstream has no train file, so "
            "the instructions are split by gold API, seeded, APIs whose docs differ only in the api_call "
            f"counting as one: {TEST_SHARE:.0%} of these groups go to test, {DEV_SHARE:.0%} to dev, the rest "
            f"to train, with all their instructions ({n_apis['test']} / {n_apis['dev']} / {n_apis['train']} "
            "gold APIs). The test split is therefore an unseen-API (out-of-distribution) split: fine-tuning "
            "never sees its APIs, and dev APIs are unseen in train too. An API has 1 to "
            f"{max(per_api.values())} instructions ({sum(n == 1 for n in per_api.values())} APIs have one)."
        ),
        "caveats": (
            "Instructions were generated by an LLM with Self-Instruct from the API docs (Gorilla paper), so "
            "their style is uniform and some are near paraphrases of the API's description. Many APIs serve "
            "the same function (dozens of text classifiers, translators, depth estimators), so several "
            "'wrong' answers are defensible and scores are a lower bound. "
            "Upstream's API docs are noisy: some functionality and framework fields are wrong, descriptions "
            "vary from one line to a model card excerpt, and a few api_names are shared by different models "
            f"(kept apart, ids suffixed -2, -3). {len(twins)} docs have the same text as another doc but for "
            "the api_call (sizes or checkpoints of one model, e.g. facebook/bart-base and bart-large, or five "
            "glpn-nyu-finetuned-diode checkpoints, with one description); they are different models and stay "
            f"apart, and {twin_tests} of the {sizes['test']} test queries have such a gold doc, which only its "
            "title and api_call tell apart. Leakage was checked by whole-word matches of the gold api_call, "
            "api_name and quoted model ids (case and punctuation folded): looser mentions (a model family, "
            "a sibling checkpoint) may remain."
        ),
        "source_name": "Gorilla APIBench",
        "repo": "https://github.com/ShishirPatil/gorilla",
        "commit": source_commit("apibench"),
        "license": "Apache-2.0",
        "files": ["data/api/huggingface_api.jsonl", "data/apibench/huggingface_eval.json"],
        "citation": CITATION,
    }
    finish_task(task_dir, meta, "apibench", sizes, ["test"])
    report(meta["id"], stats, n_apis)


def build_torchhub() -> None:
    apis = read_jsonl(DATA / "api" / "torchhub_api.jsonl")
    rep = list(range(len(apis)))
    if len({api["api_call"] for api in apis}) != len(apis):
        raise SystemExit("torchhub_api.jsonl: api_call is not unique")
    doc_ids = [torch_doc_name(api) for api in apis]
    if len(set(doc_ids)) != len(doc_ids) or any(slug(d) != d for d in doc_ids):
        raise SystemExit("torchhub_api.jsonl: repo/model ids are not unique and id-safe")
    docs = [{"_id": doc_ids[i], "title": torch_title(api), "text": doc_text(api)} for i, api in enumerate(apis)]

    stats = new_stats()
    test = dedupe(load_queries("torchhub_eval.json", apis, rep, torch_model_names, stats), stats)
    train = dedupe(load_queries("torchhub_train.json", apis, rep, torch_model_names, stats), stats)
    test_keys = {normalize_text(text) for text, _ in test}
    overlap = sum(normalize_text(text) in test_keys for text, _ in train)
    train = [(text, gold) for text, gold in train if normalize_text(text) not in test_keys]
    splits = {"train": train, "test": test}
    task_dir, sizes = write_task("apibench-torchhub", docs, splits, doc_ids)
    n_apis = {split: len({gold for _, gold in ps}) for split, ps in splits.items()}
    train_apis = {gold for _, gold in train}
    seen = len({gold for _, gold in test} & train_apis)
    seen_queries = sum(gold in train_apis for _, gold in test)
    twins = call_twins(apis, list(range(len(apis))))
    twin_tests = sum(gold in twins for _, gold in test)

    meta = {
        "id": "apibench-torchhub",
        "title": "APIBench TorchHub: which PyTorch Hub model does this task need?",
        "family": "tool",
        "description": (
            "Developers ask for a model by what it must do (\"What is an API that can be used to classify "
            "sports activities in videos?\", \"Identify an API capable of converting spoken language in a "
            f"recording to text.\") and the right PyTorch Hub model must be found among {len(docs)} API docs. "
            "The request describes the task, rarely the architecture, and never the hub repository or model."
        ),
        "notes": (
            "Built by tasks/build/build_apibench.py. Documents: the "
            f"{len(docs)} docs of data/api/torchhub_api.jsonl (api_call is unique); _id = repo_or_dir/model "
            "from the api_call; title = api_name (model), or the model alone where api_name is the loading "
            "call 'torch.hub.load'; text = domain, functionality, description, api_call, framework, dataset "
            "names. Queries: train = data/apibench/torchhub_train.json, test = "
            "data/apibench/torchhub_eval.json (upstream's split), instruction text only (torchhub_eval: "
            "after ###Instruction: up to ###Output:; torchhub_train: the 'Instruction' value of its dict "
            "layout; the output, api_call and code are cut). Every item's api_data equals exactly one doc. "
            f"{len(stats['leaks'])} instructions that name their gold API (its api_name, or the api_call's "
            "hub repository or model argument, as whole words with case and punctuation folded, e.g. "
            "'Densenet-201', 'IBN-Net') or quote its api_call are dropped; "
            f"{stats['duplicates']} repeated instructions within a split are merged, {stats['conflicts']} "
            f"texts given different gold APIs dropped, and {overlap} train instructions that repeat a test "
            f"instruction dropped from train. {seen} of the {n_apis['test']} test gold APIs also occur in "
            f"train ({seen_queries} of {sizes['test']} test queries): test is in-distribution, as upstream; "
            "apibench-hf is the unseen-API counterpart."
        ),
        "caveats": (
            "Instructions were generated by an LLM with Self-Instruct from the API docs (Gorilla paper). "
            "The corpus is small and crowded: most docs are ImageNet classifiers (ResNet, ResNeXt, DenseNet, "
            f"VGG, EfficientNet, MEAL V2, ... in several sizes): {len(twins)} of the {len(docs)} docs have the "
            "same text as another doc but for the api_call, so only their title and api_call (the model "
            f"name) tell them apart, and {twin_tests} of the {sizes['test']} test queries have such a gold doc. "
            "Many 'wrong' answers are therefore defensible and scores are a lower bound. Upstream fields are "
            "noisy (most docs have domain 'Classification', some api_names are generic such as "
            "'torch.hub.load'). Leakage was checked by whole-word matches only: instructions that name an "
            "architecture otherwise than their gold doc's names do (a family, a sibling model) are kept."
        ),
        "source_name": "Gorilla APIBench",
        "repo": "https://github.com/ShishirPatil/gorilla",
        "commit": source_commit("apibench"),
        "license": "Apache-2.0",
        "files": ["data/api/torchhub_api.jsonl", "data/apibench/torchhub_train.json",
                  "data/apibench/torchhub_eval.json"],
        "citation": CITATION,
    }
    finish_task(task_dir, meta, "apibench", sizes, ["test"])
    report(meta["id"], stats, n_apis)


def report(task_id: str, stats: dict, n_apis: dict[str, int]) -> None:
    print(f"  {task_id}: gold APIs per split {n_apis}; {len(stats['leaks'])} leaking instructions dropped, "
          f"{stats['duplicates']} duplicates merged, {stats['conflicts']} conflicting texts dropped")


def main() -> None:
    build_hf()
    build_torchhub()


if __name__ == "__main__":
    main()
