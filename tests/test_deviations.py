"""A job's deviations describe the job that ran (each derived line states its own value, then the paper's
or the recipe's, then what set it), and the kind of data is what its dataset config declares (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from normlab.compose import compose, recipe_reference
from normlab.config import CONF_DIR
from normlab.families import get_family
from normlab.report.collect import load_job
from normlab.runner.deviations import (DATA_KINDS, DataKindError, check_data_kind, contradictions, data_kind,
                                       recipe_deviations, setting)
from normlab.runner.identity import identity
from normlab.runner.job import check_norm, run_job

REPO = Path(__file__).resolve().parents[1]
COMMITTED = sorted((REPO / "results").rglob("result.json"))
DATASETS = sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))
BUDGETED = sorted(p.stem for p in (CONF_DIR / "budget_recipes" / "offline").glob("*.yaml"))
NEEDS = {"custom_translation": ["dataset.raw_dir=/x", "dataset.source_lang=xx", "dataset.target_lang=yy"],
         "custom_classification": ["dataset.raw_dir=/x"], "custom_parsing": ["dataset.raw_dir=/x"]}


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def deviations(*overrides):
    cfg = compose(list(overrides))
    return cfg, recipe_deviations(cfg, check_norm(cfg["norm"]), recipe_reference(cfg, list(overrides)))


# --- derived lines ---------------------------------------------------------------------------------------


def test_a_budget_line_states_the_jobs_value_then_the_recipes(paths):
    cfg, lines = deviations("dataset=enwik8_sample", "budget=offline")
    budget = "budget=offline: the grid's CPU budget"
    assert f"trainer.max_update: 1,200 updates instead of the recipe's 20,000; {budget}" in lines
    assert f"trainer.batch_size: 8 instead of the recipe's 22; {budget}" in lines
    assert f"model.decoder_layers: 4 instead of the recipe's 12; {budget}" in lines  # the arch's default
    assert f"dataset.tokens_per_sample: 256 instead of the recipe's 512; {budget}" in lines
    # the stride the evaluation used: half the job's window, not the recipe's
    assert "dataset.eval_stride: 128 instead of the recipe's 256; half the window (dataset.eval_stride null)" in lines
    # the budget's own reason for a setting, with no number of the config restated
    (lr,) = [d for d in lines if d.startswith("optim.lr:")]
    assert lr.startswith("optim.lr: 0.001 instead of the recipe's 0.00025; budget=offline: at this length")
    assert not any("budget=offline" in d and "instead of" not in d for d in lines)
    assert contradictions(lines, cfg) == []


def test_a_line_names_the_papers_value_and_the_recipes_where_both_differ(paths):
    cfg, lines = deviations("dataset=iwslt14_de_en_sample", "budget=offline")
    assert ("trainer.max_update: 1,200 updates instead of the paper's 90,000 and the recipe's 20,000; "
            "budget=offline: the grid's CPU budget") in lines
    assert "eval.beam: 4 instead of the paper's 5 (official code); budget=offline: the grid's CPU budget" in lines
    assert "dataset.max_test_pairs: 1,000 instead of the recipe's null (all); budget=offline: the grid's CPU budget" \
        in lines
    # the recipe's own value where the paper's differs; nothing for a setting at the paper's value
    _, full = deviations("dataset=iwslt14_de_en_sample")
    assert ("trainer.max_update: 20,000 updates instead of the paper's 90,000; the recipe's value") in full
    assert not any(d.startswith("optim.lr:") for d in full)


def test_what_set_a_value_is_named(paths):
    _, lines = deviations("dataset=iwslt14_de_en", "optim.lr=0.01", "model=transformer_tiny")
    assert "optim.lr: 0.01 instead of the paper's 0.0015 (official code); command line: optim.lr=0.01" in lines
    assert any(d.startswith("model.encoder_layers: 2 instead of the paper's 6; command line: model=transformer_tiny")
               for d in lines)
    # a group override that keeps the recipe's value does not take the blame for the paper's
    assert "model.init: xavier instead of the paper's km (official code); the recipe's value" in lines
    _, smoke = deviations("dataset=rt", "debug=smoke")
    assert any(d.startswith("debug=smoke: a minute's job") for d in smoke)
    assert "trainer.max_epoch: 3 epochs instead of the recipe's 20; debug=smoke" in smoke
    _, study = deviations("experiment=detach_study", "dataset=iwslt15_en_vi", "model.encoder_layers=18")
    assert "model.encoder_layers: 18 instead of the recipe's 6; command line: model.encoder_layers=18" in study
    assert "model.decoder_layers: 18 instead of the recipe's 6; experiment=detach_study" in study
    # the recipe's own setting where it leaves the value to the user: nothing to compare
    _, custom = deviations("dataset=custom_translation", *NEEDS["custom_translation"], "trainer.max_update=50")
    assert "trainer.max_update: 50 updates instead of the recipe's 90,000; command line: trainer.max_update=50" \
        in custom
    assert not any(d.startswith(("dataset.source_lang", "dataset.raw_dir")) for d in custom)


def test_normlab_train_records_what_set_each_setting(paths):
    """Inside the Hydra app (normlab-train) the recipe is composed too, and each line names its override."""
    overrides = ["experiment=demo", "logger=none", "trainer.max_epoch=1", "trainer.max_update=20", "eval.beam=2",
                 "eval.max_len_b=10", "dataset.synthetic.n_train=200", "dataset.synthetic.n_valid=20",
                 "dataset.synthetic.n_test=20"]
    run = subprocess.run([sys.executable, "-m", "normlab.train", *overrides], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    (path,) = (paths / "out" / "demo").glob("*/*/*/result.json")
    data = json.loads(path.read_text())
    assert data["data_kind"] == "generated"
    lines = data["deviations"]
    assert "trainer.max_update: 20 updates instead of the recipe's 1,000; command line: trainer.max_update=20" in lines
    assert "trainer.max_epoch: 1 epoch instead of the recipe's 20; command line: trainer.max_epoch=1" in lines
    assert ("dataset.synthetic.n_train: 200 instead of the recipe's 2,000; command line: dataset.synthetic.n_train=200"
            in lines)
    assert contradictions(lines, data["config"]) == []


@pytest.mark.parametrize("dataset", DATASETS)
def test_no_recipe_line_states_a_number_its_job_does_not_hold(dataset, paths):
    """dataset.deviations and the budget's reasons state no number that a budget or debug=smoke changes."""
    runs = [[f"dataset={dataset}"], [f"dataset={dataset}", "debug=smoke"]]
    runs += [[f"dataset={dataset}", "budget=offline"]] if dataset in BUDGETED else []
    for overrides in runs:
        cfg, lines = deviations(*overrides, *NEEDS.get(dataset, []))
        assert contradictions(lines, cfg) == [], overrides


