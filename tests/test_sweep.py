"""Sweeps: every experiment composes job by job; progress and summary; kill and rerun; the launchers."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from normlab.compose import compose, compose_many
from normlab.config import CONF_DIR, register_resolvers

TRAIN = str(Path(sys.executable).with_name("normlab-train"))
EXPERIMENTS = {"paper_grid": 120, "detach_study": 36, "adanorm_c_sweep": 72, "official_replay": 30,
               "modern_norms": 144, "quick_grid": 40,
               "offline_grid": 100, "offline_grid_seq": 45, "offline_modern_norms": 60,
               "offline_modern_norms_seq": 18}
# Experiments whose jobs join another experiment's folder tree (one report over both).
GROUPS = {"offline_grid_seq": "offline_grid", "offline_modern_norms_seq": "offline_modern_norms"}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return {**os.environ}


def sweep_params(experiment: str) -> dict[str, list[str]]:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=[f"experiment={experiment}"], return_hydra_config=True)
    return {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}


def test_every_experiment_file_is_listed():
    assert {p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")} - {"demo"} == set(EXPERIMENTS)


def _compose_jobs(experiment: str, every: int = 1):
    params = sweep_params(experiment)
    combos = list(itertools.product(*[[f"{k}={v}" for v in values] for k, values in params.items()]))
    assert len(combos) == EXPERIMENTS[experiment]
    # every k-th job of the sweep's order: a sample spanning all of it (the slow test composes every job)
    chosen = combos[::every]
    return chosen, compose_many([[f"experiment={experiment}", *combo] for combo in chosen])


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_job_by_job(experiment, env):
    # A sample of each experiment's jobs (make test); test_every_job_of_every_experiment_composes does all.
    from normlab.runner.identity import job_dir

    combos, cfgs = _compose_jobs(experiment, every=max(1, EXPERIMENTS[experiment] // 12) | 1)
    assert {cfg["group"] for cfg in cfgs} == {GROUPS.get(experiment, experiment)}
    assert len({job_dir(cfg, Path(cfg["paths"]["output"])) for cfg in cfgs}) == len(combos)  # one job per cell


@pytest.mark.parametrize("study, grid", [("offline_modern_norms", "offline_grid"),
                                          ("offline_modern_norms_seq", "offline_grid_seq")])
def test_an_offline_study_pairs_with_the_grid_it_extends(study, grid, env):
    # The same dataset and seed give the same recipe, so a study's job pairs seed by seed with the committed
    # grid's LayerNorm job: everything but the norm and the group is equal.
    dataset = sweep_params(study)["dataset"][-1]
    ours, theirs = compose_many([[f"experiment={study}", f"dataset={dataset}", "norm=rmsnorm", "seed=2"],
                                 [f"experiment={grid}", f"dataset={dataset}", "norm=layernorm", "seed=2"]])
    assert dataset in sweep_params(grid)["dataset"]
    strip = lambda cfg: {k: v for k, v in cfg.items() if k not in ("norm", "group")}  # noqa: E731
    assert strip(ours) == strip(theirs)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_job_of_every_experiment_composes(experiment, env):
    from normlab.runner.identity import job_dir

    combos, cfgs = _compose_jobs(experiment)
    assert {cfg["group"] for cfg in cfgs} == {GROUPS.get(experiment, experiment)}
    assert len({job_dir(cfg, Path(cfg["paths"]["output"])) for cfg in cfgs}) == len(combos)  # one job per cell


def test_detach_study_deepens_encoder_and_decoder(env):
    cfg = compose(["experiment=detach_study", "model.encoder_layers=18", "norm=detach_std", "dataset=iwslt15_en_vi"])
    assert cfg["model"]["encoder_layers"] == cfg["model"]["decoder_layers"] == 18


def test_official_replay_varies_the_scope(env):
    assert sweep_params("official_replay")["norm.scope"] == ["all", "final_only"]


def _results(root: Path) -> dict[str, dict]:
    return {str(p.parent.relative_to(root)): json.loads(p.read_text()) for p in root.glob("*/*/*/*/result.json")}


SMALL = ["experiment=quick_grid", "dataset=quick_rt,quick_ptb", "norm=layernorm,adanorm", "debug=smoke"]


def test_quick_grid_subset_with_progress_and_summary(env, tmp_path):
    out = subprocess.run([TRAIN, "-m", *SMALL], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sweep: 4 job(s)" in out.stdout
    assert "[4/4] 100%" in out.stdout and "ETA" in out.stdout
    assert "sweep finished: 4 of 4 jobs — 4 done, 0 diverged, 0 failed, 0 skipped" in out.stdout
    results = _results(tmp_path / "out")
    assert len(results) == 4 and {r["status"] for r in results.values()} == {"done"}

    again = subprocess.run([TRAIN, "-m", *SMALL], capture_output=True, text=True, env=env, timeout=600)
    assert "sweep finished: 4 of 4 jobs — 0 done, 0 diverged, 0 failed, 4 skipped" in again.stdout
    assert again.stdout.count("skip quick_") == 4


def test_killed_sweep_reruns_only_what_is_missing(env, tmp_path):
    overrides = ["experiment=quick_grid", "dataset=quick_mnist,quick_ptb,quick_rt", "norm=layernorm", "debug=smoke"]
    proc = subprocess.Popen([TRAIN, "-m", *overrides], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    try:
        deadline = time.time() + 300
        while len(_results(tmp_path / "out")) < 1:
            assert proc.poll() is None and time.time() < deadline, "the sweep ended before it was killed"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = _results(tmp_path / "out")
    assert 1 <= len(before) < 3
    stamps = {k: (tmp_path / "out" / k / "result.json").stat().st_mtime_ns for k in before}

    out = subprocess.run([TRAIN, "-m", *overrides], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    after = _results(tmp_path / "out")
    assert len(after) == 3 and {r["status"] for r in after.values()} == {"done"}
    for key, stamp in stamps.items():  # nothing done was redone
        assert (tmp_path / "out" / key / "result.json").stat().st_mtime_ns == stamp
        assert after[key] == before[key]
    assert f"{len(before)} skipped" in out.stdout


# submitit's local executor is slow to start (about 30 s) and the real-SLURM tests exercise submitit
# in CI, so it runs in `make test-all`.
@pytest.mark.parametrize("launcher", [pytest.param("submitit_local", marks=pytest.mark.slow), "joblib"])
def test_other_launchers_run_the_sweep(launcher, env, tmp_path):
    # One joblib worker runs both jobs: its second job must still find fairseq's configs, which the
    # launcher's reset of Hydra's ConfigStore once wiped (every second job of a worker failed).
    overrides = ["experiment=quick_grid", "dataset=quick_ptb", "norm=layernorm_simple,detachnorm", "debug=smoke",
                 f"launcher={launcher}", *(["hydra.launcher.n_jobs=1"] if launcher == "joblib" else [])]
    out = subprocess.run([TRAIN, "-m", *overrides], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    results = _results(tmp_path / "out")
    assert sorted(r["norm"] for r in results.values()) == ["detachnorm", "layernorm_simple"]
    assert {r["status"] for r in results.values()} == {"done"}
    assert "sweep finished: 2 of 2 jobs — 2 done" in out.stdout
