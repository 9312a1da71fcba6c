"""One number per claim and kind of data: the probability of improvement (Agarwal et al. 2021, rliable).

P(X > Y) is the probability that one run of the claim's side X beats one run of its side Y on a dataset
(ties count half), averaged over the datasets of one kind; 0.5 is no difference. Its interval is rliable's
stratified bootstrap: runs resampled within each dataset, independently for X and Y. rliable's arrays are
(runs x tasks) with the same number of runs for every task, and our datasets have 3 or 5 seeds, so each
dataset is handed to rliable as its own pair of (runs x 1) arrays, which its independent stratified
bootstrap accepts. The seeds are the only noise it counts (not the test examples): the per-dataset rows
count both.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from normlab.report.collect import KINDS
from normlab.report.stats import LEVEL, N_BOOT, SEED, DatasetCells, paired_values, verdict_of

NO_DIFFERENCE = 0.5


@dataclass
class Aggregate:
    claim: int
    kind: str
    what: str  # what "improvement" means for the claim
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    datasets: list[str] = field(default_factory=list)
    n_seeds: dict[str, int] = field(default_factory=dict)
    verdict: str = "inconclusive"  # the interval against 0.5
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _side(paired, weights, sign: float) -> np.ndarray:
    return sign * sum(w * np.asarray(paired.values[label], dtype=float) for label, w in weights)


def _probability_of_improvement(xs: list[np.ndarray], ys: list[np.ndarray]) -> tuple[float, float, float]:
    from rliable import library, metrics  # the report's only rliable use

    m = len(xs)

    def poi(*arrays):
        return np.array([np.mean([metrics.probability_of_improvement(arrays[i], arrays[m + i]) for i in range(m)])])

    # rliable 1.2's independent stratified bootstrap draws from numpy's global generator and ignores its
    # random_state, so the global state is seeded for the call and put back after: the same results give
    # the same interval (the committed report is rebuilt byte for byte), and nobody else's draws change.
    state = np.random.get_state()
    np.random.seed(SEED)
    try:
        with warnings.catch_warnings():
            # rliable 1.2 hands arch its RandomState the way arch 7 deprecates; the draws are the same
            warnings.simplefilter("ignore", FutureWarning)
            point, interval = library.get_interval_estimates(
                {"poi": [*(x[:, None] for x in xs), *(y[:, None] for y in ys)]}, poi, reps=N_BOOT,
                confidence_interval_size=LEVEL, random_state=np.random.RandomState(SEED))
    finally:
        np.random.set_state(state)
    return float(point["poi"][0]), float(interval["poi"][0][0]), float(interval["poi"][1][0])


def aggregate(claim, kind: str, datasets: list[DatasetCells]) -> Aggregate:
    """The claim's probability of improvement over `datasets` (all of one kind)."""
    if len({ds.kind for ds in datasets}) > 1:
        raise ValueError("an aggregate never mixes kinds of data")
    side_x, side_y = claim.improvement
    labels = sorted({label for label, _ in (*side_x, *side_y)})
    out = Aggregate(claim.number, kind, claim.improvement_text, None, None, None)
    xs, ys = [], []
    for ds in datasets:
        paired = paired_values(ds, labels)
        if len(paired.seeds) < 2:
            out.notes.append(f"{ds.name}: left out ({len(paired.seeds)} paired seed(s); a probability needs 2)")
            continue
        sign = 1.0 if ds.higher_is_better else -1.0
        xs.append(_side(paired, side_x, sign))
        ys.append(_side(paired, side_y, sign))
        out.datasets.append(ds.name)
        out.n_seeds[ds.name] = len(paired.seeds)
    if not xs:
        return out
    out.estimate, out.ci_low, out.ci_high = _probability_of_improvement(xs, ys)
    out.verdict = verdict_of((out.ci_low - NO_DIFFERENCE, out.ci_high - NO_DIFFERENCE))
    return out


def aggregates(claim, datasets: list[DatasetCells]) -> list[Aggregate]:
    """One Aggregate per kind of data among `datasets`, in KINDS order."""
    return [aggregate(claim, kind, mine) for kind in KINDS
            if (mine := [ds for ds in datasets if ds.kind == kind])]
