"""Render the leaderboard site: static HTML that works from file:// and any static host.

jinja2 with autoescaping on every template: names, titles and descriptions from submissions
and task cards are always text. A link is rendered only for http(s) URLs. The site is
written to a temporary folder and swapped in whole, so a reader never sees half a site.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from benchmark.metrics import LABELS, METRICS
from benchmark.results import read_result
from benchmark.storage import publish_dir, umask_mode
from leaderboard.chart import cost_quality_svg, label_budget_svg
from leaderboard.exports import label_budget_csv, label_budget_latex, to_bibtex, to_csv, to_latex
from leaderboard.view import Leaderboard

ASSETS = Path(__file__).resolve().parent / "assets"
MARKER = ".iqbench-site"
PAGE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def page_name(name: str) -> str:
    """A file name for a task or submission page (ids are already safe; this keeps them so)."""
    return PAGE_NAME.sub("-", name).strip("-.") or "unnamed"


def http_url(value: object) -> str | None:
    """The URL if it is http(s), else None: no javascript: or data: links from user input."""
    text = str(value or "").strip()
    return text if re.match(r"^https?://[^\s\"'<>]+$", text, re.IGNORECASE) else None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def parameters(count: int) -> str:
    """135000000 -> '135M': how model sizes are written."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return str(count)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("leaderboard", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["page"] = page_name
    env.filters["params"] = parameters
    env.globals.update(http_url=http_url, LABELS=LABELS, METRICS=METRICS, inf=float("inf"))
    return env


def _submission_pages(board: Leaderboard) -> dict[str, dict]:
    """Per submission: its manifest (as text) and the provenance of one of its results."""
    pages = {}
    for name, sub in board.submissions.items():
        rows = [r for r in board.rows if r.submission == name]
        provenance = None
        for row in rows:
            for cell in row.cells.values():
                provenance = read_result(cell.cell.path)["provenance"]
                break
            if provenance:
                break
        manifest = (sub.path / "submission.toml").read_text(encoding="utf-8") if sub.path else ""
        pages[name] = {"submission": sub, "rows": rows, "manifest": manifest,
                       "provenance": json.dumps(provenance, indent=2, sort_keys=True) if provenance else ""}
    return pages


def render_site(board: Leaderboard, out_dir: Path, results_dir: Path) -> Path:
    """Write the whole site to out_dir (replaced atomically); returns the index page."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise ValueError(f"{out_dir}: refusing to replace a folder that `iqbench render` did not write "
                         f"(no {MARKER} in it); choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        tmp.chmod(umask_mode(0o777))  # a web server must be able to read it
        env = _environment()
        common = {"board": board, "cards": board.cards, "chart": Markup(cost_quality_svg(board))}
        (tmp / "tasks").mkdir()
        (tmp / "submissions").mkdir()
        (tmp / "downloads").mkdir()
        shutil.copytree(ASSETS, tmp / "assets")
        _write(tmp / "index.html", env.get_template("index.html").render(root=".", page="index", **common))
        _write(tmp / "verdict.html", env.get_template("verdict.html").render(root=".", page="verdict", **common))
        _write(tmp / "downloads.html", env.get_template("downloads.html").render(root=".", page="downloads", **common))
        charts = [Markup(label_budget_svg(c)) for c in board.curves]
        _write(tmp / "label-budget.html", env.get_template("label_budget.html").render(
            root=".", page="label-budget", curves=list(zip(board.curves, charts)), **common))
        for task_id, card in board.cards.items():
            columns = [c for c in board.columns if c.task_id == task_id]
            _write(tmp / "tasks" / f"{page_name(task_id)}.html", env.get_template("task.html").render(
                root="..", page="task", task_id=task_id, card=card, columns=columns, **common))
        for name, data in _submission_pages(board).items():
            _write(tmp / "submissions" / f"{page_name(name)}.html", env.get_template("submission.html").render(
                root="..", page="submission", name=name, **data, **common))
        _write(tmp / "downloads" / "iqbench.csv", to_csv(board))
        _write(tmp / "downloads" / "iqbench.tex", to_latex(board))
        _write(tmp / "downloads" / "iqbench.bib", to_bibtex(board))
        _write(tmp / "downloads" / "iqbench-label-budget.csv", label_budget_csv(board))
        _write(tmp / "downloads" / "iqbench-label-budget.tex", label_budget_latex(board))
        if Path(results_dir).is_dir():  # the files the board shows; refused ones are not published
            refused = {e.path.resolve() for e in board.refused}
            shutil.copytree(results_dir, tmp / "downloads" / "results", ignore=lambda folder, names: [
                n for n in names if (Path(folder) / n).resolve() in refused])
            files = sorted(p.relative_to(tmp / "downloads" / "results").as_posix()
                           for p in (tmp / "downloads" / "results").glob("*/*/*.json"))
            _write(tmp / "downloads" / "results" / "index.html", env.get_template("results_index.html").render(
                root="../..", page="downloads", files=files, **common))
        _write(tmp / MARKER, "Written by `iqbench render`; the next render replaces this whole folder.\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)  # the new site takes its place in one rename; then the old one goes
        publish_dir(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        publish_dir(tmp, out_dir)
    return out_dir / "index.html"


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")