def test_contradictions_catch_what_the_old_lines_got_wrong(paths):
    cfg = compose(["dataset=enwik8_sample", "budget=offline"])
    wrong = ["20k updates (ours) and checkpoint selection (best valid loss, ours)",
             "a plain decoder LM over 512-byte blocks with absolute positions",
             "test bpc from a sliding window (512 bytes, stride 256: at least 256 bytes of context)",
             "trainer.max_update: 20,000 updates instead of the paper's 90,000",
             "trainer.max_update=20000 where the paper has 90000"]
    found = contradictions(wrong, cfg)
    assert len(found) == 6 and all("1,200" in f or "256" in f or "128" in f for f in found)
    right = ["1,200 updates of 8 windows", "4 layers of 128 on 256-byte windows", "trainer.max_update=1200 where "
             "the paper has 90000", "trainer.max_update: 1,200 updates instead of the recipe's 20,000"]
    assert contradictions(right, cfg) == []
    assert setting(cfg, "dataset.eval_stride") == 128 and setting(cfg, "model.decoder_ffn_embed_dim") == 512


# --- the committed results -------------------------------------------------------------------------------


@pytest.mark.skipif(not COMMITTED, reason="no committed result.json")
def test_committed_results_state_their_own_numbers():
    """Every committed result.json: each number its deviations state as the job's own (a derived line's
    value, "1,200 updates", "256-byte windows", "beam 4", ...) is its config's, and its data_kind is the
    kind its config declares."""
    wrong, kinds = [], []
    for path in COMMITTED:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = contradictions(data["deviations"], data["config"])
        wrong += [f"{path.relative_to(REPO)}: {f}" for f in found]
        declared = data["config"]["dataset"].get("kind")
        if data["data_kind"] != declared:
            kinds.append(f"{path.relative_to(REPO)}: data_kind {data['data_kind']}, dataset.kind {declared}")
    assert not wrong, f"{len(wrong)} numbers contradict their job's config:\n" + "\n".join(wrong[:20])
    assert not kinds, f"{len(kinds)} results' data_kind is not what their config declares:\n" + "\n".join(kinds[:5])


