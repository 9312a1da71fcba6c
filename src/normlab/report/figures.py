"""PNG figures: the paper's loss-curve panels per dataset, and the metric per variant with CI bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from normlab.report.stats import DatasetCells  # noqa: E402
from normlab.report.tables import METRIC_NAMES, fmt_number, is_sample_of_paper, paper_value  # noqa: E402

NAMES = {"none": "w/o Norm", "layernorm": "LayerNorm", "layernorm_simple": "LayerNorm-simple",
         "detachnorm": "DetachNorm", "adanorm": "AdaNorm"}
COLORS = {"none": "#7f7f7f", "layernorm": "#1f77b4", "layernorm_simple": "#ff7f0e", "detach_mean": "#8c564b",
          "detach_std": "#e377c2", "detachnorm": "#2ca02c", "adanorm": "#d62728", "rmsnorm": "#9467bd",
          "rmsnorm_simple": "#17becf", "dyt": "#bcbd22"}
PANELS = ((("layernorm", "layernorm_simple"), "LayerNorm vs LayerNorm-simple"),
          (("layernorm", "adanorm"), "AdaNorm vs LayerNorm"))
# A diverging run's loss can jump by orders of magnitude; past this multiple of the median loss the
# axis is cut so the other curves stay readable.
YCAP = 3.0


def metric_title(ds: DatasetCells) -> str:
    return f"{METRIC_NAMES.get(ds.metric, ds.metric)} {'↑' if ds.higher_is_better else '↓'}"


def _x_key(jobs) -> str:
    rows = [r for j in jobs for r in j.history]
    return "num_updates" if rows and all(r.get("num_updates") is not None for r in rows) else "epoch"


def _curve(jobs, x_key: str, y_key: str):
    """Mean, min and max over seeds at each x (a diverged seed counts only while it has values)."""
    at: dict[float, list[float]] = {}
    for job in jobs:
        for row in job.history:
            x, y = row.get(x_key), row.get(y_key)
            if x is not None and y is not None and np.isfinite(y):
                at.setdefault(float(x), []).append(float(y))
    xs = sorted(at)
    ys = [np.asarray(at[x]) for x in xs]
    return (np.asarray(xs), np.array([y.mean() for y in ys]), np.array([y.min() for y in ys]),
            np.array([y.max() for y in ys]), max((len(y) for y in ys), default=0))


def loss_figure(ds: DatasetCells, path: Path) -> Path | None:
    """Train (solid) and valid (dashed) loss, mean over seeds with a min–max band; None without curves."""
    runs = {n: [j for j in ds.jobs.get(n, []) if j.status != "failed" and j.history]
            for n in {n for pair, _ in PANELS for n in pair}}
    if not any(runs.values()):
        return None
    x_key = _x_key([j for js in runs.values() for j in js])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    plotted = []
    for ax, (norms, title) in zip(axes, PANELS):
        drawn = False
        for norm in norms:
            if not runs[norm]:
                continue
            seeds = len(runs[norm])
            for y_key, style, what in (("train_loss", "-", "train"), ("valid_loss", "--", "valid")):
                x, mean, lo, hi, n = _curve(runs[norm], x_key, y_key)
                if not x.size:
                    continue
                ax.plot(x, mean, style, color=COLORS[norm], lw=1.8,
                        label=f"{NAMES[norm]} {what}" + (f" (mean of {seeds} seeds)" if seeds > 1 else ""))
                if n > 1:
                    ax.fill_between(x, lo, hi, color=COLORS[norm], alpha=0.15, lw=0)
                plotted.append(mean)
                drawn = True
        ax.set_title(title)
        ax.set_xlabel("updates" if x_key == "num_updates" else "epoch")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no runs of " + " / ".join(NAMES[n] for n in norms if not runs[n]),
                    ha="center", va="center", transform=ax.transAxes, color="0.4")
    axes[0].set_ylabel("loss")
    if plotted:
        values = np.concatenate(plotted)
        top = YCAP * float(np.median(values))
        if values.max() > top:
            axes[0].set_ylim(top=top)
    fig.suptitle(f"{ds.name}: train (solid) and valid (dashed) loss, band: min–max over seeds; "
                 f"final metric {metric_title(ds)}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def metric_figure(ds: DatasetCells, paper: dict, path: Path) -> Path | None:
    """Each variant's metric: seeds as dots, mean with its 95% CI, and the paper's number where it has one."""
    labels = list(ds.cells)
    if not labels:
        return None
    fig, ax = plt.subplots(figsize=(8, max(2.8, 0.55 * len(labels) + 1.6)))
    ys = np.arange(len(labels))[::-1]
    paper_shown = False
    finite = [v for c in ds.cells.values() for v in c.values]
    for y, label in zip(ys, labels):
        cell, norm = ds.cells[label], label.split(" ", 1)[0]
        color = COLORS.get(norm, "black")
        if cell.has_value:
            ax.scatter(cell.values, [y] * cell.n, s=14, facecolors="none", edgecolors=color, alpha=0.7, zorder=2)
            lo, hi = cell.interval
            ax.errorbar(cell.mean, y, xerr=[[cell.mean - lo], [hi - cell.mean]], fmt="o", color=color,
                        capsize=4, ms=6, zorder=3)
            note = f"{fmt_number(cell.mean, ds.metric)}" + (" (n=1)" if cell.n == 1 else f" (n={cell.n})")
            if cell.n_diverged:
                note += f" †{cell.n_diverged}/{cell.n_runs} diverged"
            ax.annotate(note, (hi, y), xytext=(6, 4), textcoords="offset points", fontsize=8, color=color)
        else:
            text = "Diverge" if cell.diverged else "no finished run"
            ax.annotate(text, (0.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=9, color=color)
        theirs = paper_value(paper, norm, ds.name)
        if theirs not in (None, "Diverge"):
            ax.scatter([float(theirs)], [y], marker="D", s=34, color="black", zorder=4,
                       label=None if paper_shown else ("paper (full data set)" if is_sample_of_paper(ds.name)
                                                       else "paper"))
            paper_shown = True
            finite.append(float(theirs))
        elif theirs == "Diverge":
            ax.annotate("paper: Diverge", (0.98, y), xycoords=("axes fraction", "data"), ha="right", va="center",
                        fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)  # room above the top row for its annotation
    if finite:
        span = (max(finite) - min(finite)) or abs(max(finite)) * 0.05 or 1.0
        ax.set_xlim(min(finite) - 0.15 * span, max(finite) + 0.45 * span)
    ax.set_xlabel(f"{METRIC_NAMES.get(ds.metric, ds.metric)} ({'higher' if ds.higher_is_better else 'lower'} is better)")
    ax.set_title(f"{ds.name}: {metric_title(ds)} per norm (mean and 95% bootstrap CI over seeds; dots: seeds)",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    if paper_shown:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_figures(data: dict[str, DatasetCells], paper: dict, out: Path) -> dict[str, list[Path]]:
    """{dataset: [its PNGs]} under out/figures."""
    figures = {}
    for name, ds in data.items():
        paths = [loss_figure(ds, out / "figures" / f"{name}_losses.png"),
                 metric_figure(ds, paper, out / "figures" / f"{name}_metric.png")]
        figures[name] = [p for p in paths if p is not None]
    return figures
