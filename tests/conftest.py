"""A tiny real task (tools and implicit requests) built in a temporary suite folder, plus the real suite."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from benchmark.task import write_checksums, write_suite

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Tests never read or write the user's cache: one temporary cache for the session."""
    os.environ["IQBENCH_CACHE"] = tempfile.mkdtemp(prefix="iqbench-test-cache-")

DOCS = {
    "weather": ("WeatherNow", "Hourly forecasts: rain, temperature and wind for any city."),
    "flights": ("FlyFinder", "Search and compare airline flights and ticket prices."),
    "recipes": ("ChefBot", "Cooking recipes by ingredient, cuisine and diet."),
    "stocks": ("TickerTape", "Live stock quotes, market news and portfolio tracking."),
    "translate": ("Polyglot", "Translate text between more than 100 languages."),
    "jobs": ("CareerScout", "Job listings by role, location and salary."),
    "fitness": ("FitCoach", "Workout plans and exercise routines for any fitness level."),
    "movies": ("ReelPicks", "Movie recommendations, showtimes and reviews."),
    "music": ("TuneStream", "Stream songs, albums and playlists."),
    "maps": ("RouteWise", "Driving directions, traffic and public transport routes."),
    "news": ("DailyBrief", "Top headlines and breaking news from around the world."),
    "hotels": ("StayScout", "Book hotel rooms and compare accommodation prices."),
}

TRAIN = [
    ("Should I take an umbrella today?", ["weather"]),
    ("Is it going to be cold tomorrow morning?", ["weather"]),
    ("I need to get to Berlin next week as cheaply as possible.", ["flights"]),
    ("What can I make with eggs and spinach?", ["recipes"]),
    ("How is my Apple position doing?", ["stocks"]),
    ("What does 'gracias' mean?", ["translate"]),
    ("I'm looking for a new position as a nurse.", ["jobs"]),
    ("I want to get in shape before summer.", ["fitness"]),
    ("Anything good to watch tonight?", ["movies"]),
    ("Play something relaxing.", ["music"]),
    ("How do I get to the airport from downtown?", ["maps"]),
    ("What happened in the world today?", ["news"]),
    ("I need somewhere to sleep in Rome on Friday.", ["hotels"]),
    ("Planning a weekend away in Lisbon, flight and room.", ["flights", "hotels"]),
]
TEST = [
    # (text, relevant, context, explicit)
    ("Will it be okay for the picnic?", ["weather"],
     {"history": [{"role": "user", "text": "We are having a picnic in the park on Saturday."}]},
     "What will the weather be like in the park on Saturday?"),
    ("Find me something for that.", ["recipes"],
     {"profile": ["I'm vegetarian.", "I love Italian food."]},
     "Find me a vegetarian Italian recipe."),
    ("How do I say that in Spanish?", ["translate"], {}, "Translate this sentence into Spanish."),
    ("Any openings near me?", ["jobs"], {"profile": ["I'm a software engineer in Austin."]},
     "Find software engineering job listings in Austin."),
    ("I'm heading out.", ["maps", "weather"], {"location": "Paris", "time": "08:00"},
     "Directions and the weather for my trip across Paris this morning."),
    ("What should I put on in the car?", ["music"], {}, "Recommend songs to play while driving."),
]


def write_task_card(task: Path, task_id: str, title: str, family: str) -> None:
    """A fixture task's folder with its qrels/ folder, task.toml (test split evaluated) and LICENSE."""
    (task / "qrels").mkdir(parents=True)
    (task / "task.toml").write_text(
        f'id = "{task_id}"\ntitle = "{title}"\nfamily = "{family}"\nmain_metric = "ndcg_cut_10"\n'
        'eval_splits = ["test"]\ndescription = "A fixture."\nnotes = ""\ncaveats = ""\n\n'
        f'[source]\nrepo = "https://example.org/{task_id}"\ncommit = "0000000000000000000000000000000000000000"\n'
        f'license = "CC0-1.0"\ncitation = "@misc{{{task_id}, title = {{{title}}}}}"\n'
    )
    (task / "LICENSE").write_text("CC0: written for the iqbench tests.\n")


def build_tiny_task(root: Path) -> Path:
    """tasks root with suite.toml and one task `tiny` (train/test), checksummed like a real task."""
    task = root / "tiny"
    write_task_card(task, "tiny", "Tiny tool routing", "tool")
    with (task / "corpus.jsonl").open("w") as f:
        for did, (title, text) in DOCS.items():
            f.write(json.dumps({"_id": did, "title": title, "text": text}) + "\n")
    with (task / "queries.jsonl").open("w") as f, \
         (task / "qrels" / "train.tsv").open("w") as tr, (task / "qrels" / "test.tsv").open("w") as te:
        tr.write("query-id\tcorpus-id\tscore\n")
        te.write("query-id\tcorpus-id\tscore\n")
        for i, (text, rel) in enumerate(TRAIN):
            f.write(json.dumps({"_id": f"tr{i}", "text": text, "context": {}}) + "\n")
            tr.writelines(f"tr{i}\t{d}\t1\n" for d in rel)
        for i, (text, rel, ctx, explicit) in enumerate(TEST):
            f.write(json.dumps({"_id": f"te{i}", "text": text, "context": ctx, "explicit": explicit}) + "\n")
            te.writelines(f"te{i}\t{d}\t1\n" for d in rel)
    write_checksums(task)
    write_suite(root, "iqbench-test", "0.0", ["tiny"])
    return root


@pytest.fixture()
def tiny_root(tmp_path: Path) -> Path:
    return build_tiny_task(tmp_path / "tasks")


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache per test, so that cache hits and misses are the test's own."""
    path = tmp_path / "cache"
    monkeypatch.setenv("IQBENCH_CACHE", str(path))
    return path


BASELINES = ("bm25", "dense-minilm", "context-minilm", "oracle-minilm")
"""The LLM-free baseline submissions: they run on any task, the tiny one included."""


@pytest.fixture()
def baseline_submissions(tmp_path: Path) -> Path:
    dest = tmp_path / "submissions"
    for name in BASELINES:
        shutil.copytree(REPO / "submissions" / name, dest / name)
    return dest


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture()
def browser():
    """Debian's Chromium through Playwright (skipped without it, unless IQBENCH_REQUIRE_BROWSER)."""
    if not CHROMIUM.exists():
        if os.environ.get("IQBENCH_REQUIRE_BROWSER"):
            pytest.fail("IQBENCH_REQUIRE_BROWSER is set but /usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("no /usr/bin/chromium (Debian package chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield b
        b.close()
