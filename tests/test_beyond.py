"""Beyond the paper (normlab.report.beyond): every non-paper norm against LN and LN-simple, with the claims'
paired statistics, in verdicts.json, the findings, the summary and a forest plot."""

from __future__ import annotations

import json

import pytest

from normlab.report.beyond import beyond_rows, beyond_variants
from normlab.report.cli import write_report
from normlab.report.collect import load_jobs
from normlab.report.stats import group_cells

from test_stats import job


def _grid(root):
    for seed in range(1, 6):
        job(root, "rt", "layernorm", seed, 70.0 + seed, metric="accuracy", train_loss=0.30, valid_loss=0.50)
        job(root, "rt", "layernorm_simple", seed, 70.2 + seed, metric="accuracy", train_loss=0.31, valid_loss=0.49)
        job(root, "rt", "adanorm", seed, 70.1 + seed, metric="accuracy")
        # RMSNorm: one point better on every seed, higher train loss and lower valid loss than LN
        job(root, "rt", "rmsnorm", seed, 71.0 + seed + 0.01 * seed, metric="accuracy", train_loss=0.35 + 0.001 * seed,
            valid_loss=0.45 - 0.001 * seed)


def test_rows_against_both_baselines_with_the_signature(tmp_path):
    _grid(tmp_path)
    jobs, _ = load_jobs([tmp_path])
    data = group_cells(jobs)
    assert beyond_variants(data) == ["rmsnorm"]  # AdaNorm is the paper's
    rows = {(r.baseline, r.comparison): r for r in beyond_rows(data)}
    assert set(rows) == {(b, c) for b in ("layernorm", "layernorm_simple") for c in ("metric", "train_loss", "valid_loss")}
    assert rows[("layernorm", "metric")].estimate == pytest.approx(1.03)
    assert rows[("layernorm", "metric")].verdict == "better"
    assert rows[("layernorm", "train_loss")].verdict == "higher" and rows[("layernorm", "valid_loss")].verdict == "lower"


def test_the_report_and_findings_show_them(tmp_path):
    _grid(tmp_path / "jobs")
    out = tmp_path / "out"
    write_report([tmp_path / "jobs"], out)
    doc = json.loads((out / "verdicts.json").read_text())
    assert {r["variant"] for r in doc["beyond"]} == {"rmsnorm"}
    summary = (out / "summary.md").read_text()
    assert "**RMSNorm** (beyond the paper). Test metric against LN: paper data (1): better on 1" in summary
    assert "Over-fitting signature against LN (higher train loss and lower valid loss) on 1: rt" in summary
    assert "## Beyond the paper" in (out / "findings.md").read_text()
    assert "## Beyond the paper" in (out / "report.md").read_text()
    assert (out / "figures" / "beyond_rmsnorm_vs_layernorm_forest.png").is_file()
