"""Statistics over seeds and test examples (docs/statistics.md explains each in plain words).

- A cell (one dataset, one variant) is its mean over finished seeds with a t-based 95% interval of the
  mean (Student t, n - 1 degrees of freedom); n = 1 has no interval.
- A comparison is a contrast of variants on one dataset (e.g. LN-simple - LN, or claim 2's
  (LN-simple - DetachNorm) - (DetachNorm - w/o Norm)), computed per seed (the same seed gives every
  variant the same init and data order) and oriented so that positive is the paper's direction. Its
  interval is the t-based 95% interval of the mean per-seed contrast; where every job has per-example
  outcomes (normlab.outcomes), also a crossed paired bootstrap (one resample of the test examples shared
  by every seed and variant, and an independent resample of the seeds), and the wider of the two is used.
- A seed that diverged counts as a loss for its variant: its metric is taken as the score of a model
  that learned nothing (FAILED_SCORE: BLEU 0, accuracy 0, UAS 0, bpc 8), or for another metric as the
  worst value any finished run reached on the dataset, and the verdict says so.
- Verdict: supported if the interval lies above 0, contradicted if below, inconclusive otherwise;
  equivalent (TOST at 2.5% per side) if the interval lies within +-MARGINS[metric].
- seeds_needed: the smallest number of seeds for which a paired t-test at 5% (two-sided) has 80% power
  to detect the paper's difference, at the spread observed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from scipy import stats as sps

from normlab.outcomes import OutcomesError, load_outcomes, metric_from_sums, with_count
from normlab.report.collect import dataset_key, variant_key

LEVEL = 0.95
N_BOOT = 2000
SEED = 0
POWER = 0.8
MAX_SEEDS = 10_000
# (margin, reason): |difference| below the margin is "equivalent" (TOST); one visible table.
MARGINS: dict[str, tuple[float, str]] = {
    "bleu": (0.3, "0.3 BLEU is below what readers of MT papers treat as a real gain, and about the "
                  "spread between seeds of one Transformer"),
    "bpc": (0.01, "0.01 bpc is the last digit the paper reports on enwik8 (1.07)"),
    "accuracy": (0.5, "0.5 points: the paper's RT/SST-5 gaps are of this size, below the test set's own "
                      "binomial error (about 1 point)"),
    "uas": (0.3, "0.3 UAS points: well under the spread of parser results across seeds"),
    "loss": (0.01, "0.01 in the loss (nats or bits per token) changes perplexity by under 1%"),
}
# A diverged run's stand-in score: no better than a model that learned nothing (8 bpc: uniform over 256 bytes).
FAILED_SCORE = {"bleu": 0.0, "accuracy": 0.0, "uas": 0.0, "bpc": 8.0}
WORST_STAND_IN = "the score of a model that learned nothing"


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float] | None:
    """Student-t interval of the mean (n - 1 degrees of freedom); None for fewer than 2 values."""
    x = np.asarray(list(values), dtype=float)
    if x.size < 2:
        return None
    mean = float(x.mean())
    half = float(sps.t.ppf(1 - (1 - level) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean - half, mean + half


def verdict_of(ci: tuple[float, float] | None) -> str:
    if ci is None:
        return "inconclusive"
    if ci[0] > 0:
        return "supported"
    if ci[1] < 0:
        return "contradicted"
    return "inconclusive"


def orientation(comparison: str, higher_is_better: bool) -> float:
    """The sign that makes a contrast positive in the expected direction: a better metric, a higher final
    train loss, a lower best valid loss (the over-fitting signature of gain and bias)."""
    if comparison == "metric":
        return 1.0 if higher_is_better else -1.0
    return 1.0 if comparison == "train_loss" else -1.0


def equivalent_of(ci: tuple[float, float] | None, margin: float | None) -> bool:
    """TOST: both one-sided tests reject |difference| >= margin, i.e. the interval lies inside +-margin."""
    return ci is not None and margin is not None and -margin < ci[0] and ci[1] < margin


def margin_of(comparison: str, metric: str) -> float | None:
    entry = MARGINS.get("loss" if comparison in ("train_loss", "valid_loss") else metric)
    return entry[0] if entry else None


def seeds_needed(sd: float | None, delta: float | None, level: float = LEVEL, power: float = POWER) -> int | None:
    """Smallest n with (t_{1-a/2,n-1} + t_{power,n-1}) * sd / sqrt(n) <= |delta|; None when unknown
    (no paper difference, no spread) or above MAX_SEEDS."""
    if sd is None or delta is None or delta == 0 or not math.isfinite(sd):
        return None
    if sd == 0:
        return 2
    a = 1 - (1 - level) / 2
    lo, hi = 2, MAX_SEEDS
    need = lambda n: (sps.t.ppf(a, n - 1) + sps.t.ppf(power, n - 1)) * sd / math.sqrt(n) <= abs(delta)  # noqa: E731
    if not need(hi):
        return None
    while lo < hi:  # the left side falls with n
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if need(mid) else (mid + 1, hi)
    return lo


def sign_test(k: int, n: int) -> float | None:
    """One-sided sign test: P(X >= k), X ~ Binomial(n, 1/2); None for n = 0."""
    return float(sps.binomtest(k, n, 0.5, alternative="greater").pvalue) if n else None


def crossed_bootstrap(per_seed: Sequence[Sequence[np.ndarray]], weights: Sequence[float], metric: str,
                      sign: float = 1.0, n_boot: int = N_BOOT, level: float = LEVEL,
                      seed: int = SEED) -> tuple[float, float]:
    """Percentile interval of the mean per-seed contrast sign * sum_i w_i metric_i, with the test examples
    and the seeds resampled as the crossed factors they are.

    Every seed and every variant scores the same test set, so one replicate draws ONE resample of the test
    examples, shared by all seeds and variants, and, independently, a resample of the seeds. (Drawing the
    examples anew within each seed would treat them as nested in seeds and shrink the test-set noise by
    about the square root of the number of seeds.)

    per_seed[s][i]: variant i's outcome stats at seed s (with_count applied), all with the same rows.
    """
    n_seeds, n_ex = len(per_seed), per_seed[0][0].shape[0]
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, min(n_boot, 4_000_000 // n_ex))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        rows = rng.integers(0, n_ex, size=(b, n_ex))
        counts = np.bincount((rows + (np.arange(b) * n_ex)[:, None]).ravel(),
                             minlength=b * n_ex).reshape(b, n_ex).astype(np.float64)
        # per[r, s]: seed s's contrast on replicate r's resample of the test set
        per = np.stack([sign * sum(w * metric_from_sums(metric, counts @ st) for w, st in zip(weights, stats))
                        for stats in per_seed], axis=1)
        drawn = rng.integers(0, n_seeds, size=(b, n_seeds))
        means[start:start + b] = np.take_along_axis(per, drawn, axis=1).mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


@dataclass
class Cell:
    """One (dataset, variant): finished seeds' metric, plus how many seeds diverged or failed."""

    values: list[float] = field(default_factory=list)
    n_diverged: int = 0
    n_failed: int = 0
    train_losses: list[float] = field(default_factory=list)
    valid_losses: list[float] = field(default_factory=list)
    mean: float | None = None
    ci: tuple[float, float] | None = None  # t-based 95% interval of the mean (None for n < 2)
    done: dict = field(default_factory=dict)  # seed key -> finished job
    diverged_seeds: list = field(default_factory=list)
    deviations: list = field(default_factory=list)  # distinct deviations of the cell's jobs

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


