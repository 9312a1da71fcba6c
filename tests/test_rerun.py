"""A job's result.json records the overrides that reproduce it; rerunning them on the same kind of
machine gives the same metric (CPU training is deterministic for a seed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _train(overrides, output: Path, data: Path) -> dict:
    env = {**os.environ, "NORMLAB_OUTPUT": str(output), "NORMLAB_DATA_DIR": str(data)}
    run = subprocess.run([str(Path(sys.executable).with_name("normlab-train")), *overrides],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    (result,) = output.glob("*/*/*/*/result.json")
    return json.loads(result.read_text())


def test_rerun_from_recorded_overrides_gives_the_same_metric(tmp_path):
    first = _train(["dataset=quick_ptb", "debug=smoke", "logger=none", "norm=adanorm", "seed=3",
                    "trainer.max_epoch=2"], tmp_path / "a", tmp_path / "data_a")
    assert first["status"] == "done" and first["overrides"][0] == "dataset=quick_ptb"
    again = _train(first["overrides"], tmp_path / "b", tmp_path / "data_b")
    assert again["metric"]["value"] == first["metric"]["value"]
    assert again["valid_loss"] == first["valid_loss"] and again["train_loss"] == first["train_loss"]
