"""The `iqbench` commands that move data in and out: bring your own task (import, check, a
private suite), judgments and rankings as TREC files, and results as CSV, JSON or Markdown."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.markup import escape

from benchmark.task import TaskError, load_suite

console = Console(width=None if sys.stdout.isatty() else 200)
FORMATS = ("table", "csv", "json", "markdown")


def cmd_task_import(args: argparse.Namespace) -> int:
    from benchmark.task_import import import_beir

    done = import_beir(args.src, args.dest, args.id, family=args.family, force=args.force)
    sizes = [f"{s} {n:,} queries" + (f" (of {done.source_splits[s]:,})" if n < done.source_splits[s] else "")
             for s, n in done.splits.items()]
    console.print(escape(f"{args.id}: {', '.join(sizes)} -> {done.path}"), highlight=False, soft_wrap=True)
    for warning in done.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    console.print(escape(f"Next: fill in {done.path / 'task.toml'} (the fields marked 'fill in') and "
                         f"{done.path / 'LICENSE'}, then `iqbench task check {done.path} --rehash`."),
                  highlight=False, soft_wrap=True)
    return 0


def cmd_task_check(args: argparse.Namespace) -> int:
    from benchmark.task import load_task, read_card, write_checksums
    from benchmark.task_import import official_problems

    if args.rehash:
        read_card(args.dir)  # a task folder, not any folder
        write_checksums(args.dir)
    try:
        task = load_task(args.dir)
    except TaskError as e:
        hint = ("" if args.rehash or "SHA256SUMS" not in str(e) else
                f" If you completed task.toml or LICENSE: `iqbench task check {args.dir} --rehash`.")
        raise TaskError(f"{e}{hint}") from None
    problems = official_problems(args.dir)
    for problem in problems:
        console.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)
    if problems:
        console.print(f"[red]{task.id}: {len(problems)} problem(s)[/red]: it loads, but cannot join a suite yet",
                      highlight=False)
        return 1
    console.print(f"[green]{task.id}: ready[/green] ({len(task.corpus):,} docs, splits "
                  + ", ".join(f"{s}={len(q):,}" for s, q in task.qrels.items()) + f"; sha256 {task.sha256[:12]})",
                  highlight=False)
    return 0


def cmd_suite_init(args: argparse.Namespace) -> int:
    from benchmark.task_import import init_suite

    console.print(escape(f"Empty suite -> {init_suite(args.dir)}; add tasks with `iqbench suite add {args.dir} "
                         "TASK_DIR`."), highlight=False, soft_wrap=True)
    return 0


def cmd_suite_add(args: argparse.Namespace) -> int:
    from benchmark.task_import import add_to_suite

    ids = add_to_suite(args.dir, args.task_dirs)
    console.print(escape(f"{args.dir / 'suite.toml'}: {', '.join(ids)}; use it with `iqbench --tasks {args.dir} ...`"),
                  highlight=False, soft_wrap=True)
    return 0


def cmd_export_qrels(args: argparse.Namespace) -> int:
    from benchmark.trec import write_qrels

    task = load_suite(args.tasks).load(args.task)
    split = args.split or task.eval_splits[0]
    qrels = task.qrels.get(split)
    if qrels is None:
        raise TaskError(f"task {task.id!r} has no split {split!r} (it has: {', '.join(task.splits)})")
    write_qrels(args.out, qrels)
    console.print(f"{sum(map(len, qrels.values())):,} judgments of {len(qrels):,} queries -> {args.out}",
                  highlight=False)
    return 0


def cmd_export_run(args: argparse.Namespace) -> int:
    """One system's ranking of one task split as a TREC run: searched again from cached models (a
    fine-tuned model is never fine-tuned again when the cache has it); a missing result is computed."""
    from benchmark.protocol import expand_all
    from benchmark.runner import run_path, run_suite
    from benchmark.submission import load_submissions

    suite = load_suite(args.tasks)
    task = suite.load(args.task)
    split = args.split or task.eval_splits[0]
    if split not in task.qrels:
        raise TaskError(f"task {task.id!r} has no split {split!r} (it has: {', '.join(task.splits)})")
    submissions = load_submissions(args.submissions)
    systems = [s for s in expand_all(submissions, failures=[]) if s.id == args.system]
    if not systems:
        raise TaskError(f"no submission defines the system {args.system!r} (see `iqbench show`)")
    with tempfile.TemporaryDirectory(prefix="iqbench-run-") as tmp:
        summary = run_suite(suite, submissions, systems, args.results, [task.id], [split],
                            show_progress=False, runs=Path(tmp))
        made = run_path(Path(tmp), task.id, split, args.system)
        if not made.is_file():
            reason = "; ".join(summary.failed or summary.skipped) or "nothing was searched"
            raise TaskError(f"{args.system} on {task.id}/{split}: no ranking ({reason})")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, args.out)
    console.print(f"{args.system} on {task.id}/{split}: {len(task.qrels[split]):,} queries, depth 100 -> {args.out}",
                  highlight=False, soft_wrap=True)
    return 0


def print_results(args: argparse.Namespace) -> int:
    """`show --format csv|json|markdown`: one metric, system x task/split, from the checked results."""
    from benchmark.frames import main_table, to_markdown
    from benchmark.protocol import expand_all
    from benchmark.results import load
    from benchmark.runner import expectations
    from benchmark.submission import load_submissions

    suite = load_suite(args.tasks)
    frames = load(args.results, expectations(suite, expand_all(load_submissions(args.submissions), failures=[])))
    for error in frames.refused:
        print(f"refused: {error}", file=sys.stderr)
    table = main_table(frames, args.metric, list(suite.task_ids))
    if args.format == "csv":
        sys.stdout.write(table.to_csv(float_format="%.6f", lineterminator="\n"))
    elif args.format == "json":
        rows = {system: {col: (None if v != v else v) for col, v in row.items()}  # NaN (no result) -> null
                for system, row in table.to_dict(orient="index").items()}
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
    else:
        sys.stdout.write(to_markdown(table))
    return 1 if frames.refused else 0


def add_parsers(sub, results_option: Callable, submissions_option: Callable) -> None:
    task_sub = sub.add_parser("task", help="bring your own task: import, check").add_subparsers(dest="task_command",
                                                                                                 required=True)
    p = task_sub.add_parser("import", help="a BEIR folder as the task folder DEST/ID (with a task.toml to complete)")
    p.add_argument("format", choices=["beir"], help="the source's format")
    p.add_argument("src", type=Path, help="folder with corpus.jsonl, queries.jsonl and qrels/<split>.tsv")
    p.add_argument("dest", type=Path, help="folder to create the task in (e.g. a suite folder)")
    p.add_argument("--id", required=True, help="task id: the new folder's name")
    p.add_argument("--family", default="tool", help="task family (default: tool)")
    p.add_argument("--force", action="store_true", help="replace an existing task folder")
    p.set_defaults(func=cmd_task_import)
    p = task_sub.add_parser("check", help="load a task folder and list what keeps it from joining a suite")
    p.add_argument("dir", type=Path, help="task folder")
    p.add_argument("--rehash", action="store_true", help="first rewrite SHA256SUMS from the files as they are "
                   "(after completing task.toml and LICENSE)")
    p.set_defaults(func=cmd_task_check)

    suite_sub = sub.add_parser("suite", help="a private suite: init, add").add_subparsers(dest="suite_command",
                                                                                          required=True)
    p = suite_sub.add_parser("init", help="an empty suite.toml in DIR, named after the folder, version 0.1")
    p.add_argument("dir", type=Path, help="suite folder (created if missing)")
    p.set_defaults(func=cmd_suite_init)
    p = suite_sub.add_parser("add", help="append tasks to DIR's suite.toml (folders elsewhere are copied in)")
    p.add_argument("dir", type=Path, help="suite folder")
    p.add_argument("task_dirs", nargs="+", type=Path, metavar="TASK_DIR", help="task folders")
    p.set_defaults(func=cmd_suite_add)
    p = sub.add_parser("export-qrels", help="a task split's judgments as a TREC qrels file (for trec_eval)")
    p.add_argument("task", help="task id")
    p.add_argument("--split", help="split (default: the task's first evaluation split)")
    p.add_argument("--out", type=Path, required=True, help="file to write")
    p.set_defaults(func=cmd_export_qrels)

    p = sub.add_parser("export-run", help="one system's ranking of a task split as a TREC run file (depth 100)")
    p.add_argument("system", help="system id, e.g. cot-smollm2@minilm-l6-ft")
    p.add_argument("--task", required=True, help="task id")
    p.add_argument("--split", help="split (default: the task's first evaluation split)")
    p.add_argument("--out", type=Path, required=True, help="file to write")
    results_option(p)
    submissions_option(p)
    p.set_defaults(func=cmd_export_run)
