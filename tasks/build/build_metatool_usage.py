"""Build tasks/metatool-usage: real MetaTool requests, simulated users whose usage decides the tool.

Requests are MetaTool's (cleaned as build_metatool.py cleans them). Tools that do the same job
are curated into GROUPS; a request is drawn from the pooled requests of a group's tools, so its
text tells the group but, by construction, not which tool of the group is the answer. The
answer is the tool the simulated user uses for that group in that situation (RULE below). Each
query's context carries what a phone assistant would know: local time and weekday, place, the
user's usage of each tool over the 30 days before, and their last requests with the tool used.

Users and their logs are synthetic (seeded); nothing here is a real person's data. The build
also writes simulation.json (every user's habits and each query's user and group) so that
anyone can recompute the qrels from the rule, and the two reference accuracies of the card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from build_metatool import clean_requests, source_meta
from common import SOURCES_DIR, finish_task, fresh_task_dir, rng, write_jsonl, write_qrels

from benchmark.signals import daypart, day_kind

TASK_ID = "metatool-usage"
SOURCE_SHA256 = {  # the files this builder was written for: another version would silently change the task
    "dataset/plugin_des.json": "c446ade5acfb8e16c477124250665021e63b11bf6cb232db04fc9ba6bed0389a",
    "dataset/data/all_clean_data.csv": "cf2eb0474396677530931def51012da4e88f9f34f655332f04177b2054101baf",
}
GROUPS: dict[str, tuple[str, ...]] = {  # tools a user could equally pick for the same request
    "web search": ("internetSearch", "MixerBox_WebSearchG_web_search", "total_query_meta_search_engine",
                   "metaphor_search_api", "jini"),
    "papers": ("ResearchFinder", "ResearchHelper"),
    "travel": ("TripTool", "TripAdviceTool"),
    "investing": ("FinanceTool", "portfoliopilot", "Magnetis"),
    "news": ("NewsTool", "lsongai"),
    "qr codes": ("create_qr_code", "qreator", "universal"),
    "video summaries": ("VideoSummarizeTool", "SummarizeAnything_pr", "video_highlight"),
    "football": ("Agones", "keyplays_football"),
    "horoscopes": ("Horoscopes_by_Inner_Self", "StrologyTool"),
    "seo": ("SEOTool", "seoanalysis", "bramework", "keywordexplorer"),
    "companies": ("CompanyInfoTool", "clearbit_integration", "chatspot", "brandfetch"),
    "languages": ("MixerBox_Translate_AI_language_tutor", "speak"),
    "space": ("NASATool", "stellarexplorer"),
    "notes": ("NotesTool", "reflect_notes"),
    "web pages": ("web_requests", "web_scraper"),
    "what to watch": ("MediaTool", "what_to_watch"),
    "gifts": ("GiftTool", "shimmer_daily"),
    "clinical trials": ("CTCP", "clinical_trial_radar"),
    "servers": ("AutoInfra1", "SSH"),
    "ads": ("Google_Ads_Shopping_Microsoft_Ads_pay_per_click", "RoboAd", "competitorppcads"),
}
EXCEPTIONS = (("place", "work"), ("place", "commute"), ("place", "abroad"), ("daypart", "evening"),
              ("day", "weekend"))
START = datetime(2026, 1, 5)  # a Monday
WINDOW_DAYS, HISTORY_EVENTS = 21, 3
TEXT_POOLS = (("train", 0.55), ("dev", 0.1), ("test", 0.2), ("test_ood", 0.15))  # disjoint request texts


@dataclass(frozen=True)
class Sizes:
    """How much to simulate. Seen users' days: log only, then train, dev, test (a temporal split);
    new users (test_ood) have a short log, then their queries."""

    seen_users: int = 60
    new_users: int = 40
    log_days: int = 30
    train_days: int = 60
    dev_days: int = 10
    test_days: int = 20
    new_log_days: int = 5
    new_query_days: int = 10
    events_per_day: float = 2.5
    groups_per_user: tuple[int, int] = (5, 9)
    exception_share: float = 0.6
    log_noise: float = 0.1
    trips: int = 2
    caps: tuple[tuple[str, int], ...] = (("train", 1600), ("dev", 300), ("test", 400), ("test_ood", 400))


SAMPLE = Sizes(seen_users=4, new_users=3, log_days=5, train_days=10, dev_days=3, test_days=3, new_log_days=2,
               new_query_days=3, trips=1, caps=(("train", 40), ("dev", 10), ("test", 10), ("test_ood", 10)))


def rule(habit: dict, moment: datetime, place: str) -> str:
    """THE generative rule: the user's exception tool when its condition holds, else their usual tool."""
    exception = habit.get("exception")
    if exception:
        value = {"place": place, "daypart": daypart(moment), "day": day_kind(moment)}[exception["kind"]]
        if value == exception["value"]:
            return exception["tool"]
    return habit["usual"]


