"""The user's own configs (NORMLAB_CONF_DIR, else ./conf) compose beside the packaged ones, the same way
in normlab-train and in normlab's compose(), and a file named like a packaged config is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from normlab.compose import compose, compose_recipe, recipe_reference
from normlab.config import ConfigError, check_user_conf

REPO = Path(__file__).resolve().parents[1]
TRAIN = Path(sys.executable).with_name("normlab-train")

STUDY = """\
# @package _global_
defaults:
  - override /dataset: my_corpus
  - override /logger: none
group: my_study
model:
  encoder_layers: 2
"""
CORPUS = """\
# @package _global_
defaults:
  - custom_translation
dataset:
  name: my_corpus
  raw_dir: /data/my_corpus
  source_lang: de
  target_lang: en
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """A working folder with no conf/ in it, and no NORMLAB_CONF_DIR."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("NORMLAB_CONF_DIR", raising=False)
    return folder


def train(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "NORMLAB_CONF_DIR"}
    return subprocess.run([str(TRAIN), *args], cwd=cwd, env={**environ, **env}, capture_output=True, text=True,
                          timeout=300)


def test_a_user_experiment_and_dataset_compose_from_normlab_conf_dir(tmp_path, elsewhere, monkeypatch):
    user = write(tmp_path / "mine", {"experiment/my_study.yaml": STUDY, "dataset/my_corpus.yaml": CORPUS})
    monkeypatch.setenv("NORMLAB_CONF_DIR", str(user))
    cfg = compose(["experiment=my_study"])
    assert cfg["group"] == "my_study" and cfg["model"]["encoder_layers"] == 2
    assert cfg["dataset"]["name"] == "my_corpus" and cfg["dataset"]["recipe"] == "custom"
    # the deviations see the user's files as they see ours: the dataset's recipe, the experiment's settings
    assert compose_recipe("my_corpus")["dataset"]["raw_dir"] == "/data/my_corpus"
    reference = recipe_reference(cfg, ["experiment=my_study"])
    assert reference["recipe"]["dataset"]["name"] == "my_corpus"
    assert ["model.encoder_layers", "experiment=my_study"] in reference["set_by"]


def test_normlab_train_composes_a_user_experiment_from_any_folder(tmp_path, elsewhere):
    user = write(tmp_path / "mine", {"experiment/my_study.yaml": STUDY, "dataset/my_corpus.yaml": CORPUS})
    run = train(["experiment=my_study", "--cfg", "job"], elsewhere, NORMLAB_CONF_DIR=str(user))
    assert run.returncode == 0, run.stderr
    cfg = yaml.safe_load(run.stdout)
    assert cfg["group"] == "my_study" and cfg["dataset"]["name"] == "my_corpus"


def test_the_default_is_conf_in_the_current_folder(elsewhere):
    write(elsewhere / "conf", {"experiment/my_study.yaml": STUDY, "dataset/my_corpus.yaml": CORPUS})
    assert compose(["experiment=my_study"])["dataset"]["name"] == "my_corpus"
    run = train(["experiment=my_study", "--cfg", "job"], elsewhere)
    assert run.returncode == 0, run.stderr
    assert yaml.safe_load(run.stdout)["group"] == "my_study"


def test_no_user_folder_is_silently_fine_but_a_named_one_must_exist(elsewhere, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Hydra warns about a search path entry that is not a folder
        assert compose([])["group"] == "default"
    monkeypatch.setenv("NORMLAB_CONF_DIR", str(elsewhere / "missing"))
    with pytest.raises(ConfigError, match=r"^NORMLAB_CONF_DIR=.*missing is not a folder"):
        compose([])


def test_the_shipped_examples_compose(tmp_path, monkeypatch):
    shipped = REPO / "conf"
    assert (shipped / "README.md").is_file()
    examples = sorted(shipped.rglob("*.yaml.example"))
    assert {p.relative_to(shipped).as_posix() for p in examples} == {
        "launcher/my_cluster.yaml.example", "experiment/my_study.yaml.example"}
    user = tmp_path / "mine"
    for example in examples:
        target = user / example.relative_to(shipped).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(example, target)
    monkeypatch.chdir(tmp_path)
    run = train(["experiment=my_study", "launcher=my_cluster", "--cfg", "hydra"], tmp_path,
                NORMLAB_CONF_DIR=str(user))
    assert run.returncode == 0, run.stderr
    hydra = yaml.safe_load(run.stdout)["hydra"]
    launcher = hydra["launcher"]
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert launcher["partition"] == "gpu" and launcher["gpus_per_node"] == 1 and launcher["timeout_min"] == 720
    assert any(line.startswith("module load") for line in launcher["setup"])
    assert hydra["sweeper"]["params"]["norm"] == "layernorm,layernorm_simple,adanorm"
    monkeypatch.setenv("NORMLAB_CONF_DIR", str(user))
    cfg = compose(["experiment=my_study", "launcher=my_cluster", "hydra.launcher.gpus_per_node=2"])
    assert cfg["group"] == "my_study" and cfg["trainer"]["distributed_world_size"] == 2


def test_the_checkout_conf_holds_no_config_that_would_run(monkeypatch):
    # run from the checkout, its conf/ is searched: the examples must stay inert until copied
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("NORMLAB_CONF_DIR", raising=False)
    assert not list((REPO / "conf").rglob("*.yaml"))
    check_user_conf()


def test_a_user_config_named_like_a_packaged_one_is_refused_in_one_line(elsewhere, tmp_path):
    write(elsewhere / "conf", {"experiment/offline_grid.yaml": "# @package _global_\ngroup: mine\n"})
    message = ("conf/experiment/offline_grid.yaml has the same name as a packaged config; "
               "rename it (e.g. experiment=my_offline_grid)")
    with pytest.raises(ConfigError) as err:
        compose(["experiment=offline_grid"])
    assert str(err.value) == message
    out = tmp_path / "out"
    run = train(["experiment=offline_grid"], elsewhere, NORMLAB_OUTPUT=str(out))
    assert run.returncode == 1 and run.stderr == f"normlab-train: {message}\n"
    assert not out.exists()  # refused before any folder was made


def test_hydra_and_its_plugins_configs_are_packaged_too(tmp_path, monkeypatch):
    user = write(tmp_path / "mine", {"hydra/launcher/submitit_slurm.yaml": "partition: x\n"})
    monkeypatch.setenv("NORMLAB_CONF_DIR", str(user))
    with pytest.raises(ConfigError, match=r"submitit_slurm.yaml has the same name as a packaged config; rename it "
                                          r"\(e.g. hydra/launcher=my_submitit_slurm\)$"):
        check_user_conf()
