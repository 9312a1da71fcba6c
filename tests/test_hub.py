"""dataset.source=hf: the Hugging Face copies of rt, sst5, mnist and wmt14_en_de, here from local folders laid
out like the hub repositories (tiny synthetic rows with the hub's columns), so nothing downloads."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before datasets is imported: a test never reaches the hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

from normlab.compose import compose  # noqa: E402
from normlab.data import hub  # noqa: E402
from normlab.data.sources import HUB_SOURCES  # noqa: E402
from normlab.families import Paths, get_family  # noqa: E402
from normlab.families.base import hub_source  # noqa: E402
from normlab.runner.job import run_job  # noqa: E402

HUB_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def write_parquet(folder: Path, columns_by_split: dict[str, dict[str, list]], prefix: str = "data") -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / prefix).mkdir(parents=True, exist_ok=True)
    for split, columns in columns_by_split.items():
        pq.write_table(pa.table(columns), folder / prefix / f"{split}-00000-of-00001.parquet")
    return folder


def polarity_rows(n: int, rng: random.Random) -> dict[str, list]:
    """rotten_tomatoes' columns: text, label (0 negative, 1 positive); the label's word decides."""
    text, label = [], []
    for _ in range(n):
        y = rng.randrange(2)
        words = [f"w{rng.randrange(20)}" for _ in range(6)]
        words.insert(rng.randrange(7), ("dull", "moving")[y])
        text.append(" ".join(words))
        label.append(y)
    return {"text": text, "label": label}


@pytest.fixture
def rt_folder(tmp_path) -> Path:
    rng = random.Random(0)
    sizes = {"train": 240, "validation": 40, "test": 40}
    return write_parquet(tmp_path / "rotten_tomatoes", {s: polarity_rows(n, rng) for s, n in sizes.items()})


def test_every_hub_entry_has_an_id_columns_and_splits():
    assert set(HUB_SOURCES) == {"rt", "sst5", "mnist", "wmt14_en_de"}
    assert HUB_SOURCES["rt"].id == "cornell-movie-review-data/rotten_tomatoes"
    assert (HUB_SOURCES["wmt14_en_de"].id, HUB_SOURCES["wmt14_en_de"].config) == ("wmt/wmt14", "de-en")
    for entry in HUB_SOURCES.values():
        assert entry.columns and dict(entry.splits)["train"] == "train" and entry.origin
        assert entry.revision is None or len(entry.revision) == 40


def test_source_hf_is_chosen_by_config_and_refused_where_there_is_no_hub_copy(paths):
    cfg = compose(["dataset=rt"])
    assert cfg["dataset"]["source"] == "raw" and hub_source("classification", cfg["dataset"]) is None
    assert hub_source("classification", compose(["dataset=rt", "dataset.source=hf"])["dataset"]).id.endswith("tomatoes")
    with pytest.raises(ValueError, match="quick_rt .* has no Hugging Face source; the datasets that have one: rt"):
        hub_source("classification", compose(["dataset=quick_rt", "dataset.source=hf"])["dataset"])
    with pytest.raises(ValueError, match="choose raw .* or hf"):
        hub_source("classification", {"source": "kaggle", "recipe": "rt"})


def test_cache_key_holds_the_revision_or_the_local_content(rt_folder):
    source = HUB_SOURCES["rt"]
    remote = hub.identity(source, {})
    assert remote == {"hf_id": source.id, "config": None, "revision": source.revision}
    assert hub.identity(source, {"hf_revision": "f" * 40})["revision"] == "f" * 40
    local = hub.identity(source, {"hf_path": str(rt_folder)})
    assert set(local["hf_local"]) == {f"data/{s}-00000-of-00001.parquet" for s in ("train", "validation", "test")}
    write_parquet(rt_folder, {"test": polarity_rows(40, random.Random(9))})
    assert hub.identity(source, {"hf_path": str(rt_folder)}) != local


def test_rt_from_a_hub_layout_folder_trains_scores_and_says_the_split_differs(rt_folder, paths, capsys):
    cfg = compose(["dataset=rt", "dataset.source=hf", f"dataset.hf_path={rt_folder}", "debug=smoke", "logger=none",
                   "trainer.max_epoch=2"])
    result = run_job(cfg)
    assert result["status"] == "done", result.get("error")
    assert 0 <= result["metric"]["value"] <= 100 and result["metrics"]["test_examples"] == 40
    # one of the job's deviations (the recipe declares its own too) is the hub's split
    (deviation,) = [d for d in result["deviations"] if "rotten_tomatoes" in d]
    assert "cornell-movie-review-data/rotten_tomatoes" in deviation and "240 / 40 / 40" in deviation
    assert "8,608 / 964 / 1,089" in deviation
    assert "upd" not in capsys.readouterr().err  # no progress bar without a terminal

    # the same folder, the same prepared data; the raw source is another cache entry
    family, spec = get_family("classification"), dict(cfg["dataset"])
    where = Paths(raw=paths / "raw", data=paths / "data")
    again = family.prepare(spec, where, log=lambda _: None)
    assert again.data_bin.parent == paths / "data" / "rt" and again.counts == {"train": 240, "valid": 40, "test": 40}
    write_parquet(rt_folder, {"train": polarity_rows(200, random.Random(5))})
    assert family.prepare(spec, where, log=lambda _: None).data_bin != again.data_bin


def test_sst5_local_jsonl_as_setfit_holds_it(tmp_path, paths):
    import json

    rng = random.Random(1)
    names = ["very negative", "negative", "neutral", "positive", "very positive"]
    for split, n in (("train", 50), ("validation", 10), ("test", 10)):
        rows = [{"text": f"w{rng.randrange(9)} s{y}", "label": y, "label_text": names[y]}
                for y in (rng.randrange(5) for _ in range(n))]
        (tmp_path / "sst5").mkdir(exist_ok=True)
        (tmp_path / "sst5" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = dict(compose(["dataset=sst5", "dataset.source=hf", f"dataset.hf_path={tmp_path / 'sst5'}"])["dataset"])
    prepared = get_family("classification").prepare(spec, Paths(raw=tmp_path, data=tmp_path / "data"), log=lambda _: None)
    assert prepared.counts == {"train": 50, "valid": 10, "test": 10} and prepared.extra["deviations"] == []
    assert prepared.extra["labels"] == ["0", "1", "2", "3", "4"][: prepared.extra["num_classes"]]


def test_mnist_png_bytes_with_a_valid_split_carved_from_train(tmp_path, paths):
    import numpy as np
    from PIL import Image

    def png(value: int) -> dict:
        buf = io.BytesIO()
        Image.fromarray(np.full((28, 28), value, dtype=np.uint8)).save(buf, format="PNG")
        return {"bytes": buf.getvalue(), "path": None}

    folder = tmp_path / "mnist"
    write_parquet(folder, {split: {"image": [png(10 * (i % 10)) for i in range(n)], "label": [i % 10 for i in range(n)]}
                           for split, n in (("train", 30), ("test", 10))}, prefix="mnist")
    spec = dict(compose(["dataset=mnist", "dataset.source=hf", f"dataset.hf_path={folder}", "+dataset.valid_size=5"])["dataset"])
    prepared = get_family("image_classification").prepare(spec, Paths(raw=tmp_path, data=tmp_path / "data"),
                                                          log=lambda _: None)
    assert prepared.counts == {"train": 25, "valid": 5, "test": 10}
    images = np.load(prepared.data_bin / "train.images.npy")
    assert images.shape == (25, 28, 28) and images[3].max() == 30


def test_wmt14_translation_column_goes_through_the_wmt_pipeline(tmp_path, paths):
    rng = random.Random(2)
    words = [("haus", "house"), ("katze", "cat"), ("gut", "good"), ("das", "the"), ("ist", "is")]

    def pairs(n):
        out = []
        for _ in range(n):
            picked = [rng.choice(words) for _ in range(rng.randrange(3, 7))]
            out.append({"de": " ".join(d for d, _ in picked) + ".", "en": " ".join(e for _, e in picked) + "."})
        return {"translation": out}

    folder = write_parquet(tmp_path / "wmt14", {"train": pairs(120), "validation": pairs(12), "test": pairs(12)},
                           prefix="de-en")
    spec = dict(compose(["dataset=wmt14_en_de", "dataset.source=hf", f"dataset.hf_path={folder}",
                         "dataset.bpe_merges=20"])["dataset"])
    family = get_family("translation")
    prepared = family.prepare(spec, Paths(raw=tmp_path, data=tmp_path / "data"), log=lambda _: None)
    assert prepared.extra["source_lang"] == "en" and prepared.extra["bpe"] == "subword_nmt"
    assert prepared.counts["test"] == 12 and prepared.counts["valid"] <= 12 and prepared.counts["train"] > 100
    refs = Path(prepared.extra["test_ref"]).read_text().splitlines()
    assert len(refs) == 12 and refs[0].endswith(".") and "@@" not in refs[0]
    assert prepared.extra["test_ref_kind"] == "the hub's raw test segments"
    (deviation,) = prepared.extra["deviations"]
    assert "newstest2013" in deviation and "wmt/wmt14" in deviation
