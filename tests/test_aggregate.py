"""The cross-dataset aggregate (normlab.report.aggregate): rliable's probability of improvement with its
stratified bootstrap interval, per claim and kind of data, on fixtures with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from rliable import metrics

from normlab.report.aggregate import aggregate
from normlab.report.collect import load_jobs
from normlab.report.stats import group_cells
from normlab.report.verdicts import CLAIMS, NON_INFERIORITY, SUPERIORITY, judge

from test_stats import job

CLAIM1, CLAIM2 = CLAIMS[0], CLAIMS[1]


def _data(root):
    jobs, _ = load_jobs([root])
    return group_cells(jobs)


def test_a_variant_that_always_wins_has_probability_one_and_ties_give_one_half(tmp_path):
    for seed in range(1, 6):
        job(tmp_path, "rt", "layernorm", seed, 70.0 + seed, metric="accuracy")
        job(tmp_path, "rt", "layernorm_simple", seed, 80.0 + seed, metric="accuracy")
    for seed in range(1, 4):  # another dataset with fewer seeds: bpc, lower is better, every run tied
        for norm in ("layernorm", "layernorm_simple"):
            job(tmp_path, "sst5", norm, seed, 1.5, metric="bpc")
    data = _data(tmp_path)
    a = aggregate(CLAIM1, "paper", [data["rt"]])
    assert (a.estimate, a.ci_low, a.ci_high, a.verdict) == (1.0, 1.0, 1.0, "supported")
    both = aggregate(CLAIM1, "paper", [data["rt"], data["sst5"]])
    assert both.estimate == pytest.approx(0.75) and both.n_seeds == {"rt": 5, "sst5": 3}
    assert both.ci_low <= 0.75 <= both.ci_high


def test_the_estimate_is_rliables_and_lower_is_better_is_oriented(tmp_path):
    rng = np.random.default_rng(0)
    ln, lns = rng.normal(1.20, 0.02, 5), rng.normal(1.19, 0.02, 5)
    for seed, (a, b) in enumerate(zip(ln, lns), 1):
        job(tmp_path, "enwik8", "layernorm", seed, float(a), metric="bpc")
        job(tmp_path, "enwik8", "layernorm_simple", seed, float(b), metric="bpc")
    a = aggregate(CLAIM1, "paper", [_data(tmp_path)["enwik8"]])
    assert a.estimate == pytest.approx(metrics.probability_of_improvement(-lns[:, None], -ln[:, None]))
    assert a.ci_low < a.estimate < a.ci_high and a.verdict in ("supported", "inconclusive")
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    again = aggregate(CLAIM1, "paper", [_data(tmp_path)["enwik8"]])
    assert (again.ci_low, again.ci_high) == (a.ci_low, a.ci_high)  # seeded, although rliable draws globally
    assert np.random.random() == before  # and numpy's global state is put back


def test_claim2_compares_each_seeds_backward_gain_with_its_forward_gain(tmp_path):
    for seed in range(1, 4):
        for norm, v in (("none", 70.0), ("detachnorm", 71.0 + 0.1 * seed), ("layernorm_simple", 75.0)):
            job(tmp_path, "rt", norm, seed, v, metric="accuracy")
    a = aggregate(CLAIM2, "paper", [_data(tmp_path)["rt"]])
    assert a.estimate == 1.0  # backward gain about 4 points, forward about 1


def test_a_single_seed_dataset_is_left_out_and_kinds_never_mix(tmp_path):
    job(tmp_path, "rt", "layernorm", 1, 70.0, metric="accuracy")
    job(tmp_path, "rt", "layernorm_simple", 1, 71.0, metric="accuracy")
    job(tmp_path, "rt_sample", "layernorm", 1, 70.0, metric="accuracy", data_kind="offline_sample")
    data = _data(tmp_path)
    a = aggregate(CLAIM1, "paper", [data["rt"]])
    assert a.estimate is None and any("a probability needs 2" in n for n in a.notes)
    with pytest.raises(ValueError):
        aggregate(CLAIM1, "paper", [data["rt"], data["rt_sample"]])


@pytest.mark.parametrize("ci, expected", [((-0.2, 0.4), "supported"), ((-0.6, 0.4), "inconclusive"),
                                          ((-0.9, -0.6), "contradicted"), (None, "inconclusive")])
def test_non_inferiority_judges_the_interval_against_minus_the_margin(ci, expected):
    assert judge(ci, NON_INFERIORITY, 0.5) == expected
    assert judge((0.1, 0.4), SUPERIORITY, 0.5) == "supported"
    assert judge((-0.2, 0.4), SUPERIORITY, 0.5) == "inconclusive"
