"""A norm of the user's own (norm=custom norm._target_=package.module.Class): built as Class(dim, **options)
in every norm place, recorded with its target, options and package version, named by its class (or
norm.label) in the job folder and the report, and refused in one line before any job folder exists.
x-transformers (requirements-test.txt) is a package no one here wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from normlab.compose import compose
from normlab.norms import NormConfigError, build_norm, default_options
from normlab.runner.identity import job_dir
from normlab.runner.job import JobConfigError, check_norm, run_job

BASE = ["dataset=quick_rt", "debug=smoke", "logger=none"]
XT_SCALENORM = "x_transformers.x_transformers.ScaleNorm"  # ScaleNorm(dim, unit_offset=False)


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_built_as_class_dim_options():
    m = build_norm("custom", 16, _target_="torch.nn.RMSNorm", eps=1e-6)
    assert type(m) is torch.nn.RMSNorm and m.eps == 1e-6 and m.normalized_shape == (16,)
    pytest.importorskip("x_transformers")
    assert type(build_norm("custom", 16, _target_=XT_SCALENORM)).__name__ == "ScaleNorm"
    assert default_options("custom", "torch.nn.RMSNorm") == {"eps": None, "elementwise_affine": True}


@pytest.mark.parametrize("target, options, words", [
    ("nope.Missing", {}, ["norm._target_=nope.Missing cannot be imported: ModuleNotFoundError"]),
    ("torch.nn.NoSuchNorm", {}, ["norm._target_=torch.nn.NoSuchNorm cannot be imported"]),
    ("RMSNorm", {}, ["must name a class as package.module.Class"]),
    ("torch.nn.functional.layer_norm", {}, ["is not a torch.nn.Module class"]),
    ("torch.nn.RMSNorm", {"epsilon": 1e-6}, ["cannot be built as RMSNorm(8, epsilon=1e-06)", "TypeError"]),
])
def test_bad_targets_are_one_line(target, options, words):
    with pytest.raises(NormConfigError) as err:
        build_norm("custom", 8, _target_=target, **options)
    assert "\n" not in str(err.value) and all(w in str(err.value) for w in words)


def test_label_names_the_folder_and_never_a_builtin(paths):
    cfg = compose([*BASE, "norm=custom", "norm._target_=torch.nn.RMSNorm"])
    assert job_dir(cfg, Path("o")).parent == Path("o/default/quick_rt/RMSNorm")
    labelled = compose([*BASE, "norm=custom", "norm._target_=torch.nn.RMSNorm", "norm.label=torch_rms"])
    assert job_dir(labelled, Path("o")).parent.name == "torch_rms"
    # same class name from another place, or other options: another job folder
    other = compose([*BASE, "norm=custom", "norm._target_=torch.nn.RMSNorm", "+norm.eps=1e-6"])
    assert job_dir(other, Path("o")) != job_dir(cfg, Path("o"))
    with pytest.raises(JobConfigError, match="must differ from the built-in norms' names"):
        check_norm({**labelled["norm"], "label": "rmsnorm"})


def test_unimportable_target_is_one_line_before_any_folder(paths):
    out = subprocess.run([Path(sys.executable).with_name("normlab-train"), *BASE, "norm=custom",
                          "norm._target_=mypkg.MyNorm", "+norm.eps=1e-6"], capture_output=True, text=True,
                         env=os.environ, timeout=300)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "normlab-train: norm._target_=mypkg.MyNorm cannot be imported: ModuleNotFoundError: No module named 'mypkg'")
    assert not (paths / "out" / "default").exists()


def test_sweep_of_two_user_norms_trains_records_and_reports(paths):
    pytest.importorskip("x_transformers")
    out = subprocess.run([Path(sys.executable).with_name("normlab-train"), "-m", *BASE, "norm=custom",
                          f"norm._target_=torch.nn.RMSNorm,{XT_SCALENORM}"],
                         capture_output=True, text=True, env=os.environ, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    root = paths / "out" / "default" / "quick_rt"
    assert sorted(p.name for p in root.iterdir()) == ["RMSNorm", "ScaleNorm"]
    results = {r["norm"]: r for r in (json.loads(p.read_text()) for p in root.glob("*/seed*/result.json"))}
    rms, xt = results["RMSNorm"], results["ScaleNorm"]
    assert rms["status"] == xt["status"] == "done"
    assert rms["norm_target"] == "torch.nn.RMSNorm" and rms["norm_provider"]["package"] == "torch"
    assert rms["norm_provider"]["version"] == torch.__version__
    assert rms["norm_options"] == {"eps": None, "elementwise_affine": True}
    assert xt["norm_target"] == XT_SCALENORM and xt["norm_options"] == {"unit_offset": False}
    from importlib.metadata import version
    assert xt["norm_provider"] == {"package": "x-transformers", "version": version("x-transformers")}
    # every norm place holds the user's class, as a built-in's would
    assert rms["norm_modules"]["variant"] == rms["norm_modules"]["total"] > 0
    report = subprocess.run([Path(sys.executable).with_name("normlab-report"), str(paths / "out" / "default"),
                             "--out", str(paths / "report")], capture_output=True, text=True, env=os.environ,
                            timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    text = (paths / "report" / "report.md").read_text()
    assert "| RMSNorm |" in text and "| ScaleNorm |" in text
