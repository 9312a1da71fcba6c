"""normlab-report's statistics on fixtures with known answers: paired t-intervals, the crossed
bootstrap over per-example outcomes and seeds, verdicts, TOST, claim 2 on the paper's own numbers, divergence,
kinds of data, NaN metrics, deviations, norm_options labels and the gradient probe figure."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from normlab.outcomes import load_outcomes, metric_from_stats, save_outcomes
from normlab.report.cli import main, write_report
from normlab.report.collect import kind_of_name, load_jobs, load_paper
from normlab.report.stats import (MARGINS, equivalent_of, group_cells, paired_contrast, seeds_needed, sign_test,
                                  t_interval, verdict_of)
from normlab.report.tables import build_tables, to_latex, to_markdown
from normlab.report.verdicts import CLAIMS, build_verdicts, paper_estimate, summarize_rows

HIGHER = {"bpc": False, "bleu": True, "accuracy": True, "uas": True}


def job(root: Path, dataset: str, norm: str, seed: int, value=None, status: str = "done", metric: str = "bleu",
        train_loss: float = 3.0, valid_loss: float = 4.0, **fields) -> Path:
    """A result.json in the runner's layout; `fields` go to the top level (data_kind, deviations, ...)."""
    cfg = {"seed": seed, "dataset": {"name": dataset}, "model": {"arch": "t"}, "optim": {"lr": 0.001},
           "norm": {"name": norm, "scope": "all"}}
    history = [{"epoch": e, "num_updates": 10 * e, "train_loss": train_loss + 1.0 / e,
                "valid_loss": valid_loss + 1.0 / e} for e in range(1, 4)]
    result = {"dataset": dataset, "norm": norm, "seed": seed, "status": status,
              "metric": {"name": metric, "value": value if status == "done" else None,
                         "higher_is_better": HIGHER[metric]},
              "train_loss": train_loss, "valid_loss": valid_loss, "history": history, "config": cfg, **fields}
    path = root / dataset / (norm + str(fields.get("norm_options", ""))) / f"seed{seed}" / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result), encoding="utf-8")
    return path


def cells(root: Path):
    jobs, problems = load_jobs([root])
    return group_cells(jobs), problems


def contrast(root, dataset="iwslt14_de_en", a="layernorm_simple", b="layernorm", **kw):
    data, _ = cells(root)
    ds = data[dataset]
    return paired_contrast(ds, {a: 1.0, b: -1.0}, sign=1.0 if ds.higher_is_better else -1.0,
                           names={a: "LN-simple", b: "LN"}, **kw)


def pair(root, ln, lns, dataset="iwslt14_de_en", metric="bleu", **kw):
    for seed, (x, y) in enumerate(zip(ln, lns), 1):
        job(root, dataset, "layernorm", seed, x, metric=metric, **kw)
        job(root, dataset, "layernorm_simple", seed, y, metric=metric, **kw)


# --- intervals -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[1.0, 2.0], [34.9, 35.0, 35.4], [0.1, -0.3, 0.25, 0.4, 0.0]])
def test_t_interval_matches_scipy(values):
    expected = sps.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
    assert t_interval(values) == pytest.approx(expected, rel=1e-12)
    assert t_interval(values, level=0.9) == pytest.approx(
        sps.t.interval(0.9, len(values) - 1, loc=np.mean(values), scale=sps.sem(values)), rel=1e-12)


def test_paired_difference_under_large_shared_seed_offsets_is_supported_unpaired_is_not(tmp_path):
    offsets = [-3.0, 2.5, 0.0, 4.0, -2.0]  # one seed's init and data order move both variants alike
    noise = [0.02, -0.03, 0.01, 0.0, -0.01]
    ln = [30 + o for o in offsets]
    lns = [30 + o + 0.5 + e for o, e in zip(offsets, noise)]
    pair(tmp_path, ln, lns)
    c = contrast(tmp_path)
    assert c.estimate == pytest.approx(0.5 + np.mean(noise)) and c.n_seeds == 5 and c.method == "t"
    assert verdict_of(c.ci) == "supported" and c.ci[0] > 0.4
    # the same numbers, unpaired: Welch's interval of the difference of means includes 0 by far
    welch = sps.ttest_ind(lns, ln, equal_var=False)
    assert welch.pvalue > 0.5
    lo, hi = welch.confidence_interval(0.95)
    assert lo < 0 < hi


