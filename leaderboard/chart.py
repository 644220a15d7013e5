"""Cost/quality chart: mean nDCG@10 against added input tokens per query, as inline SVG.

Text is drawn as paths (no <text> elements carry user strings into the page) and the SVG
carries no date or random ids, so the same board renders byte-identical charts.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from leaderboard.budget import Curve  # noqa: E402
from leaderboard.view import Leaderboard  # noqa: E402

ROLE_STYLE = {
    "baseline": ("#7a7a7a", "o"),
    "reference": ("#1f6f43", "D"),
    "submission": ("#1f4e99", "o"),
    "oracle": ("#b35c00", "^"),
}


def pareto(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Points no other point beats on both axes (fewer or equal tokens and higher or equal quality)."""
    frontier, best = [], float("-inf")
    for x, y, label in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            frontier.append((x, y, label))
            best = y
    return frontier


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined in HTML


def label_budget_svg(curve: Curve) -> str:
    """nDCG@10 against labelled train queries (symlog: n = 0 is the pretrained retriever), the
    curve's 95% band, each augmenter's pretrained cell as a horizontal line and its crossing."""
    ns = [p.n for p in curve.points]
    with plt.rc_context({"svg.fonttype": "path", "svg.hashsalt": "iqbench", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(7.5, 4.0))
        ax.fill_between(ns, [p.ci_low for p in curve.points], [p.ci_high for p in curve.points], color="#1f6f43",
                        alpha=0.15, lw=0, label="95% interval")
        ax.plot(ns, [p.mean for p in curve.points], color="#1f6f43", marker="D", ms=4, lw=1.6,
                label="reference recipe on n queries", zorder=3)
        colors = plt.get_cmap("tab10").colors
        for i, b in enumerate(curve.break_even):
            color = colors[i % len(colors)]
            ax.axhline(b.augmented, color=color, lw=1.0, ls="--" if b.role == "oracle" else "-.",
                       label=f"{b.system_id}" + (" (oracle)" if b.role == "oracle" else ""))
            if 0 < b.crossing < float("inf"):
                ax.plot([b.crossing], [b.augmented], marker="o", ms=6, mfc="none", mec=color, mew=1.4, zorder=4)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, max(ns) * 1.3)
        ax.set_xticks(ns, [f"{n:,}" for n in ns[:-1]] + [f"all ({ns[-1]:,})"])
        ax.set_xlabel("labelled train queries n (log scale; 0 = pretrained)")
        ax.set_ylabel(f"nDCG@10, {curve.label}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
        fig.tight_layout()
        return _svg(fig)


def cost_quality_svg(board: Leaderboard) -> str:
    points = [(r.mean("added_tokens") or 0.0, r.mean_main, r.system_id, r.role)
              for r in board.rows if r.mean_main is not None]
    with plt.rc_context({"svg.fonttype": "path", "svg.hashsalt": "iqbench", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for role, (color, marker) in ROLE_STYLE.items():
            mine = [p for p in points if p[3] == role]
            if mine:
                ax.scatter([p[0] for p in mine], [p[1] for p in mine], c=color, marker=marker, s=36,
                           label=role, zorder=3)
        ranked = [(x, y, label) for x, y, label, role in points if role != "oracle"]
        front = pareto(ranked)
        if front:
            right = max(p[0] for p in points)  # the frontier holds to the costliest system shown
            xs, ys = [p[0] for p in front] + [right], [p[1] for p in front] + [front[-1][1]]
            ax.step(xs, ys, where="post", color="#1f6f43", lw=1.2, ls="--", label="Pareto frontier", zorder=2)
            ax.scatter([p[0] for p in front], [p[1] for p in front], s=110, facecolors="none",
                       edgecolors="#1f6f43", lw=1.2, zorder=4)
        for x, y, label, _ in points:
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7, color="#333333")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("added input tokens per query (symlog)")
        ax.set_ylabel("mean nDCG@10 over the suite")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        fig.tight_layout()
        return _svg(fig)
