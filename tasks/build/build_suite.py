"""Write tasks/suite.toml: the suite's name, version, task order and the hash of its task files.

Run after any task is rebuilt (`make tasks` does), so the recorded hash matches the files.
"""

from __future__ import annotations

from common import TASKS_DIR

from benchmark.task import write_suite

NAME, VERSION = "iqbench", "1.1"
TASKS = ["metatool", "apibench-hf", "apibench-torchhub", "ikat-passages", "ikat-ptkb", "qulac-facets", "seal-tools",
         "metatool-usage"]

if __name__ == "__main__":
    suite = write_suite(TASKS_DIR, NAME, VERSION, TASKS)
    print(f"suite {suite.name} {suite.version}: {len(suite.task_ids)} tasks, sha256 {suite.recorded_sha256}")