def test_noise_is_inconclusive_and_a_reversal_is_contradicted(tmp_path):
    pair(tmp_path / "noise", [30.0] * 5, [30.3, 29.8, 30.1, 29.6, 30.2])
    assert verdict_of(contrast(tmp_path / "noise").ci) == "inconclusive"
    pair(tmp_path / "rev", [30.0, 31.0, 29.0], [29.2, 30.1, 28.3])
    c = contrast(tmp_path / "rev")
    assert c.estimate < 0 and verdict_of(c.ci) == "contradicted"


def test_three_seeds_whose_range_excludes_zero_but_t_interval_does_not_are_inconclusive(tmp_path):
    diffs = [0.1, 0.2, 1.5]
    assert min(diffs) > 0  # the old min-max "95% CI" would have said supported
    pair(tmp_path, [30.0] * 3, [30.0 + d for d in diffs])
    c = contrast(tmp_path)
    assert c.ci[0] < 0 < c.ci[1] and verdict_of(c.ci) == "inconclusive"
    assert c.ci == pytest.approx(t_interval(diffs))


def test_single_seed_has_no_interval_and_no_verdict(tmp_path):
    pair(tmp_path, [30.0], [31.0])
    c = contrast(tmp_path)
    assert c.ci is None and verdict_of(c.ci) == "inconclusive" and any("1 seed" in n for n in c.notes)


def test_equivalence_tost_within_the_metric_margin():
    assert set(MARGINS) >= {"bleu", "bpc", "accuracy", "uas"}
    assert (MARGINS["bleu"][0], MARGINS["bpc"][0], MARGINS["accuracy"][0], MARGINS["uas"][0]) == (0.3, 0.01, 0.5, 0.3)
    ci = t_interval([0.01, -0.02, 0.0, 0.01, 0.02])
    assert verdict_of(ci) == "inconclusive" and equivalent_of(ci, 0.3) and not equivalent_of(ci, 0.01)
    assert not equivalent_of(None, 0.3) and not equivalent_of(ci, None)


def test_seeds_needed_is_the_smallest_n_with_80_percent_power():
    n = seeds_needed(1.0, 1.0)
    power = lambda k: (sps.t.ppf(0.975, k - 1) + sps.t.ppf(0.8, k - 1)) / math.sqrt(k)  # noqa: E731
    assert power(n) <= 1.0 < power(n - 1) and 8 <= n <= 12
    assert seeds_needed(0.1, 1.0) == 2 or power(2) * 0.1 > 1.0
    assert seeds_needed(1.0, None) is None and seeds_needed(None, 1.0) is None and seeds_needed(1.0, 0.0) is None
    assert seeds_needed(100.0, 0.001) is None  # more than MAX_SEEDS


def test_sign_test():
    assert sign_test(8, 8) == pytest.approx(0.5 ** 8)
    assert sign_test(0, 0) is None
    assert sign_test(3, 4) == pytest.approx(5 / 16)


# --- claim 2 on the paper's own numbers ------------------------------------------------------------------