def test_the_migration_rewrites_deviations_from_the_stored_config_and_nothing_else(tmp_path):
    source = next(p for p in COMMITTED if "/enwik8_sample/" in str(p)) if COMMITTED else None
    if source is None:
        pytest.skip("no committed enwik8_sample result")
    data = json.loads(source.read_text(encoding="utf-8"))
    # as the runner wrote it before: the recipe's old lines, stating numbers the job did not use
    old = ["the first 4 MB of enwik8", "20k updates (ours) and checkpoint selection (best valid loss, ours)",
           "budget=offline: 1,200 updates of 8 windows instead of the recipe's 20,000 of 22: the grid's CPU budget"]
    data["deviations"] = [*old, "RT from the Hugging Face hub (x): train/valid/test 1 / 2 / 3, not the paper's"]
    data["config"]["dataset"]["deviations"] = old[:2]
    data["config"]["dataset"].pop("kind", None)
    data["config"]["budget"] = {"name": "offline", "reductions": old[2:]}
    target = tmp_path / "jobs" / "enwik8_sample" / "x" / "result.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    script = REPO / "scripts" / "migrate_deviations.py"
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "jobs")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "rewrote 1 of 1" in run.stdout and "1 before, 0 after" in run.stdout
    new = json.loads(target.read_text(encoding="utf-8"))
    assert contradictions(new["deviations"], new["config"]) == []
    assert "trainer.max_update: 1,200 updates instead of the recipe's 20,000; budget=offline: the grid's CPU budget" \
        in new["deviations"]
    assert new["deviations"][-1].startswith("RT from the Hugging Face hub")  # what preparation added stays
    assert new["data_kind"] == "offline_sample" and new["config"]["dataset"]["kind"] == "offline_sample"
    assert identity(new["config"]) == identity(data["config"])
    untouched = ("deviations", "data_kind", "config")
    assert {k: v for k, v in new.items() if k not in untouched} == {k: v for k, v in data.items() if k not in untouched}
    first = target.read_bytes()
    again = subprocess.run([sys.executable, str(script), str(tmp_path / "jobs"), "--check"], capture_output=True,
                           text=True)
    assert again.returncode == 0 and "would rewrite 0 of 1" in again.stdout and target.read_bytes() == first


# --- the kind of data --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_dataset_config_declares_its_kind_as_its_recipe_entry_reads(dataset, paths):
    spec = compose([f"dataset={dataset}", *NEEDS.get(dataset, [])])["dataset"]
    assert spec.get("kind") in DATA_KINDS, f"{dataset}.yaml declares no dataset.kind"
    entry = get_family(spec["family"]).recipes[spec["recipe"]]
    assert spec["kind"] == entry.kind
    assert check_data_kind(spec, get_family(spec["family"]).recipes) == spec["kind"]


def test_every_recipe_entry_declares_its_kind():
    from normlab.families import FAMILIES

    for name in FAMILIES:
        for key, entry in get_family(name).recipes.items():
            assert getattr(entry, "kind", None) in DATA_KINDS, f"{name} recipe {key!r} declares no kind"
    assert get_family("classification").recipes["custom"].kind == "user"


MADE_UP = """# @package _global_
defaults:
  - override /model: transformer_classifier
  - override /optim: adam_fixed
  - override /trainer: classification
  - override /family: classification
dataset:
  name: made_up_{recipe}
  recipe: {recipe}
  synthetic: {{n_train: 120, n_valid: 30, n_test: 30, length: 6}}
"""


def made_up(tmp_path, recipe: str, extra: str = "") -> list[str]:
    """A new dataset config for the classification family (its own name), in a folder of the user's."""
    folder = tmp_path / "conf" / "dataset"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"made_up_{recipe}.yaml").write_text(MADE_UP.format(recipe=recipe) + extra, encoding="utf-8")
    return [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", f"dataset=made_up_{recipe}"]


def test_a_made_up_dataset_is_never_paper_data_unless_it_says_so(tmp_path, paths):
    # a new file reusing the paper's RT recipe entry: your data, unless the file declares otherwise
    spec = compose(made_up(tmp_path, "rt"))["dataset"]
    assert data_kind(spec) == "user"
    assert data_kind({**spec, "kind": "paper"}) == "paper"
    recipes = get_family("classification").recipes
    with pytest.raises(DataKindError, match="recipe 'generated' reads generated data"):
        check_data_kind({**compose(made_up(tmp_path, "generated"))["dataset"], "kind": "paper"}, recipes)
    with pytest.raises(DataKindError, match="choose one of"):
        data_kind({"kind": "papers"})
    # and so it is recorded: a tiny job on a made-up generated dataset
    tiny = ("model: {encoder_layers: 1, encoder_embed_dim: 16, encoder_ffn_embed_dim: 32, encoder_attention_heads: 2}\n"
            "trainer: {max_epoch: 1}\n")
    cfg = compose([*made_up(tmp_path, "generated", tiny), "logger=none"])
    result = run_job(cfg, say=lambda _: None)
    on_disk = Path(result["job_dir"]) / "result.json"
    assert json.loads(on_disk.read_text())["data_kind"] == "user"
    assert load_job(on_disk).kind == "user"
    # a result without data_kind (older) is read by its config's declared kind, never as the paper's by its name
    data = json.loads(on_disk.read_text())
    data.pop("data_kind")
    data["dataset"] = data["config"]["dataset"]["name"] = "rt_like"
    on_disk.write_text(json.dumps(data))
    assert load_job(on_disk).kind == "user"
    data["config"]["dataset"]["kind"] = "generated"
    on_disk.write_text(json.dumps(data))
    assert load_job(on_disk).kind == "generated"


def test_datasets_keep_their_folder_when_they_declare_their_kind(paths):
    """dataset.kind documents the data, like the provenance: it is no part of a job's identity."""
    cfg = compose(["dataset=rt"])
    assert identity(cfg) == identity({**cfg, "dataset": {k: v for k, v in cfg["dataset"].items() if k != "kind"}})

