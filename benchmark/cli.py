"""The `iqbench` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from statistics import fmean

from rich.markup import escape
from rich.table import Table

from benchmark import __version__, cli_data
from benchmark.cli_data import console
from benchmark.board import build_board
from benchmark.device import CROSS_DEVICE_TOLERANCE, DEVICES, DeviceError
from benchmark.device import use as use_device
from benchmark.metrics import LABELS
from benchmark.protocol import expand_all
from benchmark.results import results_root
from benchmark.plugins import PluginError
from benchmark.runner import DEFAULT_TIMEOUT_S, expectations, run_suite
from benchmark.submission import Submission, SubmissionError, load_submissions, submissions_root
from benchmark.task import Suite, TaskError, load_suite, tasks_root
from benchmark.tokens import count_tokens

MAX_NA_LINES = 8


def cmd_tasks(args: argparse.Namespace) -> int:
    suite = load_suite(args.tasks)
    sha = suite.sha256()
    table = Table(title=f"{suite.name} {suite.version}  (suite sha256 {sha[:12]})")
    split_names = ("train", "dev", "test", "test_ood")
    for name in ("task", "family", "docs", *split_names, "rel/query", "tokens/query", "context", "explicit"):
        table.add_column(name, justify="left" if name in ("task", "family") else "right")
    for task_id in suite.task_ids:
        task = suite.load(task_id)
        evaluated = [(s, q) for s in task.eval_splits for q in task.qrels[s]]
        judged = [task.queries[q] for _, q in evaluated]
        table.add_row(
            task.id, str(task.card.get("family", "")), f"{len(task.corpus):,}",
            *(f"{len(task.qrels[s]):,}" if s in task.qrels else "-" for s in split_names),
            f"{fmean(sum(g >= 1 for g in task.qrels[s][q].values()) for s, q in evaluated):.2f}",
            f"{fmean(count_tokens(q.text) for q in judged):.1f}",
            f"{fmean(q.has_context for q in judged):.0%}", f"{fmean(q.explicit is not None for q in judged):.0%}",
        )
    console.print(table)
    console.print("Queries per split; the other columns are over the evaluation splits: relevant documents per query, "
                  "o200k_base tokens per query text, share of queries with context and with a human explicit rewrite.")
    if sha != suite.recorded_sha256:
        console.print(f"[yellow]warning:[/yellow] suite.toml records sha256 {suite.recorded_sha256} but the task files "
                      f"give {sha}: rebuild the suite file (make tasks) before publishing results.")
        return 1
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    suite = load_suite(args.tasks)
    submissions = load_submissions(args.submissions, args.submission or None)
    unresolved: list[str] = []
    systems = _systems(args, submissions, unresolved)
    summary = run_suite(suite, submissions, systems, args.results, args.task or None, args.split or None,
                        show_progress=not args.quiet, allow_modified=args.allow_modified, timeout_s=args.timeout,
                        runs=args.save_runs)
    summary.failed[:0] = [f"{line} (the submission was not run)" for line in unresolved]
    console.print(f"{len(summary.written)} results written, {len(summary.present)} already present"
                  + (f", {len(summary.skipped)} not applicable" if summary.skipped else "")
                  + (f", {len(summary.replaced)} stale or invalid files recomputed" if summary.replaced else ""))
    for line in summary.replaced if args.verbose else summary.replaced[:MAX_NA_LINES]:
        console.print(f"  [yellow]replaced[/yellow] {escape(line)}", highlight=False, soft_wrap=True)
    shown = summary.skipped if args.verbose else summary.skipped[:MAX_NA_LINES]
    for line in shown:
        console.print(f"  [dim]n/a[/dim] {escape(line)}", highlight=False)
    if len(shown) < len(summary.skipped):
        console.print(f"  [dim]n/a[/dim] … and {len(summary.skipped) - len(shown)} more (-v lists them all)")
    for line in summary.failed:
        console.print(f"  [red]FAILED[/red] {escape(line)}", highlight=False)
    if summary.log_path:
        console.print(f"Tracebacks: {summary.log_path}", highlight=False, soft_wrap=True)
    if not args.no_table:  # what this run was about: its tasks, and its submissions' systems if named
        show(args.results, suite, submissions, args.task, metric="ndcg_cut_10",
             systems={s.id for s in systems} if args.submission or args.only else None)
    return 1 if summary.failed else 0


def print_refused(refused: list) -> None:
    for error in refused:
        console.print(f"  [red]REFUSED[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
    if refused:
        console.print(f"{len(refused)} result files refused (not shown): recompute them with `iqbench run`, "
                      "or restore them (git checkout)", highlight=False)


def show(results: Path, suite: Suite, submissions: list[Submission], task_ids: list[str] | None = None,
         metric: str = "ndcg_cut_10", systems: set[str] | None = None) -> int:
    """The board in the terminal, from the results that pass every check; 1 if any were refused."""
    task_order = task_ids or list(suite.task_ids)
    board = build_board(results, task_order, expectations(suite, expand_all(submissions, failures=[])))
    refused = [e for e in board.refused  # of what is shown: <results>/<task>/<split>/<system>.json
               if (systems is None or e.path.stem in systems) and (not task_ids or e.path.parts[-3] in task_ids)]
    print_refused(refused)
    if task_ids:
        board.columns[:] = [c for c in board.columns if c[0] in task_ids]
    board.rows[:] = [r for r in board.rows  # curve points only when named: the board's page shows them
                     if (r.system_id in systems if systems is not None else r.role != "budget")]
    if not board.rows:
        console.print(f"No results in {results}.")
        return 1 if refused else 0
    for task_id, split in board.columns:
        table = Table(title=f"{task_id} / {split}", title_justify="left")
        table.add_column("system")
        table.add_column("role")
        for name in (metric, "recall_10", "recip_rank_10", "complete_10"):
            table.add_column(LABELS.get(name, name), justify="right")
        table.add_column(f"Δ {LABELS.get(metric, metric)} vs ref", justify="right")
        table.add_column("+tokens/q", justify="right")
        table.add_column("LLM tok/q", justify="right")
        cells = {row.system_id: row.cells.get((task_id, split)) for row in board.rows}
        for row in board.rows:
            cell = cells[row.system_id]
            if cell is None:
                continue
            ref = cells.get(row.reference)
            delta = "" if ref is None or row.system_id == row.reference else f"{cell.metrics[metric] - ref.metrics[metric]:+.4f}"
            table.add_row(
                row.system_id + ("" if cell.official else " (unofficial)"), row.role,
                *(f"{cell.metrics[m]:.4f}" for m in (metric, "recall_10", "recip_rank_10", "complete_10")),
                delta, f"{cell.added_tokens:.1f}", f"{cell.llm_tokens:.1f}",
            )
        console.print(table)
    return 1 if refused else 0


def _systems(args: argparse.Namespace, submissions, failures: list[str] | None = None) -> list:
    """The submissions' systems; the label-budget curve points only with --label-budget or when
    --only names them."""
    systems = expand_all(submissions, failures, label_budget=True)
    if args.only:
        unknown = set(args.only) - {s.id for s in systems}
        if unknown:
            raise SubmissionError(f"--only: no such system {', '.join(sorted(unknown))}; "
                                  f"these submissions give: {', '.join(s.id for s in systems)}")
        return [s for s in systems if s.id in args.only]
    return [s for s in systems if s.role != "budget" or getattr(args, "label_budget", False)]


def cmd_validate(args: argparse.Namespace) -> int:
    from benchmark.validate import validate

    suite, failed = load_suite(args.tasks), 0
    for target in args.submission:
        folder = Path(target) if Path(target).is_dir() else args.submissions / target
        problems = validate(folder, suite)
        failed += bool(problems)
        if problems:
            console.print(f"[red]{folder.name}: {len(problems)} problem(s)[/red]", highlight=False)
            for problem in problems:
                console.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)
        else:
            console.print(f"[green]{folder.name}: valid[/green] (manifest, components, trial augmentation and search)")
    return 1 if failed else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from benchmark.verify import verify

    submissions = load_submissions(args.submissions, args.submission or None)
    checked, differences, summary, models = verify(args.results, load_suite(args.tasks), submissions,
                                                   _systems(args, submissions), args.task, args.tolerance,
                                                   args.retrain)
    for m in models:
        if m.committed_sha256 == m.retrained_sha256:
            console.print(f"  [green]REPRODUCED[/green] {m.task} reference: weights bit for bit "
                          f"({m.retrained_sha256[:12]})", highlight=False)
        else:
            what = ("the committed model is not in the cache to compare" if m.max_abs_difference is None else
                    f"{m.tensors_differing} tensors differ, largest |Δw| {m.max_abs_difference:.3g}")
            console.print(f"  [yellow]RETRAINED[/yellow] {m.task} reference: weights {m.committed_sha256[:12]} "
                          f"-> {m.retrained_sha256[:12]} ({what}); the metric differences follow", highlight=False)
    for d in differences:
        console.print(f"  [red]DIFFERS[/red] {d.result}: {d.what}: committed {d.committed!r}, "
                      f"recomputed {d.recomputed!r}", highlight=False)
    for line in summary.failed:
        console.print(f"  [red]FAILED[/red] {escape(line)}", highlight=False)
    if summary.log_path:
        console.print(f"Tracebacks: {summary.log_path}", highlight=False, soft_wrap=True)
    console.print(f"{checked} committed results recomputed from scratch: {len(differences)} differences"
                  f" (tolerance {args.tolerance:g})"
                  + (f"; {len(models)} reference models retrained from the recipe" if args.retrain else ""))
    return 1 if differences or summary.failed else 0


def cmd_augment(args: argparse.Namespace) -> int:
    from benchmark.augment import augment_submission
    from benchmark.llm.backend import LLMError

    suite = load_suite(args.tasks)
    try:
        for sub in load_submissions(args.submissions, args.submission):
            augment_submission(sub, suite, args.task, args.split, show_progress=not args.quiet, report=lambda g: console.print(
                f"{sub.name} {g.task}: {g.queries} queries, {g.present} already shipped, {g.generated} generated "
                f"({g.seconds:.0f} s)", highlight=False))
    except LLMError as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        return 2
    return 0


def cmd_cite(args: argparse.Namespace) -> int:
    from benchmark.cite import submission_bibtex, suite_bibtex

    print(suite_bibtex(load_suite(args.tasks)))
    for sub in load_submissions(args.submissions, args.submission) if args.submission else []:
        print(submission_bibtex(sub))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from leaderboard.render import render_site
    from leaderboard.view import build_leaderboard

    try:
        board = build_leaderboard(args.results, load_suite(args.tasks), load_submissions(args.submissions))
        index = render_site(board, args.out, args.results)
    except ValueError as e:  # results that cannot be compared, or an --out that is not a site
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        return 2
    print_refused(board.refused)
    console.print(f"Leaderboard: {len(board.rows)} systems, {board.results} results -> {index.resolve().as_uri()}",
                  highlight=False, soft_wrap=True)
    return 1 if board.refused else 0


def cmd_importances(args: argparse.Namespace) -> int:
    """The trained LambdaMART's feature importances (share of total split gain) per task."""
    from benchmark.retrievers.context_features import FEATURES
    from benchmark.runner import built_retriever

    suite = load_suite(args.tasks)
    subs = load_submissions(args.submissions, [args.submission])
    systems = [s for s in expand_all(subs) if s.submission == args.submission and s.finetuned
               and s.finetuned_on == "query"]
    if not systems:
        raise PluginError(f"{args.submission}: no fine-tuned retriever of its own to explain")
    task_ids = args.task or list(suite.task_ids)
    table = Table(title=f"{args.submission}: LambdaMART feature importance (share of total gain)")
    table.add_column("feature")
    shares = {}
    for task_id in task_ids:
        table.add_column(task_id, justify="right")
        ranker = getattr(built_retriever(suite.load(task_id), systems[0]), "ranker", None)
        if ranker is None:
            raise PluginError(f"{args.submission}: its fine-tuned retriever has no trained ranker")
        gains = ranker.importances()
        total = sum(gains.values()) or 1.0
        shares[task_id] = {f: g / total for f, g in gains.items()}
    for feature in FEATURES:
        table.add_row(feature, *(f"{shares[t][feature]:.1%}" for t in task_ids))
    console.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if args.format != "table":
        return cli_data.print_results(args)
    return show(args.results, load_suite(args.tasks), load_submissions(args.submissions), metric=args.metric)


