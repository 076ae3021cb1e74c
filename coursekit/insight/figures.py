"""The class report's figures, each a base64 PNG (None where there is nothing to draw)."""

from __future__ import annotations

import base64
import io
import statistics
from typing import TYPE_CHECKING

from coursekit.insight import similarity as sim

if TYPE_CHECKING:  # the class report imports this module
    from coursekit.insight.class_report import ClassData

__all__ = ["figure_scores", "figure_difficulty", "figure_similarity", "figure_runtimes"]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _short(nb: str) -> str:
    return nb.split("_", 1)[0]


def figure_scores(data: ClassData) -> str | None:
    """Histograms of points per notebook and in total (small multiples)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(nb, [data.scores[s][nb] for s in data.students if data.scores[s].get(nb) is not None],
               data.max_scores.get(nb, 0.0)) for nb in data.notebooks]
    panels.append(("total", [data.total(s) for s in data.students], data.max_total))
    cols = min(len(panels), 4)
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.2 * rows), squeeze=False)
    for ax, (name, values, top) in zip(axes.flat, panels):
        ax.set_title(name if name == "total" else name.replace("_", " "), fontsize=9,
                     fontweight="bold" if name == "total" else "normal")
        if not values:
            ax.text(0.5, 0.5, "not graded yet", ha="center", va="center", transform=ax.transAxes, color="0.5")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        bins = min(20, max(int(top), 1)) if top else 10
        ax.hist(values, bins=bins, range=(0, top or max(values) or 1), color="#3b6ea5" if name != "total"
                else "#a5523b", edgecolor="white")
        ax.set_xlim(0, top or None)
        ax.axvline(statistics.median(values), color="k", lw=1, ls="--")
        ax.tick_params(labelsize=8)
        ax.set_xlabel(f"points (of {top:g}); median {statistics.median(values):g}", fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def figure_difficulty(data: ClassData) -> str | None:
    """Horizontal bars: fraction of the class earning each test's points."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [it for it in data.items if it.fraction is not None]
    if not items:
        return None
    colours = plt.get_cmap("tab10")
    index = {nb: k for k, nb in enumerate(data.notebooks)}
    fig, ax = plt.subplots(figsize=(8.5, 0.24 * len(items) + 0.9))
    y = list(range(len(items)))[::-1]
    ax.barh(y, [it.fraction for it in items], color=[colours(index[it.notebook] % 10) for it in items])
    ax.set_yticks(y)
    ax.set_yticklabels([f"{_short(it.notebook)}  {it.grade_id.removeprefix('test_')}" for it in items], fontsize=8)
    for yy, it in zip(y, items):
        ax.text(min(it.fraction, 1.0) + 0.01, yy, f"{it.full}/{it.graded}", va="center", fontsize=7)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("fraction of the class earning the test's points", fontsize=9)
    ax.axvline(0.5, color="0.6", lw=0.8, ls=":")
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return _png(fig)


def figure_similarity(data: ClassData) -> str | None:
    """Per notebook: how many pairs of students have each similarity score, the threshold as a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = data.similarity
    names = [nb for nb in (s.notebooks if s else []) if s.scores.get(nb)]
    if not names:
        return None
    cols = min(len(names), 4)
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), squeeze=False)
    for ax, nb in zip(axes.flat, names):
        values = s.scores[nb]
        ax.hist(values, bins=20, range=(0, 1), color="#6a2d91" if nb == sim.ALL else "#3b6ea5", edgecolor="white")
        ax.set_yscale("log")
        ax.axvline(s.threshold, color="#a5523b", lw=1.2, ls="--")
        ax.set_title(nb.replace("_", " "), fontsize=9, fontweight="bold" if nb == sim.ALL else "normal")
        ax.set_xlabel("similarity score (share of code, 0-1)", fontsize=8)
        ax.set_ylabel("pairs of students", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def figure_runtimes(data: ClassData) -> str | None:
    """Run time per notebook: one dot per student, the median as a bar."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [nb for nb in data.notebooks if data.runtimes.get(nb)]
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(names) + 1.0))
    for k, nb in enumerate(reversed(names)):
        values = sorted(data.runtimes[nb].values())
        jitter = [(i % 5 - 2) * 0.05 for i in range(len(values))]
        ax.scatter(values, [k + j for j in jitter], s=10, alpha=0.6, color="#3b6ea5")
        ax.plot([statistics.median(values)] * 2, [k - 0.3, k + 0.3], color="k", lw=2)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([nb.replace("_", " ") for nb in reversed(names)], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds to run the notebook (log scale; bar = median)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return _png(fig)