def seed_key(seed) -> str:
    return str(seed)


def summarize(jobs: Iterable) -> Cell:
    cell = Cell()
    for job in jobs:
        for d in getattr(job, "deviations", None) or []:
            if d not in cell.deviations:
                cell.deviations.append(d)
        if job.status == "diverged":
            cell.n_diverged += 1
            cell.diverged_seeds.append(seed_key(job.seed))
        elif job.status == "done" and job.value is not None:
            cell.values.append(job.value)
            cell.done[seed_key(job.seed)] = job
            if job.train_loss is not None:
                cell.train_losses.append(job.train_loss)
            if job.valid_loss is not None:
                cell.valid_losses.append(job.valid_loss)
        else:  # failed, or done without its metric
            cell.n_failed += 1
    if cell.values:
        cell.mean = float(np.mean(cell.values))
        cell.ci = t_interval(cell.values)
    return cell


@dataclass
class DatasetCells:
    """All of one dataset's cells, keyed and ordered by variant label."""

    name: str
    metric: str
    higher_is_better: bool
    cells: dict[str, Cell]
    jobs: dict[str, list]  # label -> its jobs (for the loss curves)
    kind: str = "paper"

    @property
    def worst(self) -> float | None:
        """A diverged seed's stand-in: FAILED_SCORE of the metric, else the worst finished value here."""
        if self.metric in FAILED_SCORE:
            return FAILED_SCORE[self.metric]
        values = [v for c in self.cells.values() for v in c.values]
        if not values:
            return None
        return min(values) if self.higher_is_better else max(values)

    @property
    def deviations(self) -> list[str]:
        out: list[str] = []
        for cell in self.cells.values():
            out += [d for d in cell.deviations if d not in out]
        return out

    @property
    def comparable(self) -> str:
        """'comparable' (paper data, no deviations) or 'not comparable: <kind>/<n> deviations'."""
        n = len(self.deviations)
        return "comparable" if self.kind == "paper" and n == 0 else f"not comparable: {self.kind}/{n} deviations"