def _device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=DEVICES, default="cpu",
                   help="where encoding and fine-tuning run (default cpu, as the official results; auto: cuda "
                        "when available); the device is recorded in each result")


def _results_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=results_root(), help="results folder (default: results/)")


def _submissions_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--submissions", type=Path, default=submissions_root(), help="folder of submissions")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iqbench", description="Implicit-query retrieval benchmark.")
    parser.add_argument("--version", action="version", version=f"iqbench {__version__}")
    parser.add_argument("--tasks", type=Path, default=tasks_root(), help="suite folder (default: the repository's tasks/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log tracebacks of failures; list every result that is not applicable")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="the suite, with statistics")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("run", help="evaluate submissions (only missing results are computed)")
    p.add_argument("submission", nargs="*", help="submission names (default: all)")
    p.add_argument("--task", action="append", help="task id (repeatable; default: the whole suite)")
    p.add_argument("--split", action="append", help="split (repeatable; default: each task's evaluation splits)")
    p.add_argument("--only", action="append", metavar="SYSTEM", help="system id (repeatable; default: all systems)")
    p.add_argument("--label-budget", action="store_true",
                   help="also the reference's label-budget curve: its recipe on 16, 64, 256 and 1,024 train "
                        "queries (4 fine-tunings per task: hours on 2 cores; resumable)")
    _results_option(p)
    _submissions_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--allow-modified", action="store_true",
                   help="run on tasks that do not match their SHA256SUMS (results are marked unofficial)")
    p.add_argument("--no-table", action="store_true", help="do not print the results table afterwards")
    p.add_argument("--save-runs", type=Path, metavar="DIR",
                   help="also write each ranking as a TREC run file, DIR/<task>/<split>/<system>.run (depth 100; "
                        "current results are searched again for their runs, not recomputed). Not committed: large")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="time limit per augmentation and per search of one system on one split "
                        f"(default {DEFAULT_TIMEOUT_S:g}); past it the system is recorded as failed")
    _device_option(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check submissions before a run: manifest, components, files")
    p.add_argument("submission", nargs="+", help="submission names or folders")
    _submissions_option(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("verify", help="recompute committed results from scratch and report differences")
    p.add_argument("--retrain", action="store_true",
                   help="re-derive the fine-tuned references from the recipe (not the cached models) and "
                        "report their weight differences; retrained models missing from the cache are kept")
    p.add_argument("submission", nargs="*", help="submission names (default: all)")
    p.add_argument("--task", action="append", help="task id (repeatable; default: every task with results)")
    p.add_argument("--only", action="append", metavar="SYSTEM", help="system id (repeatable)")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help=f"largest metric difference accepted (default 0; at least {CROSS_DEVICE_TOLERANCE:g} on "
                        "aggregates between results of different devices, whose per-query values are not compared)")
    _device_option(p)
    _results_option(p)
    _submissions_option(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("augment", help="generate a submission's LLM completions into its folder (resumable)")
    p.add_argument("submission", nargs="+", help="submission names")
    p.add_argument("--task", action="append", help="task id (repeatable; default: the whole suite)")
    p.add_argument("--split", action="append", help="split (repeatable; default: each task's evaluation splits)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _submissions_option(p)
    p.set_defaults(func=cmd_augment)

    p = sub.add_parser("cite", help="BibTeX for the suite, its sources and the named submissions")
    p.add_argument("submission", nargs="*", help="submission names")
    _submissions_option(p)
    p.set_defaults(func=cmd_cite)

    p = sub.add_parser("render", help="render the HTML leaderboard from the results (no evaluation)")
    _results_option(p)
    _submissions_option(p)
    p.add_argument("--out", type=Path, default=results_root().parent / "site", help="site folder (default: site/)")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("importances", help="feature importances of a context-tuning submission's trained ranker")
    p.add_argument("submission", nargs="?", default="context-tuning", help="submission name (default: context-tuning)")
    p.add_argument("--task", action="append", help="task id (repeatable; default: the whole suite)")
    _submissions_option(p)
    p.set_defaults(func=cmd_importances)

    p = sub.add_parser("show", help="results table in the terminal")
    _results_option(p)
    _submissions_option(p)
    p.add_argument("--metric", default="ndcg_cut_10", choices=sorted(LABELS))
    p.add_argument("--format", default="table", choices=cli_data.FORMATS,
                   help="table (default: per task split, in the terminal), or one metric as system x task/split "
                        "in csv, json or markdown on stdout")
    p.set_defaults(func=cmd_show)

    cli_data.add_parsers(sub, _results_option, _submissions_option)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    try:
        if getattr(args, "device", None):
            use_device(args.device)
        return args.func(args)
    except (TaskError, SubmissionError, PluginError, DeviceError) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