def test_claim2_on_the_papers_own_table_gives_the_papers_reading():
    paper = load_paper()
    claim2 = next(c for c in CLAIMS if c.number == 2)
    est = {d: paper_estimate(claim2, paper, d) for d in
           ("wmt14_en_de", "iwslt14_de_en", "iwslt15_en_vi", "enwik8", "rt", "sst5", "mnist", "ptb")}
    # (LN-simple - DetachNorm) - (DetachNorm - w/o Norm), oriented (bpc: lower is better)
    expected = {"iwslt14_de_en": 1.6 + 0.1, "iwslt15_en_vi": 3.9 + 0.7, "enwik8": 0.05 + 0.08, "rt": 0.26 + 0.45,
                "sst5": 0.50 - 1.49, "mnist": -0.01 + 0.04, "ptb": -0.60 - 1.48}
    for d, e in expected.items():
        assert est[d] == pytest.approx(e, abs=1e-9), d
    assert est["wmt14_en_de"] > 0  # DetachNorm and w/o Norm both diverge, LN-simple does not
    v = {x.key: x for x in build_verdicts({}, paper)}
    assert v["claim2"].paper_count(v["claim2"].claim.tests[0]) == (6, 8)  # the old rule (LN-simple > DN and DN ≈ w/o Norm) gave 3 of 8


# --- divergence -----------------------------------------------------------------------------------------

def test_a_diverged_seed_counts_as_a_loss_and_the_verdict_says_so(tmp_path):
    for seed in (1, 2, 3):
        job(tmp_path, "iwslt14_de_en", "layernorm", seed, 34.0 + 0.1 * seed)
        job(tmp_path, "iwslt14_de_en", "layernorm_simple", seed, status="diverged")
    c = contrast(tmp_path)
    assert c.n_seeds == 3 and c.diverged == {"layernorm_simple": 3}  # no silent survivorship
    assert verdict_of(c.ci) == "contradicted"
    assert any("LN-simple diverged on 3 of 3" in n and "counted as its loss" in n for n in c.notes)
    # one diverged seed of three for LN: counted against LN, not dropped
    root = tmp_path / "one"
    for seed in (1, 2, 3):
        job(root, "iwslt14_de_en", "layernorm", seed, 34.0, status="diverged" if seed == 2 else "done")
        job(root, "iwslt14_de_en", "layernorm_simple", seed, 34.5)
    c = contrast(root)
    assert c.n_seeds == 3 and c.diffs[1] == pytest.approx(34.5) and c.estimate > 0.5
    data, _ = cells(root)
    rows = build_verdicts(data, load_paper())[0].rows
    metric_row = next(r for r in rows if r.comparison == "metric")
    assert any("LN diverged on 1 of 3" in n for n in metric_row.notes)
    assert next(r for r in rows if r.comparison == "train_loss").n_seeds == 2  # a diverged loss is left out, said so
    assert any("left out" in n for n in next(r for r in rows if r.comparison == "train_loss").notes)


# --- kinds of data --------------------------------------------------------------------------------------

def test_kinds_are_never_mixed_in_counts(tmp_path):
    assert [kind_of_name(n) for n in ("quick_rt", "synthetic_translation", "rt_sample", "custom_x", "rt")] == \
        ["generated", "generated", "offline_sample", "user", "paper"]
    for dataset, kind in (("rt", None), ("quick_rt", None), ("rt_sample", None), ("custom_x", None),
                          ("sst5", "user")):
        extra = {"data_kind": kind} if kind else {}
        pair(tmp_path, [76.0, 77.0, 75.0], [77.0, 78.1, 76.0], dataset=dataset, metric="accuracy", **extra)
    data, _ = cells(tmp_path)
    assert data["sst5"].kind == "user"  # data_kind wins over the name
    v = build_verdicts(data, load_paper())[0]
    metric = {s["kind"]: s for s in v.summaries() if s["comparison"] == "metric" and s["test"] == "superiority"}
    assert {k: s["n_datasets"] for k, s in metric.items()} == {"paper": 1, "offline_sample": 1, "generated": 1,
                                                               "user": 2}
    assert metric["user"]["supported"] == 2 and metric["user"]["p_supported"] == pytest.approx(0.25)
    with pytest.raises(ValueError):
        summarize_rows(1, "paper", "metric", [r for r in v.rows if r.comparison == "metric"])