def place_at(moment: datetime, user_rng, trips: list[tuple[datetime, datetime]]) -> str:
    if any(start <= moment < end for start, end in trips):
        return "abroad"
    hour, weekday = moment.hour, moment.weekday() < 5
    if weekday and 9 <= hour < 17:
        return "work" if user_rng.random() < 0.85 else "home"
    if weekday and (7 <= hour < 9 or 17 <= hour < 19):
        return "commute" if user_rng.random() < 0.7 else "home"
    return "home"


def request_pools(items: list[tuple[str, list[str]]]) -> tuple[dict[str, dict[str, list[str]]], int]:
    """group -> text pool name -> request texts: single-tool requests of the group's tools that
    name no tool of the group, split (seeded) into disjoint pools; and how many named one."""
    pools: dict[str, dict[str, list[str]]] = {}
    naming = 0
    for group, tools in GROUPS.items():
        own = [text for text, ts in items if len(ts) == 1 and ts[0] in tools]
        texts = sorted(text for text in own if not any(
            name in text.casefold() for t in tools for name in (t.casefold(), t.replace("_", " ").casefold())))
        naming += len(own) - len(texts)
        rng(f"usage:pool:{group}").shuffle(texts)
        pools[group], start = {}, 0
        for n, (name, share) in enumerate(TEXT_POOLS):
            end = len(texts) if n == len(TEXT_POOLS) - 1 else start + round(share * len(texts))
            pools[group][name], start = texts[start:end], end
    return pools, naming


def make_user(uid: str, sizes: Sizes, popularity: dict[str, list[float]]) -> dict:
    r = rng(f"usage:user:{uid}")
    groups = r.sample(sorted(GROUPS), r.randint(*sizes.groups_per_user))
    habits = {}
    for group in sorted(groups):
        tools = GROUPS[group]
        usual = r.choices(tools, weights=popularity[group])[0]
        habit: dict = {"usual": usual, "weight": round(r.uniform(0.5, 3.0), 2)}
        if r.random() < sizes.exception_share:
            kind, value = r.choice(EXCEPTIONS)
            habit["exception"] = {"kind": kind, "value": value, "tool": r.choice([t for t in tools if t != usual])}
        habits[group] = habit
    return {"habits": habits}


def simulate(uid: str, user: dict, days: int, sizes: Sizes, trips: int) -> list[dict]:
    """The user's requests over `days` days from START, in time order (tools not yet assigned)."""
    r = rng(f"usage:events:{uid}")
    spans = []
    for _ in range(trips):
        start = START + timedelta(days=r.randrange(max(days - 6, 1)))
        spans.append((start, start + timedelta(days=r.randint(3, 6))))
    user["trips"] = [[s.isoformat(timespec="minutes"), e.isoformat(timespec="minutes")] for s, e in spans]
    groups = sorted(user["habits"])
    weights = [user["habits"][g]["weight"] for g in groups]
    events = []
    for day in range(days):
        for _ in range(_poisson(r, sizes.events_per_day)):
            moment = START + timedelta(days=day, hours=r.randint(7, 23), minutes=r.randrange(60))
            events.append({"time": moment, "place": place_at(moment, r, spans),
                           "group": r.choices(groups, weights=weights)[0]})
    events.sort(key=lambda e: e["time"])
    return events


def _poisson(r, mean: float) -> int:
    """Knuth's method (random.Random has no Poisson draw)."""
    limit, n, p = 2.718281828459045 ** -mean, 0, r.random()
    while p > limit:
        n, p = n + 1, p * r.random()
    return n


