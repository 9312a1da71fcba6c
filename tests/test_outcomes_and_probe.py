"""Per-example outcomes beside result.json reproduce the reported metric; the gradient probe measures the
paper's theorem (LayerNorm-simple: ∂ℓ/∂x has mean 0 per row; DetachNorm: mean ḡ/σ)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from normlab.compose import compose
from normlab.outcomes import load_outcomes, metric_from_stats
from normlab.runner.job import run_job


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("dataset,metric", [("quick_rt", "accuracy"), ("quick_mnist", "accuracy")])
def test_outcomes_reproduce_the_metric(dataset, metric, paths):
    result = run_job(compose([f"dataset={dataset}", "debug=smoke", "logger=none", "trainer.max_epoch=1"]),
                     say=lambda _: None)
    assert result["status"] == "done"
    name, stats = load_outcomes(Path(result["job_dir"]))
    assert name == metric and len(stats) == result["metrics"]["test_examples"]
    assert metric_from_stats(name, stats) == pytest.approx(result["metric"]["value"], abs=1e-3)


def test_probe_measures_the_theorem_and_parsing_outcomes(paths):
    seen = {}
    for norm in ("layernorm_simple", "detachnorm"):
        cfg = compose(["dataset=quick_ptb", "debug=smoke", "logger=none", f"norm={norm}", "trainer.max_epoch=1",
                       "+probe.gradients=true", "+probe.steps=[1,5]"])
        result = run_job(cfg, say=lambda _: None)
        job = Path(result["job_dir"])
        name, stats = load_outcomes(job)
        assert name == "uas" and metric_from_stats(name, stats) == pytest.approx(result["metric"]["value"], abs=1e-3)
        probe = json.loads((job / "probe.json").read_text())
        assert [p["num_updates"] for p in probe["points"]] == [1, 5]
        seen[norm] = list(probe["points"][-1]["positions"].values())
        assert len(seen[norm]) == 2  # both hidden layers' norms of the parser
    for position in seen["layernorm_simple"]:
        # Backward normalization re-centres the gradient: each row's mean is 0 (to rounding).
        assert position["out_abs_mean"] < 1e-6 * max(1.0, position["in_abs_mean"] / position["sigma"])
    for position in seen["detachnorm"]:
        # Without it the mean passes through, scaled by 1/σ: nonzero and about in_mean / σ.
        assert position["out_abs_mean"] > 1e-4 * position["in_abs_mean"] / position["sigma"]