def group_cells(jobs: Sequence) -> dict[str, DatasetCells]:
    """{dataset: DatasetCells}, datasets in the paper's order and variants in norm order."""
    out: dict[str, DatasetCells] = {}
    for name in sorted({j.dataset for j in jobs}, key=dataset_key):
        mine = [j for j in jobs if j.dataset == name]
        # a failed job may not know its metric's direction as well as a finished one; trust those first
        ref = next((j for j in mine if j.status == "done"), mine[0])
        kinds = [getattr(j, "kind", "paper") for j in mine]
        kind = max(sorted(set(kinds)), key=kinds.count)
        by_label: dict[str, list] = {}
        for job in sorted(mine, key=variant_key):
            by_label.setdefault(job.label, []).append(job)
        out[name] = DatasetCells(name, ref.metric, ref.higher_is_better,
                                 {label: summarize(js) for label, js in by_label.items()}, by_label, kind)
    return out


@dataclass
class Contrast:
    """A paired, oriented contrast of variants on one dataset (positive: the paper's direction)."""

    estimate: float | None = None
    ci: tuple[float, float] | None = None
    n_seeds: int = 0
    method: str = ""
    t_ci: tuple[float, float] | None = None
    boot_ci: tuple[float, float] | None = None
    diffs: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    diverged: dict[str, int] = field(default_factory=dict)  # label -> seeds counted as its loss

    @property
    def sd(self) -> float | None:
        """The per-seed spread the chosen interval implies (for seeds_needed)."""
        if self.ci is None or self.n_seeds < 2:
            return None
        half = (self.ci[1] - self.ci[0]) / 2
        return half * math.sqrt(self.n_seeds) / float(sps.t.ppf(1 - (1 - LEVEL) / 2, self.n_seeds - 1))


def _value(job, comparison: str) -> float | None:
    return job.value if comparison == "metric" else getattr(job, comparison)


@dataclass
class Paired:
    """Each variant's value at every seed that all of them ran (a diverged seed as ds.worst)."""

    seeds: list[str] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)  # label -> one value per seed
    notes: list[str] = field(default_factory=list)
    diverged: dict[str, int] = field(default_factory=dict)  # label -> seeds counted as its loss


def paired_values(ds: DatasetCells, labels: Sequence[str], comparison: str = "metric",
                  names: dict[str, str] | None = None) -> Paired:
    """comparison: 'metric' (a diverged seed takes ds.worst, FAILED_SCORE, and counts as its variant's loss), or
    'train_loss' / 'valid_loss' (diverged seeds have no comparable loss and are left out, said in notes)."""
    names = names or {}
    cells = {label: ds.cells.get(label, Cell()) for label in labels}
    ran = [set(c.done) | set(c.diverged_seeds) for c in cells.values()]
    common = sorted(set.intersection(*ran), key=_seed_order) if ran else []
    out = Paired(values={label: [] for label in cells})
    worst = ds.worst
    left_out = 0
    for s in common:
        values, diverged = [], []
        for label, cell in cells.items():
            job = cell.done.get(s)
            if job is not None:
                values.append(_value(job, comparison))
            elif comparison == "metric" and worst is not None:
                values.append(worst)
                diverged.append(label)
            else:
                values.append(None)
        if any(v is None for v in values):
            left_out += 1
            continue
        out.seeds.append(s)
        for label, v in zip(cells, values):
            out.values[label].append(v)
        for label in diverged:
            out.diverged[label] = out.diverged.get(label, 0) + 1
    unpaired = sorted({s for r in ran for s in r} - set(common), key=_seed_order)
    if unpaired:
        out.notes.append(f"seed(s) {', '.join(unpaired)} not run by every variant: left out (no pair)")
    if left_out:
        out.notes.append(f"{left_out} seed(s) without a {comparison.replace('_', ' ')} for every variant "
                         "(diverged or not recorded): left out")
    for label, k in out.diverged.items():
        out.notes.append(f"{names.get(label, label)} diverged on {k} of {len(out.seeds)} seed(s): counted as its "
                         f"loss (scored as {WORST_STAND_IN}, {worst:g})")
    return out