def usage_context(past: list[dict], moment: datetime) -> dict:
    """The usage signal of one query: per tool, uses in the WINDOW_DAYS before `moment`."""
    usage: dict[str, dict] = {}
    for e in past:
        if e["time"] < moment - timedelta(days=WINDOW_DAYS):
            continue
        entry = usage.setdefault(e["tool"], {"count": 0, "last_used": "", "dayparts": Counter(), "days": Counter(),
                                             "places": Counter()})
        entry["count"] += 1
        entry["last_used"] = e["time"].isoformat(timespec="minutes")
        entry["dayparts"][daypart(e["time"])] += 1
        entry["days"][day_kind(e["time"])] += 1
        entry["places"][e["place"]] += 1
    return {tool: {**u, **{k: dict(sorted(u[k].items())) for k in ("dayparts", "days", "places")}}
            for tool, u in sorted(usage.items())}


def check_sources() -> None:
    for name, expected in SOURCE_SHA256.items():
        path = SOURCES_DIR / "metatool" / name
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise SystemExit(f"metatool/{name}: sha256 {actual[:12]}…, but this builder was written for "
                             f"{expected[:12]}…; check the source's COMMIT, then review the builder before updating "
                             "SOURCE_SHA256")


def build(out_root: Path | None, sizes: Sizes) -> dict:
    descriptions, items, _ = clean_requests()
    missing = sorted(t for tools in GROUPS.values() for t in tools if t not in descriptions)
    if missing:
        raise SystemExit(f"plugin_des.json: the curated groups name unknown tools {missing}")
    pools, naming = request_pools(items)
    popularity = {}
    for group, tools in GROUPS.items():  # a few tools are everyone's default; ranks shuffled per group
        ranks = list(range(len(tools)))
        rng(f"usage:popularity:{group}").shuffle(ranks)
        popularity[group] = [1.0 / (1 + k) for k in ranks]

    caps = dict(sizes.caps)
    seen_blocks = [("log", sizes.log_days), ("train", sizes.train_days), ("dev", sizes.dev_days),
                   ("test", sizes.test_days)]
    users, candidates, timelines = {}, {split: [] for split in caps}, {}
    for n in range(sizes.seen_users + sizes.new_users):
        new = n >= sizes.seen_users
        uid = f"u{n:03d}"
        user = make_user(uid, sizes, popularity)
        blocks = [("log", sizes.new_log_days), ("test_ood", sizes.new_query_days)] if new else seen_blocks
        events = simulate(uid, user, sum(d for _, d in blocks), sizes, 1 if new else sizes.trips)
        user["kind"] = "new" if new else "seen"
        edges, day = [], 0
        for block, length in blocks:
            day += length
            edges.append((START + timedelta(days=day), block))
        r = rng(f"usage:texts:{uid}")
        for i, e in enumerate(events):
            e["block"] = next(b for end, b in edges if e["time"] < end)
            pool = pools[e["group"]]["test_ood" if new else ("train" if e["block"] == "log" else e["block"])]
            e["text"] = r.choice(pool)
            if e["block"] != "log":
                candidates[e["block"]].append((uid, i))
        users[uid], timelines[uid] = user, events

    chosen = {}
    for split, cands in candidates.items():
        picked = cands if len(cands) <= caps[split] else rng(f"usage:queries:{split}").sample(cands, caps[split])
        chosen.update({key: split for key in picked})
    for uid, events in timelines.items():
        r = rng(f"usage:noise:{uid}")
        for i, e in enumerate(events):
            habit = users[uid]["habits"][e["group"]]
            e["tool"] = rule(habit, e["time"], e["place"])
            if (uid, i) not in chosen and r.random() < sizes.log_noise:  # logs are noisy, qrels are not
                e["tool"] = r.choice(GROUPS[e["group"]])

    task_dir = fresh_task_dir(TASK_ID, out_root)
    tools = sorted(descriptions)
    write_jsonl(task_dir / "corpus.jsonl",
                ({"_id": name, "title": name, "text": descriptions[name].strip()} for name in tools))
    queries, qrels, where = [], {split: {} for split in caps}, {}
    counters = Counter()
    for (uid, i), split in sorted(chosen.items(), key=lambda kv: (list(caps).index(kv[1]), kv[0])):
        events = timelines[uid]
        e = events[i]
        qid = f"{split}-{uid}-{counters[(split, uid)]:03d}"
        counters[(split, uid)] += 1
        context = {
            "time": e["time"].isoformat(timespec="minutes"),
            "weekday": e["time"].strftime("%A"),
            "place": e["place"],
            "usage": usage_context(events[:i], e["time"]),
            "history": [{"role": "user", "text": p["text"], "item": p["tool"]} for p in events[max(i - HISTORY_EVENTS, 0):i]],
        }
        queries.append({"_id": qid, "text": e["text"], "context": context})
        qrels[split][qid] = {e["tool"]: 1}
        where[qid] = {"user": uid, "group": e["group"]}
    for split, split_qrels in qrels.items():
        write_qrels(task_dir / "qrels" / f"{split}.tsv", split_qrels)
    write_jsonl(task_dir / "queries.jsonl", queries)
    simulation = {"groups": {g: list(t) for g, t in GROUPS.items()}, "users": users, "queries": where}
    (task_dir / "simulation.json").write_text(json.dumps(simulation, indent=1, sort_keys=True) + "\n",
                                              encoding="utf-8")
    return {"task_dir": task_dir, "queries": queries, "qrels": qrels, "where": where, "naming": naming}


