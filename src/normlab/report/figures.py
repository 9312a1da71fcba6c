"""PNG figures: the paper's loss-curve panels per dataset, the metric per variant with t-based 95%
intervals, the paired loss differences over training (the over-fitting signature), one forest plot
per claim, and the gradient probe (probe.json) per variant where jobs recorded one."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402

from normlab.norms.registry import color_of, label_of  # noqa: E402
from normlab.report.collect import PROBE  # noqa: E402
from normlab.report.stats import DatasetCells, paired_curve  # noqa: E402
from normlab.report.tables import METRIC_NAMES, fmt_number, is_sample_of_paper, paper_value  # noqa: E402

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
                ax.plot(x, mean, style, color=color_of(norm), lw=1.8,
                        label=f"{label_of(norm)} {what}" + (f" (mean of {seeds} seeds)" if seeds > 1 else ""))
                if n > 1:
                    ax.fill_between(x, lo, hi, color=color_of(norm), alpha=0.15, lw=0)
                plotted.append(mean)
                drawn = True
        ax.set_title(title)
        ax.set_xlabel("updates" if x_key == "num_updates" else "epoch")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no runs of " + " / ".join(label_of(n) for n in norms if not runs[n]),
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
        color = color_of(norm)
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
    ax.set_title(f"{ds.name}: {metric_title(ds)} per norm (mean and t-based 95% interval over seeds; dots: seeds)",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    if paper_shown:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


SIGNATURE_PAIRS = (("layernorm_simple", "LN-simple", "claim 1"), ("adanorm", "AdaNorm", "claim 3"))


def paired_loss_figure(ds: DatasetCells, path: Path) -> Path | None:
    """Per pair (LN-simple, AdaNorm against LN): the same-seed loss differences over training, oriented as
    the verdicts are (positive: the paper's direction): train loss variant − LN (the paper: higher), valid
    loss LN − variant (the paper: lower); mean with a t-based 95% band over seeds."""
    base = [j for j in ds.jobs.get("layernorm", []) if j.status != "failed" and j.history]
    pairs = [(n, short, claim, [j for j in ds.jobs.get(n, []) if j.status != "failed" and j.history])
             for n, short, claim in SIGNATURE_PAIRS]
    pairs = [p for p in pairs if p[3] and base]
    if not pairs:
        return None
    x_key = _x_key(base + [j for *_, js in pairs for j in js])
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.5 * len(pairs), 4.2), squeeze=False)
    drawn = False
    for ax, (norm, short, claim, jobs) in zip(axes[0], pairs):
        for y_key, style, what, (a, b) in (("train_loss", "-", f"train: {short} − LN", (jobs, base)),
                                            ("valid_loss", "--", f"valid: LN − {short}", (base, jobs))):
            c = paired_curve(a, b, y_key, x_key)
            if not c.x.size:
                continue
            n = int(c.n.max())
            ax.plot(c.x, c.mean, style, color=color_of(norm), lw=1.8, label=f"{what} ({n} seed{'s' * (n > 1)})")
            if n > 1:
                ax.fill_between(c.x, c.lo, c.hi, color=color_of(norm), alpha=0.15 if y_key == "train_loss" else 0.08,
                                lw=0)
            drawn = True
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{short} against LN ({claim}): above 0 = the paper's direction", fontsize=9)
        ax.set_xlabel("updates" if x_key == "num_updates" else "epoch")
        ax.set_ylabel("same-seed loss difference, oriented")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if not drawn:
        plt.close(fig)
        return None
    fig.suptitle(f"{ds.name}: the over-fitting signature over training (band: t-based 95% over seeds)", fontsize=10)
    return _save(fig, path)


VERDICT_COLORS = {"supported": "#2ca02c", "contradicted": "#d62728", "inconclusive": "#7f7f7f",
                  "better": "#2ca02c", "worse": "#d62728"}


def forest_figure(verdict, path: Path) -> Path | None:
    """A claim's forest plot: per dataset the oriented paired contrast of the metric (its superiority row),
    with claim 1's non-inferiority verdict beside it (see forest_plot)."""
    rows = [r for r in verdict.rows if r.comparison == "metric" and r.test == "superiority"]
    tests = {r.dataset: r for r in verdict.rows if r.comparison == "metric" and r.test == "non-inferiority"}
    non_inferiority = any(t.name == "non-inferiority" for t in verdict.claim.tests)
    notes = {r.dataset: f"non-inferiority: {tests[r.dataset].verdict}; superiority: {r.verdict}"
             for r in rows if r.dataset in tests}
    return forest_plot(rows, f"Claim {verdict.claim.number}: {verdict.claim.title}", verdict.claim.contrast, path,
                       non_inferiority, notes, "colour: superiority verdict")


def forest_plot(rows, title: str, contrast: str, path: Path, non_inferiority: bool = False,
                notes: dict[str, str] | None = None, colour_note: str = "colour: verdict",
                positive: str = "the paper's direction") -> Path | None:
    """One panel per metric (each on its own axis and unit): per row (dataset) the oriented paired contrast
    with its interval, zero, the equivalence margin (and the non-inferiority bound), and the paper's own
    difference as a mark, labelled "not comparable" where the dataset is not."""
    if not rows:
        return None
    notes = notes or {}
    metrics = list(dict.fromkeys(r.metric for r in rows))
    heights = [len([r for r in rows if r.metric == m]) + 1.2 for m in metrics]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(11, 0.42 * sum(heights) + 0.9 * len(metrics) + 1.2),
                             squeeze=False, gridspec_kw={"height_ratios": heights})
    labelled: set[str] = set()

    def once(label: str) -> str | None:
        if label in labelled:
            return None
        labelled.add(label)
        return label

    for ax, metric in zip(axes[:, 0], metrics):
        mine = [r for r in rows if r.metric == metric]
        ys = np.arange(len(mine))[::-1]
        margin = mine[0].margin
        if margin is not None:
            ax.axvspan(-margin, margin, color="0.85", alpha=0.5, lw=0,
                       label=once("equivalence margin (± the metric's margin)"))
            if non_inferiority:
                ax.axvline(-margin, color="#9467bd", ls="--", lw=1.2, label=once("non-inferiority bound (−margin)"))
        ax.axvline(0, color="black", lw=0.8)
        xs = [0.0] + ([-margin, margin] if margin is not None else [])
        for y, r in zip(ys, mine):
            color = VERDICT_COLORS.get(r.verdict, "#7f7f7f")
            if r.ci_low is not None:
                ax.errorbar(r.estimate, y, xerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]], fmt="o",
                            color=color, capsize=4, ms=6)
                xs += [r.ci_low, r.ci_high]
            else:
                ax.plot(r.estimate, y, "o", mfc="none", color=color, ms=6)
                xs.append(r.estimate)
            theirs = getattr(r, "paper_estimate", None)
            if theirs is not None:
                comparable = r.comparable == "comparable"
                ax.plot(theirs, y, "D", color="black" if comparable else "0.55", ms=5,
                        label=once("the paper's own difference" if comparable else
                                   "the paper's own difference (not comparable: other data or setup)"))
                xs.append(theirs)
            ax.annotate(f"{notes.get(r.dataset, r.verdict)} (n={r.n_seeds})", (1.0, y),
                        xycoords=("axes fraction", "data"), xytext=(6, 0), textcoords="offset points", va="center",
                        fontsize=8, color=color)
        lo, hi = min(xs), max(xs)
        pad = 0.08 * ((hi - lo) or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(-0.7, len(mine) - 0.3)
        ax.set_yticks(ys, [f"{r.dataset} ({r.kind})" for r in mine], fontsize=8)
        ax.set_xlabel(f"{contrast} in {METRIC_NAMES.get(metric, metric)} "
                      f"(oriented: positive = {positive})", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    handles = [h for ax in axes[:, 0] for h in ax.get_legend_handles_labels()[0]]
    labels = [lab for ax in axes[:, 0] for lab in ax.get_legend_handles_labels()[1]]
    if handles:
        fig.legend(handles, labels, loc="lower left", ncol=2, fontsize=8, frameon=False, bbox_to_anchor=(0.02, 0))
    fig.suptitle(f"{title}\n(point: paired mean over seeds; bar: 95% interval; hollow: 1 seed, no interval; "
                 f"{colour_note})", fontsize=9)
    # room on the left for the dataset names and on the right for the verdicts; bbox_inches keeps all of it
    fig.subplots_adjust(left=0.3, right=0.6, top=1 - 0.9 / fig.get_figheight(), bottom=0.9 / fig.get_figheight(),
                        hspace=0.75)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def beyond_figures(rows, out: Path) -> dict[str, list[Path]]:
    """Per baseline (LN, LN-simple): every non-paper norm's metric contrast against it, per metric."""
    from normlab.report.beyond import BASELINES

    figures = {}
    for baseline, short in BASELINES:
        mine = [r for r in rows if r.baseline == baseline and r.comparison == "metric"]
        for variant in dict.fromkeys(r.variant for r in mine):
            name = f"beyond_{variant}_vs_{baseline}"
            p = forest_plot([r for r in mine if r.variant == variant], f"Beyond the paper: {variant} against {short}",
                            f"{variant} − {short}", out / "figures" / f"{name}_forest.png",
                            colour_note="colour: better / worse / inconclusive", positive=f"{variant} better")
            if p is not None:
                figures.setdefault(f"Beyond the paper: against {short}", []).append(p)
    return figures


def load_probe(job) -> list[dict] | None:
    """The job's probe points, or None when it has no (readable) probe.json."""
    path = job.path.parent / PROBE
    if not path.is_file():
        return None
    try:
        points = json.loads(path.read_text(encoding="utf-8")).get("points")
    except (ValueError, AttributeError, OSError):
        return None
    return [p for p in points if isinstance(p, dict) and isinstance(p.get("positions"), dict)] \
        if isinstance(points, list) else None


PROBE_STATS = (("abs_mean", "mean |row mean| over the hidden dim"), ("var", "variance over the hidden dim"))


def probe_figure(ds: DatasetCells, path: Path) -> Path | None:
    """Per variant (columns): the gradient entering the norm (∂ℓ/∂y, dashed) and leaving it (∂ℓ/∂x, solid):
    its mean |row mean| (top; the paper's theorem: 0 for LN-simple, ḡ/σ for DetachNorm) and its variance
    (bottom), averaged over norm positions and seeds, on log axes (steps 1 to 1,000, values over many decades)."""
    found = {}
    for label, jobs in ds.jobs.items():
        runs = [p for p in (load_probe(j) for j in jobs) if p]
        if runs:
            found[label] = runs
    if not found:
        return None
    fig, axes = plt.subplots(2, len(found), figsize=(3.3 * len(found), 5.6), squeeze=False, sharex=True, sharey="row")
    for col, (label, runs) in enumerate(found.items()):
        color = color_of(label.split(" ", 1)[0])
        for row, (stat, what) in enumerate(PROBE_STATS):
            ax = axes[row][col]
            for side, style in (("in", "--"), ("out", "-")):
                at: dict[float, list[float]] = {}
                for points in runs:
                    for p in points:
                        vals = [float(v.get(f"{side}_{stat}")) for v in p["positions"].values()
                                if isinstance(v, dict) and v.get(f"{side}_{stat}") is not None]
                        vals = [v for v in vals if math.isfinite(v) and v > 0]
                        if vals and p.get("num_updates") is not None:
                            at.setdefault(float(p["num_updates"]), []).append(float(np.mean(vals)))
                xs = sorted(at)
                if xs:
                    ax.plot(xs, [np.mean(at[x]) for x in xs], style, marker="o", ms=3, color=color,
                            label="∂ℓ/∂y arriving" if side == "in" else "∂ℓ/∂x leaving")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if row == 0:
                ax.set_title(label_of(label), fontsize=9)
            if row == 1:
                ax.set_xlabel("training step (log)", fontsize=8)
            if col == 0:
                ax.set_ylabel(what, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3, which="both", lw=0.4)
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"{ds.name}: the gradient arriving at the norms and leaving them (averaged over norm positions "
                 "and seeds)", fontsize=9)
    return _save(fig, path)


def write_figures(data: dict[str, DatasetCells], paper: dict, out: Path, verdicts=(),
                  beyond=()) -> dict[str, list[Path]]:
    """{dataset or claim: [its PNGs]} under out/figures."""
    figures = {}
    for v in verdicts:
        p = forest_figure(v, out / "figures" / f"{v.key}_forest.png")
        if p is not None:
            figures[f"Claim {v.claim.number} (forest plot)"] = [p]
    figures.update(beyond_figures(beyond, out))
    for name, ds in data.items():
        paths = [loss_figure(ds, out / "figures" / f"{name}_losses.png"),
                 paired_loss_figure(ds, out / "figures" / f"{name}_paired_losses.png"),
                 metric_figure(ds, paper, out / "figures" / f"{name}_metric.png"),
                 probe_figure(ds, out / "figures" / f"{name}_probe.png")]
        figures[name] = [p for p in paths if p is not None]
    return figures
