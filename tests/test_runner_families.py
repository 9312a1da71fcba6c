"""Every dataset family through the same runner: generated stand-ins, and the real samples under debug=smoke."""

from __future__ import annotations

import math

import pytest

from normlab.compose import compose
from normlab.runner.job import run_job

PAPER_NORMS = ("none", "layernorm", "layernorm_simple", "detachnorm", "adanorm")
QUICK = {  # dataset -> (metric, family)
    "quick_iwslt14_de_en": ("bleu", "translation"), "quick_iwslt15_en_vi": ("bleu", "translation"),
    "quick_wmt14_en_de": ("bleu", "translation"), "quick_enwik8": ("bpc", "language_model"),
    "quick_rt": ("accuracy", "classification"), "quick_sst5": ("accuracy", "classification"),
    "quick_mnist": ("accuracy", "image_classification"), "quick_ptb": ("uas", "parsing"),
}
SAMPLES = {"enwik8_sample": "bpc", "rt": "accuracy", "sst5": "accuracy", "mnist_sample": "accuracy", "ptb_sample": "uas"}


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("i, dataset", list(enumerate(QUICK)), ids=list(QUICK))
def test_generated_stand_in_of_each_paper_dataset(i, dataset, paths):
    metric, family = QUICK[dataset]
    norm = PAPER_NORMS[i % len(PAPER_NORMS)]
    cfg = compose([f"dataset={dataset}", f"norm={norm}", "logger=none", "debug=smoke"])
    assert cfg["dataset"]["family"] == family
    result = run_job(cfg)
    assert result["status"] == "done", result.get("error")
    assert result["dataset"] == dataset and result["metric"]["name"] == metric
    assert math.isfinite(result["metric"]["value"]) and result["history"]


# enwik8's sample is the slowest smoke job (about 20 s); the LM family stays covered in `make test` by
# quick_enwik8 and tests/test_lm_sliding_window.py, and `make test-all` runs this one too.
@pytest.mark.parametrize("i, dataset", [pytest.param(i, d, marks=[pytest.mark.slow] if d == "enwik8_sample" else [])
                                        for i, d in enumerate(SAMPLES)], ids=list(SAMPLES))
def test_real_sample_smoke(i, dataset, shared_data, paths, monkeypatch):
    monkeypatch.setenv("NORMLAB_RAW_DIR", str(shared_data))
    norm = PAPER_NORMS[(i + 2) % len(PAPER_NORMS)]
    result = run_job(compose([f"dataset={dataset}", f"norm={norm}", "logger=none", "debug=smoke"]))
    assert result["status"] == "done", result.get("error")
    assert result["metric"]["name"] == SAMPLES[dataset] and math.isfinite(result["metric"]["value"])
    assert len(result["history"]) >= 3  # enough points for the loss curves


def test_ptb_without_data_says_it_is_ldc_licensed_in_one_line(paths):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "NORMLAB_RAW_DIR": str(paths / "empty")}
    out = subprocess.run([Path(sys.executable).with_name("normlab-train"), "dataset=ptb", "logger=none"],
                         capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert "LDC" in last and "custom_parsing" in last
    assert not list((paths / "out").glob("jobs/ptb/*/*/result.json"))  # nothing ran, so no result to skip later
