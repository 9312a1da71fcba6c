"""Nothing the user sets is silently ignored: a setting no code reads, a bad norm option, a value fairseq
refuses or one that makes training a no-op is one line before the job starts, with no job folder left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from normlab.compose import compose
from normlab.config import ConfigError, check_job
from normlab.runner.job import JobConfigError, run_job

BASE = ["dataset=quick_ptb", "debug=smoke", "logger=none"]


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("overrides, needle", [
    (["+norms=adanorm"], "unknown setting 'norms' (did you mean 'norm'?)"),
    (["trainer.max_epoch=-1"], "trainer.max_epoch=-1 would train nothing"),
])
def test_config_checks_name_the_key(overrides, needle, paths):
    with pytest.raises(ConfigError) as err:
        check_job(compose([*BASE, *overrides]))
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("overrides, needle", [
    (["norm=layernorm_simple", "+norm.stdd=biased"],
     "layernorm_simple has no option 'stdd'; options: eps, std, eps_placement"),
    (["+optim.lrr=0.1"], "unrecognized arguments: --lrr 0.1 (set by optim.lrr)"),
    (["seed=abc"], "invalid int value: 'abc' (set by seed)"),
    (["norm.scope=everywhere"], "norm.scope='everywhere' is not one of: all, final_only"),
])
def test_refused_before_any_folder_exists(overrides, needle, paths):
    cfg = compose([*BASE, *overrides])
    with pytest.raises(JobConfigError) as err:
        run_job(cfg, say=lambda _: None)
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert not (paths / "out" / "default").exists()  # no orphan job folder


def test_every_norm_option_reaches_the_model(paths):
    result = run_job(compose([*BASE, "norm=layernorm_simple", "+norm.std=biased", "+norm.eps=0.001",
                              "trainer.max_epoch=1"]), say=lambda _: None)
    assert result["status"] == "done"
    assert result["norm_options"] == {"eps": 0.001, "std": "biased", "eps_placement": "std"}
    assert result["norm_modules"]["variant"] == result["norm_modules"]["total"] == 2


def test_a_refused_job_does_not_stop_its_sweep(paths):
    train = Path(sys.executable).with_name("normlab-train")
    run = subprocess.run([str(train), "-m", *BASE, "trainer.max_epoch=1", "seed=abc,1"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "invalid int value: 'abc'" in run.stderr and "Traceback" not in run.stderr
    assert len(list((paths / "out" / "default" / "quick_ptb").glob("*/seed1-*/result.json"))) == 1


def test_bad_input_data_is_one_line_naming_file_and_line(paths):
    raw = paths / "treebank"
    raw.mkdir()
    good = "1\tA\ta\tDET\tDT\t_\t2\tdet\t_\t_\n2\tB\tb\tNOUN\tNN\t_\t0\troot\t_\t_\n\n"
    for split in ("train", "valid"):
        (raw / f"{split}.conllu").write_text(good)
    (raw / "test.conllu").write_text(good.replace("\t0\troot", "\tx\troot"))
    cfg = compose(["dataset=custom_parsing", f"dataset.raw_dir={raw}", "debug=smoke", "logger=none"])
    with pytest.raises(JobConfigError) as err:
        run_job(cfg, say=lambda _: None)
    assert f"{raw / 'test.conllu'}:2: head 'x'" in str(err.value) and "\n" not in str(err.value)
    assert not (paths / "out" / "default").exists()