def paired_contrast(ds: DatasetCells, weights: dict[str, float], comparison: str = "metric", sign: float = 1.0,
                    names: dict[str, str] | None = None, outcomes: bool = True, n_boot: int = N_BOOT) -> Contrast:
    """sign * sum_label w * value(label, seed), per seed run by every label (paired_values), then mean and interval."""
    paired = paired_values(ds, list(weights), comparison, names)
    out = Contrast(notes=paired.notes, diverged=paired.diverged)
    per_seed = [sign * sum(weights[label] * paired.values[label][i] for label in weights)
                for i in range(len(paired.seeds))]
    out.diffs, out.n_seeds = per_seed, len(per_seed)
    if not per_seed:
        return out
    out.estimate = float(np.mean(per_seed))
    out.t_ci = t_interval(per_seed)
    out.ci, out.method = out.t_ci, "t" if out.t_ci else "single seed"
    if out.n_seeds < 2:
        out.notes.append("1 seed: its spread is unknown, so no 95% interval and no verdict")
    if comparison == "metric" and outcomes and out.n_seeds >= 2 and out.diverged:
        out.notes.append("seeds only (no test-example bootstrap): a diverged seed has no outcomes")
    if comparison == "metric" and outcomes and out.n_seeds >= 2 and not out.diverged:
        cells = {label: ds.cells[label] for label in weights}
        stats = _outcome_stats(cells, paired.seeds, ds.metric, out.notes)
        if stats is not None:
            metric, arrays = stats
            out.boot_ci = crossed_bootstrap(arrays, list(weights.values()), metric, sign, n_boot=n_boot)
            if out.boot_ci[1] - out.boot_ci[0] > out.t_ci[1] - out.t_ci[0]:
                out.ci, out.method = out.boot_ci, "crossed bootstrap"
            else:
                out.method = "t (wider than the crossed bootstrap)"
    return out


def _seed_order(s: str):
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def _outcome_stats(cells: dict[str, Cell], seeds: list[str], metric: str, notes: list[str]):
    """(metric, [[stats per variant] per seed]) when every job has matching outcomes; None otherwise."""
    arrays, found, n_rows = [], 0, set()
    total = len(seeds) * len(cells)
    for s in seeds:
        row = []
        for cell in cells.values():
            job = cell.done[s]
            try:
                loaded = load_outcomes(job.path.parent)
            except OutcomesError as err:
                notes.append(f"outcomes not used: {err}")
                return None
            if loaded is None:
                continue
            name, st = loaded
            if name != metric:
                notes.append(f"outcomes not used: {job.path.parent} holds {name}, the metric is {metric}")
                return None
            found += 1
            n_rows.add(st.shape[0])
            row.append(with_count(name, st))
        arrays.append(row)
    if found == 0:
        return None
    if found < total:
        notes.append(f"outcomes not used: only {found} of {total} jobs have per-example outcomes")
        return None
    if len(n_rows) > 1:
        notes.append(f"outcomes not used: test sets of different sizes ({sorted(n_rows)})")
        return None
    return metric, arrays


@dataclass
class Curve:
    x: np.ndarray
    mean: np.ndarray
    lo: np.ndarray  # t-based 95% band where >= 2 seeds, else the mean
    hi: np.ndarray
    n: np.ndarray


def paired_curve(jobs_a: Sequence, jobs_b: Sequence, y_key: str, x_key: str) -> Curve:
    """a - b over training, per seed (same seed, same x), mean and t-based 95% band over seeds."""
    def by_seed(jobs):
        return {seed_key(j.seed): {float(r[x_key]): float(r[y_key]) for r in j.history
                                   if r.get(x_key) is not None and r.get(y_key) is not None
                                   and math.isfinite(float(r[y_key]))} for j in jobs}

    a, b = by_seed(jobs_a), by_seed(jobs_b)
    at: dict[float, list[float]] = {}
    for s in set(a) & set(b):
        for x in set(a[s]) & set(b[s]):
            at.setdefault(x, []).append(a[s][x] - b[s][x])
    xs = sorted(at)
    mean, lo, hi, n = [], [], [], []
    for x in xs:
        d = at[x]
        m = float(np.mean(d))
        ci = t_interval(d) or (m, m)
        mean.append(m), lo.append(ci[0]), hi.append(ci[1]), n.append(len(d))
    return Curve(np.asarray(xs), np.asarray(mean), np.asarray(lo), np.asarray(hi), np.asarray(n))

