"""Per-cell statistics over seeds: mean and a seeded 95% percentile-bootstrap CI, and the ≈ test.

≈ (used by the verdicts): two cells are "about equal" when both diverged, or both have a metric and
either their 95% CIs overlap (only possible with >= 2 seeds each; a single seed has no interval)
or |mean_a - mean_b| <= REL_TOL * max(|mean_a|, |mean_b|), i.e. within 1% of the score's size
(0.35 BLEU at 35, 0.01 bpc at 1.07, 0.9 points of accuracy at 90). The tolerance keeps single-seed
runs from calling every tiny difference real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from normlab.report.collect import dataset_key, variant_key

N_BOOT = 10_000
LEVEL = 0.95
SEED = 0
REL_TOL = 0.01


def bootstrap_ci(values: Sequence[float], n_boot: int = N_BOOT, level: float = LEVEL,
                 seed: int = SEED) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean; None for fewer than 2 values (no spread to resample).

    A fresh generator with a fixed seed per call makes every cell's interval independent of
    the order in which cells are computed.
    """
    x = np.asarray(list(values), dtype=float)
    if x.size < 2:
        return None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


@dataclass
class Cell:
    """One (dataset, variant): the finished seeds' metric, plus how many seeds diverged or failed."""

    values: list[float] = field(default_factory=list)
    n_diverged: int = 0
    n_failed: int = 0
    train_losses: list[float] = field(default_factory=list)
    valid_losses: list[float] = field(default_factory=list)
    mean: float | None = None
    ci: tuple[float, float] | None = None

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def n_runs(self) -> int:
        """Seeds that ran to an end (finished or diverged); failed jobs say nothing about the norm."""
        return self.n + self.n_diverged

    @property
    def diverged(self) -> bool:
        """Every seed that ran diverged: the paper's "Diverge"."""
        return self.n_diverged > 0 and self.n == 0

    @property
    def has_value(self) -> bool:
        return self.mean is not None

    @property
    def has_data(self) -> bool:
        return self.has_value or self.diverged

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.mean is None:
            return None
        return self.ci or (self.mean, self.mean)


def summarize(jobs: Iterable) -> Cell:
    cell = Cell()
    for job in jobs:
        if job.status == "diverged":
            cell.n_diverged += 1
        elif job.status == "done" and job.value is not None:
            cell.values.append(job.value)
            if job.train_loss is not None:
                cell.train_losses.append(job.train_loss)
            if job.valid_loss is not None:
                cell.valid_losses.append(job.valid_loss)
        else:  # failed, or done without its metric
            cell.n_failed += 1
    if cell.values:
        cell.mean = float(np.mean(cell.values))
        cell.ci = bootstrap_ci(cell.values)
    return cell


def mean_or_none(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def better(a: Cell, b: Cell, higher_is_better: bool, or_equal: bool = False) -> bool | None:
    """Is a better than b on the metric (means; a diverged run loses to one that finished)?
    None when no comparison is possible (a side has no data, or both diverged)."""
    if not (a.has_data and b.has_data) or (a.diverged and b.diverged):
        return None
    if a.diverged or b.diverged:
        return b.diverged
    diff = a.mean - b.mean if higher_is_better else b.mean - a.mean
    return diff >= 0 if or_equal else diff > 0


def about_equal(a: Cell, b: Cell, rel_tol: float = REL_TOL) -> bool | None:
    """The ≈ of the module docstring; None when a side has no data."""
    if not (a.has_data and b.has_data):
        return None
    if a.diverged or b.diverged:
        return a.diverged and b.diverged
    (alo, ahi), (blo, bhi) = a.interval, b.interval
    if a.ci and b.ci and alo <= bhi and blo <= ahi:
        return True
    return abs(a.mean - b.mean) <= rel_tol * max(abs(a.mean), abs(b.mean))


@dataclass
class DatasetCells:
    """All of one dataset's cells, keyed and ordered by variant label."""

    name: str
    metric: str
    higher_is_better: bool
    cells: dict[str, Cell]
    jobs: dict[str, list]  # label -> its jobs (for the loss curves)


def group_cells(jobs: Sequence) -> dict[str, DatasetCells]:
    """{dataset: DatasetCells}, datasets in the paper's order and variants in norm order."""
    out: dict[str, DatasetCells] = {}
    for name in sorted({j.dataset for j in jobs}, key=dataset_key):
        mine = [j for j in jobs if j.dataset == name]
        # a failed job may not know its metric's direction as well as a finished one; trust those first
        ref = next((j for j in mine if j.status == "done"), mine[0])
        by_label: dict[str, list] = {}
        for job in sorted(mine, key=variant_key):
            by_label.setdefault(job.label, []).append(job)
        out[name] = DatasetCells(name, ref.metric, ref.higher_is_better,
                                 {label: summarize(js) for label, js in by_label.items()}, by_label)
    return out
