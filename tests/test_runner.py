"""normlab-train: config composition, one job end to end, result.json, W&B, divergence, resume, skip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from normlab.compose import compose
from normlab.config import CONF_DIR
from normlab.runner.identity import job_dir
from normlab.runner.job import run_job
from normlab.runner.wandb_run import run_id
from wandb_reader import read_run

NEEDS = {  # what a config file needs from the user before it can run
    ("dataset", "custom_translation"): ["dataset.raw_dir=/x", "dataset.source_lang=xx", "dataset.target_lang=yy"],
    ("dataset", "custom_classification"): ["dataset.raw_dir=/x"],
    ("dataset", "custom_parsing"): ["dataset.raw_dir=/x"],
}
CONFIG_FILES = sorted((p.parent.name, p.stem) for p in CONF_DIR.glob("*/*.yaml"))
FAST = ["experiment=demo", "trainer.max_epoch=2", "trainer.max_update=40", "eval.beam=2", "eval.max_len_b=10",
        "dataset.synthetic.n_train=400", "dataset.synthetic.n_valid=40", "dataset.synthetic.n_test=40"]
RESULT_KEYS = {"dataset", "norm", "seed", "status", "metric", "metrics", "train_loss", "valid_loss", "history", "config"}


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("group, name", CONFIG_FILES, ids=[f"{g}/{n}" for g, n in CONFIG_FILES])
def test_every_config_file_composes(group, name, paths):
    cfg = compose([f"{group}={name}", *NEEDS.get((group, name), [])])
    assert cfg["dataset"]["family"] and cfg["model"]["arch"] and cfg["norm"]["name"]
    assert job_dir(cfg, Path(cfg["paths"]["output"])).is_relative_to(paths / "out")


def test_smoke_recipe_applies_only_with_debug_smoke(paths):
    full = compose(["dataset=iwslt14_de_en"])
    smoke = compose(["dataset=iwslt14_de_en", "debug=smoke"])
    assert full["trainer"]["max_update"] == 90000 and "encoder_layers" not in full["model"]
    assert smoke["trainer"]["max_update"] <= 200 and smoke["model"]["encoder_layers"] == 1


def test_paper_recipe_is_the_de_en_default(paths):
    cfg = compose([])
    assert cfg["dataset"]["name"] == "iwslt14_de_en"
    assert cfg["model"]["arch"] == "norm_transformer_iwslt_de_en" and cfg["model"]["encoder_normalize_before"]
    assert cfg["model"]["share_all_embeddings"] and cfg["model"]["dropout"] == 0.3
    assert (cfg["optim"]["lr"], cfg["optim"]["warmup_updates"], cfg["optim"]["warmup_init_lr"]) == (0.0015, 8000, 1e-7)
    assert (cfg["trainer"]["max_tokens"], cfg["trainer"]["update_freq"], cfg["trainer"]["max_update"]) == (4096, 2, 90000)
    assert cfg["trainer"]["label_smoothing"] == 0.1 and cfg["optim"]["weight_decay"] == 1e-4


def test_job_dir_is_the_job_identity(paths):
    def where(*overrides):
        cfg = compose(["experiment=demo", *overrides])
        return job_dir(cfg, Path(cfg["paths"]["output"]))

    assert where("norm=adanorm") == where("norm=adanorm")
    assert where("norm=adanorm") == where("norm=adanorm", "logger=none")  # logging isn't identity
    other = where("norm=adanorm", "group=other")  # an experiment keeps its own tree
    assert other.name == where("norm=adanorm").name and other.parents[2].name == "other"
    assert where("norm=adanorm") != where("norm=adanorm", "norm.k=0.2")
    assert where("seed=1") != where("seed=2")
    assert "synthetic_translation/adanorm/seed1-" in str(where("norm=adanorm"))


def test_job_end_to_end_with_offline_wandb(paths, capsys):
    cfg = compose([*FAST, "norm=adanorm", "logger=wandb", "group=testgroup"])
    result = run_job(cfg)
    assert RESULT_KEYS <= result.keys() and result["status"] == "done"
    on_disk = json.loads((Path(result["job_dir"]) / "result.json").read_text())
    assert on_disk["metric"]["name"] == "bleu" and on_disk["metric"]["higher_is_better"] is True
    assert isinstance(on_disk["metric"]["value"], float) and on_disk["metric"]["value"] == on_disk["metrics"]["bleu"]
    assert "sacrebleu" in on_disk["metrics"] and "nrefs:1|" in on_disk["metrics_info"]["sacrebleu_signature"]
    history = on_disk["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(h["train_loss"] > 0 and h["valid_loss"] > 0 and h["num_updates"] > 0 for h in history)
    assert on_disk["train_loss"] == history[-1]["train_loss"]
    assert on_disk["valid_loss"] == min(h["valid_loss"] for h in history)
    assert on_disk["config"]["norm"] == {"name": "adanorm", "scope": "all", "scale": 2.0, "k": 0.1}
    assert on_disk["deviations"][0] == "generated stand-in data, not the paper's data set"
    assert any(d.startswith("AdaNorm C=2.0") for d in on_disk["deviations"])

    (run_file,) = Path(result["job_dir"]).glob("wandb/offline-run-*/run-*.wandb")
    run = read_run(run_file)
    assert run["run"] == {"id": run_id(cfg), "project": "normlab", "group": "testgroup",
                          "job_type": "adanorm", "name": "synthetic_translation/adanorm/seed1",
                          "tags": ["synthetic_translation", "adanorm", "testgroup"]}
    logged = [h for h in run["history"] if "train/epoch_loss" in h]
    assert [h["train/epoch_loss"] for h in logged] == [h["train_loss"] for h in history]
    assert [h["valid/loss"] for h in run["history"] if "valid/loss" in h] == [h["valid_loss"] for h in history]
    assert run["summary"]["test/bleu"] == on_disk["metrics"]["bleu"] and run["summary"]["status"] == "done"
    assert run["summary"]["test/sacrebleu_signature"] == on_disk["metrics_info"]["sacrebleu_signature"]

    capsys.readouterr()
    again = run_job(cfg)  # a done job is skipped, with one line saying so
    assert again == on_disk
    assert "skip synthetic_translation/adanorm/seed1: already done" in capsys.readouterr().out


def test_absurd_learning_rate_diverges(paths):
    cfg = compose([*FAST, "norm=none", "optim.lr=1000", "optim.warmup_updates=1", "logger=none"])
    result = run_job(cfg)
    assert result["status"] == "diverged" and result["metric"]["value"] is None
    assert json.loads((Path(result["job_dir"]) / "result.json").read_text())["status"] == "diverged"


def test_failed_job_is_recorded_and_retried_on_request(paths, monkeypatch, capsys):
    # A failure while training is a result (failed); one while preparing data is refused before the
    # job exists (tests/test_job_checks.py).
    cfg = compose([*FAST, "norm=layernorm", "logger=none"])
    from normlab.fairseq_adapter import run as fairseq_run

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fairseq_run, "train", broken)
    result = run_job(cfg)
    assert result["status"] == "failed" and "disk on fire" in result["error"]
    assert (Path(result["job_dir"]) / "error.txt").exists()
    capsys.readouterr()
    assert run_job(cfg)["status"] == "failed"
    assert "pass retry_failed=true" in capsys.readouterr().out
    monkeypatch.undo()
    monkeypatch.setenv("NORMLAB_OUTPUT", str(paths / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(paths / "data"))
    assert run_job({**cfg, "retry_failed": True})["status"] == "done"


def _cli(*overrides, env=None, timeout=600):
    return subprocess.run([Path(sys.executable).with_name("normlab-train"), *overrides], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("override, message", [
    ("norm.k=5", "norm: adanorm option 'k'"),
    ("norm.scale=-1", "norm: adanorm option 'scale'"),
    ("norm.scope=everywhere", "norm.scope='everywhere' is not one of: all, final_only"),
])
def test_bad_norm_options_fail_in_one_line(override, message, paths):
    out = _cli("experiment=demo", "norm=adanorm", override, "logger=none", env=os.environ)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert message in out.stderr.strip().splitlines()[-1]


def test_unknown_norm_lists_the_choices(paths):
    out = _cli("norm=batchnorm", env=os.environ)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "Could not find 'norm/batchnorm'" in out.stderr and "adanorm" in out.stderr


def test_interrupted_job_resumes_from_its_last_checkpoint(paths):
    overrides = ["experiment=demo", "norm=layernorm_simple", "logger=none", "trainer.max_epoch=4",
                 "trainer.max_update=1000", "dataset.synthetic.n_train=600", "eval.beam=1"]
    cfg = compose(overrides)
    root = job_dir(cfg, Path(cfg["paths"]["output"]))
    proc = subprocess.Popen([Path(sys.executable).with_name("normlab-train"), *overrides],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while not (root / "history.json").exists() or not json.loads((root / "history.json").read_text()):
            assert proc.poll() is None and time.time() < deadline, "the job ended before its first epoch was saved"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (root / "result.json").exists()
    out = _cli(*overrides, env=os.environ)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"resume synthetic_translation/layernorm_simple/seed1 in {root}" in out.stdout
    result = json.loads((root / "result.json").read_text())
    assert result["status"] == "done"
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3, 4]
    updates = [h["num_updates"] for h in result["history"]]
    assert updates == sorted(updates) and len(set(updates)) == 4


@pytest.mark.parametrize("dataset, src, tgt", [
    ("iwslt14_de_en", "de", "en"), ("iwslt15_en_vi", "en", "vi"), ("wmt14_en_de", "en", "de")])
def test_smoke_job_per_translation_dataset_on_generated_data(dataset, src, tgt, paths):
    # Generated text in the dataset's languages, given as a ready folder: the dataset's own model,
    # recipe and evaluation run under debug=smoke.
    from normlab.families.translation.generated import write_synthetic_translation

    text = write_synthetic_translation(paths / "raw", src, tgt, n_train=300, n_valid=30, n_test=30)
    cfg = compose([f"dataset={dataset}", f"dataset.raw_dir={text}", "debug=smoke", "logger=none",
                   "norm=layernorm_simple", "trainer.max_update=20"])
    assert cfg["trainer"]["max_update"] == 20 and cfg["model"]["encoder_layers"] == 1
    result = run_job(cfg)
    assert result["status"] == "done", result.get("error")
    assert result["dataset"] == dataset and result["metric"]["value"] is not None


@pytest.mark.parametrize("dataset, train", [("iwslt14_de_en_sample", 2000), ("iwslt15_en_vi_sample", 1553)])
def test_smoke_job_on_real_sample(dataset, train, shared_data, paths, monkeypatch):
    monkeypatch.setenv("NORMLAB_RAW_DIR", str(shared_data))
    cfg = compose([f"dataset={dataset}", "debug=smoke", "logger=none", "norm=adanorm", "trainer.max_update=30"])
    started = time.time()
    result = run_job(cfg)
    assert result["status"] == "done", result.get("error")
    assert result["history"] and result["metrics"]["bleu"] >= 0
    prepared = json.loads(next((paths / "data" / dataset).glob("*/meta.json")).read_text())
    assert prepared["counts"] == {"train": train, "valid": 200, "test": 100}
    assert time.time() - started < 120


def test_custom_dataset_without_its_folder_says_what_to_pass(paths):
    out = _cli("dataset=custom_translation", env=os.environ)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "normlab-train: this job needs dataset.raw_dir=... dataset.source_lang=... dataset.target_lang=...")