# --- bad results ----------------------------------------------------------------------------------------

def test_nan_metric_is_flagged_and_excluded_truncated_result_is_skipped(tmp_path, capsys):
    pair(tmp_path, [30.0, 31.0], [30.5, 31.4])
    bad = job(tmp_path, "iwslt14_de_en", "layernorm_simple", 3, float("nan"))
    job(tmp_path, "iwslt14_de_en", "layernorm", 3, 30.2)
    trunc = tmp_path / "iwslt14_de_en" / "broken" / "seed9" / "result.json"
    trunc.parent.mkdir(parents=True)
    trunc.write_text('{"dataset": "iwslt14_de_en", "norm": "lay')
    data, problems = cells(tmp_path)
    assert any(str(bad) in p and "nan" in p for p in problems) and any(str(trunc) in p for p in problems)
    assert data["iwslt14_de_en"].cells["layernorm_simple"].n == 2
    assert contrast(tmp_path).n_seeds == 2
    assert main([str(tmp_path), "--out", str(tmp_path / "out"), "--no-figures"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and any(str(bad) in line for line in err) and any(str(trunc) in line for line in err)
    doc = json.loads((tmp_path / "out" / "verdicts.json").read_text())  # strict JSON: no NaN anywhere
    assert all(r["n_seeds"] == 2 for r in doc["rows"] if r["claim"] == 1)


# --- per-example outcomes -------------------------------------------------------------------------------

def test_outcomes_roundtrip_and_metrics_from_stats(tmp_path):
    correct = np.array([1, 0, 1, 1])
    save_outcomes(tmp_path, "accuracy", correct)
    metric, stats = load_outcomes(tmp_path)
    assert metric == "accuracy" and stats.shape == (4, 1) and metric_from_stats(metric, stats) == 75.0
    assert metric_from_stats("uas", [[3, 4], [5, 6]]) == pytest.approx(80.0)
    assert metric_from_stats("bpc", [[10.0, 8], [6.0, 8]]) == pytest.approx(16.0 / 16 / math.log(2))
    assert load_outcomes(tmp_path / "nothing") is None
    with pytest.raises(ValueError):
        save_outcomes(tmp_path, "uas", [[1, 2, 3]])


def test_bleu_from_summed_stats_matches_sacrebleu():
    from sacrebleu.metrics import BLEU

    hyps = ["the cat sat on the mat today", "a quick brown fox jumps over it", "hello there my good friend",
            "we are going to the market now", "this is fine"]
    refs = ["the cat sat on a mat today", "the quick brown fox jumps over the dog", "hello my good friend",
            "we go to the market now", "this is quite fine indeed"]
    bleu = BLEU()
    rows = []
    for h, r in zip(hyps, refs):
        s = bleu.sentence_score(h, [r])
        rows.append([s.sys_len, s.ref_len, *s.counts, *s.totals])
    ours = metric_from_stats("bleu", rows)
    assert ours == pytest.approx(BLEU().corpus_score(hyps, [refs]).score, abs=1e-9)
    sums = np.sum(rows, axis=0)
    assert ours == pytest.approx(BLEU.compute_bleu(list(sums[2:6]), list(sums[6:10]), int(sums[0]), int(sums[1])).score,
                                 abs=1e-9)
    # no 4-gram match at all: unsmoothed corpus BLEU is 0, as sacrebleu's compute_bleu says
    zero = [[3, 3, 2, 1, 0, 0, 3, 2, 1, 0]]
    assert metric_from_stats("bleu", zero) == BLEU.compute_bleu([2, 1, 0, 0], [3, 2, 1, 0], 3, 3).score == 0.0


def _accuracy_jobs(root, ln_correct, lns_correct):
    for seed, (a, b) in enumerate(zip(ln_correct, lns_correct), 1):
        for norm, c in (("layernorm", a), ("layernorm_simple", b)):
            p = job(root, "rt", norm, seed, 100.0 * float(np.mean(c)), metric="accuracy")
            save_outcomes(p.parent, "accuracy", c)


def test_crossed_bootstrap_counts_test_set_noise(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    ln, lns = [], []
    for _ in range(3):
        a = rng.permutation(np.r_[np.ones(150), np.zeros(n - 150)])
        b = a.copy()
        ones, zeros = np.flatnonzero(a == 1), np.flatnonzero(a == 0)
        b[rng.choice(ones, 20, replace=False)] = 0  # 41 discordant examples, net +1 for LN-simple: +0.5 points
        b[rng.choice(zeros, 21, replace=False)] = 1
        assert b.sum() - a.sum() == 1
        ln.append(a), lns.append(b)
    _accuracy_jobs(tmp_path, ln, lns)
    c = contrast(tmp_path, dataset="rt")
    assert c.estimate == pytest.approx(0.5) and c.t_ci == pytest.approx((0.5, 0.5))  # seeds alone: no spread
    assert c.method == "crossed bootstrap" and c.ci == c.boot_ci
    assert c.ci[0] < 0 < c.ci[1] and verdict_of(c.ci) == "inconclusive"  # 0.5 points is within test-set noise
    again = contrast(tmp_path, dataset="rt")
    assert again.ci == c.ci  # seeded


def test_crossed_bootstrap_without_seed_noise_is_as_wide_as_the_test_set_makes_it(tmp_path):
    """Every seed scores the same test set: when the seeds add no noise (identical outcomes at every seed),
    the interval is the paired test-set interval, +-1.96 analytic SEs, however many seeds there are (a
    bootstrap that nests the examples in seeds would shrink it by about sqrt(5))."""
    rng = np.random.default_rng(3)
    n = 600
    ln = (rng.random(n) < 0.7).astype(float)
    lns = ln.copy()
    flip = rng.choice(n, 90, replace=False)
    lns[flip] = 1 - lns[flip]
    _accuracy_jobs(tmp_path, [ln] * 5, [lns] * 5)
    c = contrast(tmp_path, dataset="rt")
    d = 100.0 * (lns - ln)
    se = d.std() / math.sqrt(n)  # the paired SE of an accuracy difference on one test set
    assert c.estimate == pytest.approx(d.mean()) and c.t_ci == pytest.approx((d.mean(), d.mean()))
    assert c.method == "crossed bootstrap"
    half = (c.ci[1] - c.ci[0]) / 2
    assert half == pytest.approx(sps.norm.ppf(0.975) * se, rel=0.1)
    assert (c.ci[0] + c.ci[1]) / 2 == pytest.approx(d.mean(), abs=0.25 * se)


def test_crossed_bootstrap_with_only_seed_noise_gives_the_t_interval(tmp_path):
    """bpc where every block of a seed has the same NLL per byte: resampling the test blocks changes
    nothing, only the seeds vary, and the reported interval is the seeds' t-interval."""
    rng = np.random.default_rng(4)
    tokens = rng.integers(50, 300, size=40).astype(float)
    diffs = []
    for seed in range(1, 6):
        rate = {"layernorm": 1.2 + 0.05 * rng.standard_normal(), "layernorm_simple": 1.25 + 0.05 * rng.standard_normal()}
        for norm, r in rate.items():
            st = np.column_stack([tokens * r, tokens])
            p = job(tmp_path, "enwik8", norm, seed, metric_from_stats("bpc", st), metric="bpc")
            save_outcomes(p.parent, "bpc", st)
        diffs.append(-(rate["layernorm_simple"] - rate["layernorm"]) / math.log(2))  # lower is better
    c = contrast(tmp_path, dataset="enwik8")
    assert c.estimate == pytest.approx(np.mean(diffs))
    assert c.t_ci == pytest.approx(t_interval(diffs))
    assert c.boot_ci[0] >= c.t_ci[0] - 1e-12 and c.boot_ci[1] <= c.t_ci[1] + 1e-12
    assert c.ci == c.t_ci and c.method == "t (wider than the crossed bootstrap)"


def test_identical_outcomes_give_a_zero_interval_and_missing_ones_fall_back_to_seeds(tmp_path):
    rng = np.random.default_rng(2)
    outs = [(rng.random(50) < 0.6).astype(float) for _ in range(3)]
    _accuracy_jobs(tmp_path, outs, outs)
    c = contrast(tmp_path, dataset="rt")
    assert c.boot_ci == (0.0, 0.0) and c.estimate == 0.0
    (tmp_path / "rt" / "layernorm" / "seed2" / "outcomes.npz").unlink()
    c = contrast(tmp_path, dataset="rt")
    assert c.boot_ci is None and c.method == "t" and any("only 5 of 6 jobs" in n for n in c.notes)


# --- labels, deviations, probe ---------------------------------------------------------------------------

def test_variant_labels_from_norm_options(tmp_path):
    from normlab.norms import default_options

    full = default_options("adanorm")
    job(tmp_path, "rt", "adanorm", 1, 77.0, metric="accuracy", norm_options=full)
    job(tmp_path, "rt", "adanorm", 1, 76.0, metric="accuracy", norm_options={**full, "scale": 1.0})
    job(tmp_path, "rt", "layernorm", 1, 77.0, metric="accuracy",
        norm_options={**default_options("layernorm"), "eps": 1e-6})
    jobs, _ = load_jobs([tmp_path])
    assert sorted(j.label for j in jobs) == ["adanorm", "adanorm (scale=1)", "layernorm (eps=1e-06)"]


def test_deviations_mark_the_paper_number_and_comparability(tmp_path):
    pair(tmp_path, [35.0, 35.2], [35.4, 35.5], deviations=["30k updates instead of 90k"])
    job(tmp_path, "rt_sample", "layernorm", 1, 77.0, metric="accuracy")
    data, _ = cells(tmp_path)
    assert data["iwslt14_de_en"].comparable == "not comparable: paper/1 deviations"
    assert data["rt_sample"].comparable == "not comparable: offline_sample/0 deviations"
    t1 = next(t for t in build_tables(data, load_paper()) if t.key == "table1")
    md = to_markdown(t1)
    assert "[35.5]§1" in md and "§1 iwslt14_de_en: 30k updates instead of 90k" in md
    assert "iwslt14_de_en: not comparable: paper/1 deviations" in md and r"\S{}" in to_latex(t1)
    job(tmp_path / "clean", "iwslt14_de_en", "layernorm", 1, 35.0)
    assert cells(tmp_path / "clean")[0]["iwslt14_de_en"].comparable == "comparable"


def test_probe_figure_per_variant_and_skipped_without_probe(tmp_path):
    pair(tmp_path, [35.0, 35.2], [35.4, 35.5])
    for norm, mean in (("layernorm", 0.01), ("layernorm_simple", 0.0)):
        points = [{"num_updates": u, "positions": {f"encoder.layers.{i}.norm": {
            "in_mean": 0.02, "in_var": 1e-4, "out_mean": mean, "out_var": 5e-5} for i in range(2)}}
            for u in (10, 20, 30)]
        (tmp_path / "iwslt14_de_en" / norm / "seed1" / "probe.json").write_text(json.dumps({"points": points}))
    (tmp_path / "iwslt14_de_en" / "layernorm" / "seed2" / "probe.json").write_text("{broken")
    out = tmp_path / "out"
    write_report([tmp_path], out)
    pngs = {p.name for p in (out / "figures").glob("*.png")}
    assert "iwslt14_de_en_probe.png" in pngs and "iwslt14_de_en_paired_losses.png" in pngs
    assert "claim1_forest.png" in pngs