def accuracies(built: dict, split: str) -> dict[str, float]:
    """The card's two reference points on one split: the text-only ceiling (knowing the query's
    group, the most any text-only system can do: the group's most common answer in this split)
    and the signal-only rule (the group's most used tool in the query's usage, ties to the most
    recent; no use of the group in the window: the group's most common answer in train)."""
    qrels, where = built["qrels"][split], built["where"]
    contexts = {q["_id"]: q["context"] for q in built["queries"]}
    answer = {qid: next(iter(rel)) for qid, rel in qrels.items()}
    by_group = Counter((where[q]["group"], a) for q, a in answer.items())
    train = Counter((where[q]["group"], next(iter(r))) for q, r in built["qrels"]["train"].items())
    best = {}
    for (group, tool), n in sorted(by_group.items()):
        best[group] = max(best.get(group, 0), n)
    text_only = sum(best.values()) / len(answer)
    hits = 0
    for qid, gold in answer.items():
        group = where[qid]["group"]
        usage = contexts[qid]["usage"]
        used = [(usage[t]["count"], usage[t]["last_used"], t) for t in GROUPS[group] if t in usage]
        if used:
            guess = max(used)[2]
        else:
            guess = max(GROUPS[group], key=lambda t: (train[(group, t)], t))
        hits += guess == gold
    return {"text_only": text_only, "signal_only": hits / len(answer)}


