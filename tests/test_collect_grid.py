"""scripts/collect_grid.py: only whole datasets reach results/, and never two configs of one variant and seed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from test_report import seeds, write_job

VARIANTS = ("none", "layernorm", "layernorm_simple", "detachnorm", "adanorm")


def _collect_grid():
    path = Path(__file__).resolve().parents[1] / "scripts" / "collect_grid.py"
    spec = importlib.util.spec_from_file_location("collect_grid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_whole_datasets_are_copied_and_a_stale_config_blocks_its_dataset(tmp_path, capsys):
    root = tmp_path / "outputs"
    for i, norm in enumerate(VARIANTS):
        seeds(root, "rt", norm, [70.0 + i, 71.0 + i, 70.5 + i, 69.5 + i, 70.2 + i], metric="accuracy")
        seeds(root, "enwik8_sample", norm, [3.3, 3.2, 3.4], metric="bpc")
    seeds(root, "sst5", "layernorm", [35.0, 36.0, 35.5], metric="accuracy")
    # a pilot at another lr left beside the grid's own layernorm seed 1
    write_job(root, "enwik8_sample", "layernorm", 1, 3.7, metric="bpc", extra={"optim": {"lr": 0.00025}})
    target = tmp_path / "results"

    assert _collect_grid().main(str(root / "jobs"), str(target), ["offline_grid", "offline_grid_seq"], []) == 0

    out = capsys.readouterr().out
    assert len(list((target / "jobs" / "rt").glob("*/*/result.json"))) == 25
    assert "sst5: 3 of 25 jobs finished; not copied yet" in out
    assert not (target / "jobs" / "sst5").exists()
    assert "enwik8_sample: not copied: one variant and seed ran with different configs" in out
    assert not (target / "jobs" / "enwik8_sample").exists()
    assert "rt" in (target / "report.md").read_text()


def test_a_study_counts_its_own_sweeps_and_reports_beside_the_grid(tmp_path, capsys):
    collect = _collect_grid()
    planned = collect.planned(["offline_modern_norms", "offline_modern_norms_seq"])
    assert planned == {"rt": 15, "sst5": 15, "mnist_sample": 15, "ptb_sample": 15, "enwik8_sample": 9,
                       "iwslt14_de_en_sample": 9}
    grid, study = tmp_path / "grid", tmp_path / "outputs"
    for norm in ("layernorm", "layernorm_simple"):
        seeds(grid, "rt", norm, [70.0, 71.0, 70.5, 69.5, 70.2], metric="accuracy")
    for norm in ("rmsnorm", "rmsnorm_simple", "dyt"):
        seeds(study, "rt", norm, [70.5, 71.5, 70.0, 70.0, 70.4], metric="accuracy")
    target = tmp_path / "results"
    assert collect.main(str(study / "jobs"), str(target), ["offline_modern_norms"], [str(grid / "jobs")]) == 0
    assert "rt: 15 jobs copied" in capsys.readouterr().out
    report = (target / "report.md").read_text()
    assert "rmsnorm" in report and "layernorm_simple" in report
