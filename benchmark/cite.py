"""BibTeX for what a paper reports: the suite, the sources of its tasks, and submissions."""

from __future__ import annotations

import re

from benchmark import __version__
from benchmark.submission import Submission
from benchmark.task import SIMULATION_FILE, Suite

SUITE_ENTRY = """@misc{{iqbench,
  title        = {{iqbench: a benchmark for implicit-query retrieval, augmentation versus fine-tuning}},
  note         = {{Suite {name} {version}, suite sha256 {sha}; harness version {harness}}},
  year         = {{2026}}
}}
"""


def latex_escape(text: str) -> str:
    replacements = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return re.sub(r"[\\&%$#_{}~^]", lambda m: replacements[m.group()], text)


def suite_bibtex(suite: Suite, sha: str | None = None) -> str:
    """The suite's entry, then each task source's verified entry once (tasks can share a source)."""
    entries = [SUITE_ENTRY.format(name=suite.name, version=suite.version, sha=sha or suite.sha256(),
                                  harness=__version__)]
    sources: dict[str, tuple[list[str], str]] = {}
    for task_id in suite.task_ids:
        citation = str(suite.card(task_id)["source"]["citation"]).strip()
        key = citation.split("{", 1)[1].split(",", 1)[0]
        simulated = (suite.folder(task_id) / SIMULATION_FILE).exists()
        sources.setdefault(key, ([], citation))[0].append(
            f"{task_id} (its users are synthetic, simulated by iqbench; the request texts are this source's)"
            if simulated else task_id)
    entries += [f"% {', '.join(tasks)}\n{citation}\n" for tasks, citation in sources.values()]
    return "\n".join(entries)


def submission_bibtex(submission: Submission) -> str:
    info = submission.manifest.submission
    key = re.sub(r"[^A-Za-z0-9]", "", submission.name) or "submission"
    lines = [f"@misc{{iqbench-{key},",
             f"  title  = {{{latex_escape(info.title)}}},",
             f"  author = {{{' and '.join(latex_escape(a) for a in info.authors)}}},"]
    if info.paper:
        lines.append(f"  url    = {{{info.paper.replace('{', '').replace('}', '')}}},")  # URLs stay verbatim
    lines += [f"  note   = {{iqbench submission {latex_escape(submission.name)}, manifest sha256 "
              f"{submission.manifest_sha256}}}", "}", ""]
    return "\n".join(lines)