def card(built: dict, sizes: Sizes, dropped_names: int) -> dict:
    acc = {split: accuracies(built, split) for split in ("test", "test_ood")}
    n_tools = sum(len(t) for t in GROUPS.values())
    counts = {split: len(q) for split, q in built["qrels"].items()}
    history_share = sum(bool(q["context"]["history"]) for q in built["queries"]) / len(built["queries"])
    no_usage = {}
    for split in ("test", "test_ood"):
        qs = [q for q in built["queries"] if q["_id"] in built["qrels"][split]]
        no_usage[split] = sum(not any(t in q["context"]["usage"] for t in GROUPS[built["where"][q["_id"]]["group"]])
                              for q in qs) / len(qs)
    fmt = {split: f"text-only ceiling {a['text_only']:.3f}, signal-only rule {a['signal_only']:.3f}"
           for split, a in acc.items()}
    return {
        "id": TASK_ID,
        "title": "MetaTool with usage: which of several equivalent tools does this user use here and now?",
        "family": "usage",
        "description": (
            "Real MetaTool requests (\"Show me family-friendly hotels in Naha, Okinawa.\") asked by simulated users of a "
            f"phone assistant. {len(GROUPS)} groups of MetaTool tools do the same job ({n_tools} tools, e.g. five "
            "web search tools, three QR code makers); the request tells the group, but which tool of the group "
            "is right depends on the user: their habits, where they are and when. The context gives the local "
            "`time` and `weekday`, the `place` (home, work, commute, abroad), `usage` (for each tool the user "
            f"used in the {WINDOW_DAYS} days before: count, last use, and counts by daypart, kind of day and place) "
            f"and `history` (the user's last {HISTORY_EVENTS} requests, each with the tool used as `item`). "
            "The corpus is all of MetaTool's 199 tools."
        ),
        "notes": (
            "Built by tasks/build/build_metatool_usage.py (seeded; byte-identical on rebuild). THE USERS ARE "
            "SYNTHETIC; the request texts are MetaTool's. Generative rule: each user draws 5 to 9 groups with "
            "a weight each, and for each group a usual tool (drawn with the group's popularity: weights "
            "1, 1/2, 1/3, ... over a seeded order of its tools) and, with probability "
            f"{sizes.exception_share}, one exception: a condition (place is work, commute or abroad; daypart is "
            "evening, 18-24 h; or the day is a weekend) under which they use another tool of the group instead. "
            f"A user makes a Poisson({sizes.events_per_day}) number of requests a day at a uniform hour between "
            "7 and 23; the place follows the clock (weekdays 9-17 h at work with probability 0.85, 7-9 and 17-19 h "
            "commuting with probability 0.7, else home) except on trips, when it is abroad. Each request picks "
            "a group by the user's weights and a text uniformly from that group's pooled single-tool requests; "
            "the tool used is the rule's (exception tool if its condition holds, else the usual tool). The query's "
            "one relevant tool is exactly that; logged requests that are not queries use a random tool of the "
            f"group with probability {sizes.log_noise} (logs are noisy, qrels are not). simulation.json holds "
            "every user's habits and each query's user and group, so the qrels can be recomputed. "
            f"Seen users ({sizes.seen_users}): {sizes.log_days} days of log, then train ({sizes.train_days} days), "
            f"dev ({sizes.dev_days}) and test ({sizes.test_days}): a temporal split. test_ood: {sizes.new_users} "
            f"new users with {sizes.new_log_days} days of log before their queries (cold start). Request texts "
            "are split into disjoint pools (train 55%, dev 10%, test 20%, test_ood 15% of each group's texts), "
            f"so no evaluation text appears in train; {dropped_names} requests naming a tool of their group are "
            "left out. Queries are seeded samples of each block's requests: "
            + ", ".join(f"{k} {v}" for k, v in counts.items()) + ". "
            f"How much is in the text and how much in the signals (accuracy at rank 1): test: {fmt['test']}; "
            f"test_ood: {fmt['test_ood']}. Power: with 400 queries and a standard deviation of 0.3 in per-query "
            "nDCG@10 differences, a paired test (alpha 0.05, power 0.8) detects a difference of 0.042."
        ),
        "caveats": (
            "The users are simulated: the rule is simple and known, so a system that learns it can score far "
            "above what real users would allow; the task tests whether a retriever can use usage and "
            "geo-temporal signals at all, not how real people choose tools. The groups were curated by reading "
            "the tool descriptions; some tools of a group differ in detail, which the text could hint at, but the "
            "answer is drawn independently of the text's source tool. "
            f"{no_usage['test']:.0%} of test and {no_usage['test_ood']:.0%} of test_ood queries have no use of "
            f"the query's group in their usage window; {history_share:.0%} of queries have history."
        ),
        **source_meta(),
        "accuracies": acc,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the task under this folder instead of tasks/")
    parser.add_argument("--sample", action="store_true", help="a tiny simulation (for the rebuild test)")
    parser.add_argument("--any-source", action="store_true",
                        help="skip the source checksum check (for tests on generated sources)")
    args = parser.parse_args()
    if not args.any_source:
        check_sources()
    sizes = SAMPLE if args.sample else Sizes()
    built = build(args.out, sizes)
    meta = card(built, sizes, built["naming"])
    finish_task(built["task_dir"], meta, "metatool", {k: len(v) for k, v in built["qrels"].items()},
                ["test", "test_ood"])
    for split, acc in meta["accuracies"].items():
        print(f"  {split}: text-only ceiling {acc['text_only']:.3f}, signal-only rule {acc['signal_only']:.3f}")


if __name__ == "__main__":
    main()
