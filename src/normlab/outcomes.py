"""Per-example test outcomes beside result.json: `outcomes.npz`, written by the runner, read by the report.

The file holds two arrays (numpy.savez_compressed):
- `stats`: float64 [n_examples, k], one row per test example in the test set's fixed order (the same
  order for every job on one dataset, so rows pair across variants and seeds);
- `metric`: a 0-d string array naming the metric, which fixes k and how rows add up to the score:

  accuracy  k=1   correct (0/1)                                   100 * mean(correct)
  uas       k=2   correct heads, scored tokens (per sentence)      100 * sum(correct) / sum(tokens)
  bpc       k=2   NLL in nats, tokens (per block)                  sum(nll) / sum(tokens) / ln 2
  bleu      k=10  hyp_len, ref_len, matches n=1..4, totals n=1..4  corpus BLEU of the summed statistics * 100
                                                                  (standard brevity penalty, no smoothing:
                                                                  sacrebleu's BLEU.compute_bleu)

Only numpy and math: the runner imports this without the report.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

OUTCOMES = "outcomes.npz"
WIDTHS = {"accuracy": 1, "uas": 2, "bpc": 2, "bleu": 10}


class OutcomesError(ValueError):
    """A malformed outcomes file or array; the message is one line."""


def _check(metric: str, stats) -> np.ndarray:
    if metric not in WIDTHS:
        raise OutcomesError(f"unknown outcome metric {metric!r}; one of: {', '.join(WIDTHS)}")
    arr = np.asarray(stats, dtype=np.float64)
    if arr.ndim == 1 and WIDTHS[metric] == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != WIDTHS[metric] or arr.shape[0] == 0:
        raise OutcomesError(f"{metric} outcomes need shape [n_examples >= 1, {WIDTHS[metric]}], got {arr.shape}")
    if not np.isfinite(arr).all():
        raise OutcomesError(f"{metric} outcomes hold NaN or infinite values")
    return arr


def save_outcomes(job_dir, metric: str, stats) -> Path:
    """Write `<job_dir>/outcomes.npz` (see the module docstring); returns its path."""
    arr = _check(metric, stats)
    path = Path(job_dir) / OUTCOMES
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, stats=arr, metric=np.array(metric))
    tmp.replace(path)  # a reader never sees half a file
    return path


def load_outcomes(job_dir_or_file) -> tuple[str, np.ndarray] | None:
    """(metric, stats) from a job folder or an outcomes.npz path; None when there is no file;
    OutcomesError when it cannot be read or does not follow the contract."""
    path = Path(job_dir_or_file)
    if path.is_dir():
        path = path / OUTCOMES
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            metric, stats = str(npz["metric"][()]), npz["stats"]
    except Exception as err:  # noqa: BLE001 - zip, key and format errors all mean "unreadable"
        raise OutcomesError(f"{path}: unreadable outcomes ({type(err).__name__}: {err})") from None
    return metric, _check(metric, stats)


def bleu_from_sums(sums) -> np.ndarray:
    """Corpus BLEU (x100) from summed [..., 10] statistics, vectorized over leading axes."""
    s = np.asarray(sums, dtype=np.float64)
    hyp, ref, matches, totals = s[..., 0], s[..., 1], s[..., 2:6], s[..., 6:10]
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (matches > 0).all(axis=-1) & (totals > 0).all(axis=-1) & (hyp > 0)
        logp = np.where(ok[..., None], np.log(np.where(matches > 0, matches, 1)) -
                        np.log(np.where(totals > 0, totals, 1)), 0.0).mean(axis=-1)
        bp = np.where(hyp < ref, np.exp(1 - ref / np.where(hyp > 0, hyp, 1)), 1.0)
    return np.where(ok, 100.0 * bp * np.exp(logp), 0.0)


def metric_from_sums(metric: str, sums) -> np.ndarray | float:
    """The score from column sums of `stats` ([..., k]; also [..., k] sums over any subset or resample).
    For accuracy the first column's sum must be paired with the count, so pass [..., 2] = (correct, n)."""
    s = np.asarray(sums, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "accuracy" or metric == "uas":
            return 100.0 * s[..., 0] / s[..., 1]
        if metric == "bpc":
            return s[..., 0] / s[..., 1] / math.log(2)
    if metric == "bleu":
        return bleu_from_sums(s)
    raise OutcomesError(f"unknown outcome metric {metric!r}; one of: {', '.join(WIDTHS)}")


def with_count(metric: str, stats: np.ndarray) -> np.ndarray:
    """The columns metric_from_sums adds up: accuracy gets a column of ones (the example count)."""
    stats = np.asarray(stats, dtype=np.float64)
    if metric == "accuracy":
        return np.column_stack([stats[:, 0], np.ones(len(stats))])
    return stats


def metric_from_stats(metric: str, stats) -> float:
    """The test score of a whole outcomes array (e.g. 100 * mean(correct) for accuracy)."""
    arr = _check(metric, stats)
    return float(metric_from_sums(metric, with_count(metric, arr).sum(axis=0)))
