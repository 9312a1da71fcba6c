"""W&B as users chart it: per-update train/*, valid/* at each validation, test/* in the summary, the run id
from the job's identity, and normlab-report --wandb; every run offline, read back from its .wandb file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from normlab.compose import compose
from normlab.report.cli import main as report_main
from normlab.runner.history import EpochHistory, parse_inner
from normlab.runner.job import run_job
from normlab.runner.wandb_run import run_id
from wandb_reader import read_run


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_train_inner_line_parses():
    line = ("epoch 002:     10 / 19 loss=0.829, nll_loss=0.8, ppl=1.74, wps=2975.4, ups=10.33, wpb=288, bsz=32, "
            "num_updates=29, lr=0.0005, gnorm=1.643, train_wall=1, wall=12")
    stats = parse_inner(line)
    assert stats["epoch"] == 2 and stats["batch"] == 10 and stats["batches"] == 19
    assert (stats["loss"], stats["lr"], stats["gnorm"], stats["num_updates"]) == (0.829, 0.0005, 1.643, 29)


def test_history_hook_sees_train_inner_and_valid_records():
    import logging

    updates, valids = [], []
    with EpochHistory(on_update=updates.append, on_valid=valids.append):
        logger = logging.getLogger("fairseq.logging.progress_bar")
        for tag, msg in (("train_inner", "epoch 001:      5 / 9 loss=2.5, lr=0.001, num_updates=5"),
                         ("valid", "epoch 001 | valid on 'valid' subset | loss 2.1 | accuracy 60 | num_updates 9"),
                         ("train", "epoch 001 | loss 2.4 | num_updates 9")):
            old, logger.name = logger.name, tag
            try:
                logger.info(msg)
            finally:
                logger.name = old
    assert [u["loss"] for u in updates] == [2.5] and valids[0]["accuracy"] == 60


def test_smoke_job_logs_every_interval_and_scores_in_the_summary(paths):
    cfg = compose(["dataset=quick_rt", "debug=smoke", "logger=wandb", "group=charts", "trainer.log_interval=4",
                   "trainer.max_epoch=2", "dataset.synthetic.n_train=160", "dataset.synthetic.n_valid=32",
                   "dataset.synthetic.n_test=32"])
    result = run_job(cfg)
    assert result["status"] == "done"
    (run_file,) = Path(result["job_dir"]).glob("wandb/offline-run-*/run-*.wandb")
    run = read_run(run_file)
    assert run["run"]["id"] == run_id(cfg) and run["run"]["group"] == "charts" and run["run"]["job_type"] == "layernorm"
    assert run["run"]["tags"] == ["quick_rt", "layernorm", "charts"]
    assert run["config"]["dataset"]["name"] == "quick_rt" and run["config"]["trainer"]["log_interval"] == 4

    updates = result["history"][-1]["num_updates"]
    train = [h for h in run["history"] if "train/loss" in h]
    assert [h["_step"] for h in train] == list(range(4, updates + 1, 4))  # every log interval
    assert all(h["train/loss"] > 0 and h["train/lr"] > 0 and "train/gnorm" in h and "train/wps" in h for h in train)
    valid = [h for h in run["history"] if "valid/loss" in h]
    assert [h["valid/loss"] for h in valid] == [r["valid_loss"] for r in result["history"]]
    assert all("valid/accuracy" in h for h in valid)
    assert run["summary"]["test/accuracy"] == result["metrics"]["accuracy"] == result["metric"]["value"]
    assert run["summary"]["valid/best_loss"] == result["valid_loss"]


def test_run_id_is_the_job_identity_not_its_folder(paths, monkeypatch):
    here = compose(["experiment=demo", "norm=adanorm"])
    monkeypatch.setenv("NORMLAB_OUTPUT", str(paths / "mounted" / "elsewhere"))
    there = compose(["experiment=demo", "norm=adanorm"])
    assert here["paths"]["output"] != there["paths"]["output"]
    assert run_id(here) == run_id(there)
    assert run_id(here) != run_id(compose(["experiment=demo", "norm=adanorm", "seed=2"]))
    assert run_id(here) != run_id(compose(["experiment=demo", "norm=adanorm", "group=other"]))


def test_report_logs_tables_figures_and_verdicts_to_one_report_run(tmp_path, capsys):
    from test_report import seeds

    root = tmp_path / "outputs"
    seeds(root, "rt", "layernorm", [77.0, 77.5, 77.2], metric="accuracy")
    seeds(root, "rt", "layernorm_simple", [76.0, 76.5, 76.1], metric="accuracy")
    out = tmp_path / "report"
    assert report_main([str(root), "--out", str(out), "--wandb"]) == 0
    assert "W&B report run" in capsys.readouterr().out
    (run_file,) = out.glob("wandb/offline-run-*/run-*.wandb")
    run = read_run(run_file)
    assert run["run"]["job_type"] == "report" and run["run"]["group"] == "fixture"
    assert run["run"]["project"] == "normlab"
    (logged,) = [h for h in run["history"] if any(k.startswith("tables/") for k in h)]
    tables = {k for k, v in logged.items() if isinstance(v, dict) and v.get("_type") == "table-file"}
    images = {k for k, v in logged.items() if isinstance(v, dict) and v.get("_type") == "image-file"}
    assert {f"tables/{p.stem}" for p in (out / "tables").glob("*.csv")} <= tables
    assert "verdicts/rows" in tables
    assert images == {f"figures/{p.stem}" for p in (out / "figures").glob("*.png")} and images
    table_file = run_file.parent / "files" / logged["verdicts/rows"]["path"]
    doc = json.loads(table_file.read_text())
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert len(doc["data"]) == len(verdicts["rows"]) and "verdict" in doc["columns"]
