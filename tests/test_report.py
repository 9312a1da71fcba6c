"""normlab-report: collection, statistics over seeds, tables, verdicts, figures and the CLI, on fixture
sweeps with known numbers written by the tests themselves."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from normlab.report import stats
from normlab.report.cli import main, write_report
from normlab.report.collect import SCOPE_DEFAULT, CollectError, load_jobs, load_paper
from normlab.report.stats import Cell, group_cells, t_interval
from normlab.report.tables import build_tables, cell_text, to_csv, to_latex, to_markdown
from normlab.report.verdicts import build_verdicts

METRIC = {"bpc": False, "bleu": True, "accuracy": True, "uas": True}


def write_job(root: Path, dataset: str, norm: str, seed: int, value=None, status: str = "done", metric: str = "bleu",
              train_loss: float = 3.0, valid_loss: float = 4.0, norm_opts: dict | None = None,
              extra: dict | None = None) -> Path:
    cfg = {"group": "fixture", "seed": seed, "dataset": {"name": dataset, "family": "x", "raw_dir": str(root)},
           "model": {"arch": "t", "dropout": 0.3}, "optim": {"lr": 0.0015}, "trainer": {"max_update": 100},
           "norm": {"name": norm, "scope": "all", **({"scale": 2.0, "k": 0.1} if norm == "adanorm" else {}),
                    **(norm_opts or {})}}
    for section, delta in (extra or {}).items():
        cfg[section].update(delta)
    history = [{"epoch": e, "num_updates": 50 * e, "train_loss": train_loss + 3.0 / e,
                "valid_loss": valid_loss + 2.0 / e} for e in range(1, 5)]
    if status == "diverged":
        history[-1]["valid_loss"] = None
    result = {"dataset": dataset, "norm": norm, "seed": seed, "status": status,
              "metric": {"name": metric, "value": value if status == "done" else None,
                         "higher_is_better": METRIC[metric]},
              "metrics": {metric: value}, "train_loss": train_loss, "valid_loss": valid_loss,
              "history": history, "config": cfg}
    tag = abs(hash(json.dumps(cfg, sort_keys=True))) % 10**8
    path = root / "jobs" / dataset / norm / f"seed{seed}-{tag:08d}" / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result), encoding="utf-8")
    return path


def seeds(root, dataset, norm, values, **kw):
    for seed, v in enumerate(values, 1):
        write_job(root, dataset, norm, seed, v, **kw)


@pytest.fixture
def sweep(tmp_path) -> Path:
    """Claim 1 (LN-simple >= LN) holds on exactly 3 of 4 datasets with data: iwslt14_de_en, enwik8 (bpc, lower
    wins) and mnist_sample, not rt. Claim 3 (AdaNorm > LN) holds on 1 of 2 (not on enwik8: higher bpc)."""
    root = tmp_path / "outputs"
    seeds(root, "iwslt14_de_en", "none", [33.9, 34.0, 33.95])
    seeds(root, "iwslt14_de_en", "layernorm", [34.9, 35.0, 35.1], train_loss=3.0, valid_loss=4.0)
    seeds(root, "iwslt14_de_en", "layernorm_simple", [35.4, 35.5, 35.6], train_loss=3.2, valid_loss=3.9)
    seeds(root, "iwslt14_de_en", "detachnorm", [34.0, 34.1, 33.9])
    seeds(root, "iwslt14_de_en", "adanorm", [35.6])
    seeds(root, "iwslt14_de_en", "adanorm", [36.0, 36.2], norm_opts={"k": 0.2})
    seeds(root, "iwslt14_de_en", "layernorm_simple", [30.0], norm_opts={"scope": "final_only"})
    write_job(root, "iwslt14_de_en", "layernorm", 1, 20.0, extra={"optim": {"lr": 0.1}})
    write_job(root, "iwslt14_de_en", "layernorm", 4, status="failed")
    seeds(root, "enwik8", "layernorm", [1.10], metric="bpc", train_loss=1.0, valid_loss=1.2)
    seeds(root, "enwik8", "layernorm_simple", [1.05], metric="bpc", train_loss=0.9, valid_loss=1.1)
    seeds(root, "enwik8", "adanorm", [1.12], metric="bpc")
    seeds(root, "rt", "layernorm", [77.0, 77.5], metric="accuracy")
    seeds(root, "rt", "layernorm_simple", [76.0, 76.5], metric="accuracy")
    seeds(root, "mnist_sample", "layernorm", [98.0], metric="accuracy")
    seeds(root, "mnist_sample", "layernorm_simple", [98.5], metric="accuracy")
    for seed in (1, 2, 3):
        write_job(root, "wmt14_en_de", "none", seed, status="diverged")
        write_job(root, "wmt14_en_de", "detachnorm", seed, 20.0 + seed, status="diverged" if seed < 3 else "done")
    seeds(root, "synthetic_translation", "layernorm", [10.0])
    return root


def rows_of(csv_text: str) -> dict[tuple[str, str], dict]:
    return {(r["variant"], r["dataset"]): r for r in csv.DictReader(io.StringIO(csv_text))}


def built(root: Path):
    jobs, problems = load_jobs([root])
    data = group_cells(jobs)
    return jobs, problems, data, {t.key: t for t in build_tables(data, load_paper())}


def test_cell_mean_and_t_interval_over_three_seeds_one_seed_has_none():
    from scipy import stats as sps

    values = [34.9, 35.0, 35.4]
    lo, hi = t_interval(values)
    half = sps.t.ppf(0.975, 2) * sps.tstd(values) / 3 ** 0.5
    assert (lo, hi) == pytest.approx((sum(values) / 3 - half, sum(values) / 3 + half), abs=1e-12)
    assert lo < min(values) and hi > max(values)  # 3 seeds: wider than their range (the old min-max "CI" was not)
    assert t_interval([35.0]) is None
    cell = stats.summarize([type("J", (), {"status": "done", "value": v, "train_loss": None, "valid_loss": None,
                                           "seed": i, "deviations": []}) for i, v in enumerate(values)])
    assert cell.mean == pytest.approx(sum(values) / 3, abs=1e-12) and cell.ci == (lo, hi)
    assert cell_text(Cell(values=[35.0], mean=35.0), "bleu") == "35.00 (n=1)"
    assert cell_text(cell, "bleu") == f"35.10 ± {half:.2f} (n=3)"


def test_paper_tables_cells_diverge_missing_and_paper_numbers(sweep):
    jobs, problems, data, tables = built(sweep)
    assert not problems
    t1 = rows_of(to_csv(tables["table1"]))
    ln = t1[("layernorm", "iwslt14_de_en")]
    assert float(ln["mean"]) == pytest.approx(35.0) and int(ln["n"]) == 3 and int(ln["n_failed"]) == 1
    assert (float(ln["ci_low"]), float(ln["ci_high"])) == pytest.approx(t_interval([34.9, 35.0, 35.1]), abs=1e-6)
    assert rows_of(to_csv(tables["all"]))[("layernorm_simple", "enwik8")]["ci_low"] == ""  # n=1: no interval
    assert ln["paper"] == "35.5" and ln["cell"].endswith("‡1 failed")
    assert t1[("none", "wmt14_en_de")]["cell"] == "Diverge" and t1[("none", "wmt14_en_de")]["paper"] == "Diverge"
    assert t1[("layernorm", "ptb")]["cell"] == "–" and t1[("layernorm", "ptb")]["paper"] == "89.12"
    dn = rows_of(to_csv(tables["table2"]))[("detachnorm", "wmt14_en_de")]
    assert dn["cell"] == "23.00 (n=1) †2/3 diverged"
    md = to_markdown(tables["table1"])
    assert "| none | Diverge [Diverge] |" in md
    assert re.search(r"\| layernorm \| – \[28\.3\] \| 35\.00 ± 0\.25 \(n=3\) ‡1 failed \[35\.5\] \|", md)
    # a sample is shown beside the paper's full data set, with the paper's number and a footnote
    assert "mnist_sample* (acc. % ↑)" in md and "* mnist_sample: our runs use the offline sample" in md
    assert t1[("layernorm", "mnist_sample")]["paper"] == "99.13"
    assert t1[("layernorm", "mnist_sample")]["paper_dataset"] == "mnist"
    assert "synthetic_translation" not in md and "synthetic_translation" in to_markdown(tables["all"])


def test_lower_is_better_for_bpc(sweep):
    _, _, data, tables = built(sweep)
    assert data["enwik8"].metric == "bpc" and not data["enwik8"].higher_is_better
    assert "enwik8 (bpc ↓)" in to_markdown(tables["table1"])
    verdicts = {v.key: v for v in build_verdicts(data, load_paper())}
    enwik8 = {k: next(r for r in v.rows if r.dataset == "enwik8" and r.comparison == "metric")
              for k, v in verdicts.items() if k != "claim2"}
    assert enwik8["claim1"].estimate == pytest.approx(0.05)   # 1.05 < 1.10 bpc: LN-simple's way
    assert enwik8["claim3"].estimate == pytest.approx(-0.02)  # 1.12 > 1.10 bpc: against AdaNorm
    # one seed each: no interval, so no verdict either way
    assert {r.verdict for r in enwik8.values()} == {"inconclusive"} and enwik8["claim1"].ci_low is None


def test_variant_labels_for_non_default_options(sweep):
    jobs, _, data, tables = built(sweep)
    labels = list(data["iwslt14_de_en"].cells)
    assert labels == ["none", "layernorm", "layernorm (optim.lr=0.1)", "layernorm_simple",
                      "layernorm_simple (final_only)", "detachnorm", "adanorm", "adanorm (k=0.2)"]
    assert data["iwslt14_de_en"].cells["adanorm (k=0.2)"].n == 2
    assert data["iwslt14_de_en"].cells["adanorm"].n == 1
    assert "adanorm (k=0.2)" in tables["table4"].rows and "adanorm (k=0.2)" not in tables["table1"].rows
    assert "layernorm_simple (final_only)" in tables["table1"].rows


def test_norm_conf_options_are_the_norm_librarys_defaults():
    from omegaconf import OmegaConf

    from normlab.config import CONF_DIR
    from normlab.norms import default_options

    assert default_options("adanorm") == {"scale": 2.0, "k": 0.1, "eps": 1e-5, "std": "unbiased",
                                          "eps_placement": "std"}
    for path in sorted((CONF_DIR / "norm").glob("*.yaml")):
        conf = OmegaConf.to_container(OmegaConf.load(path))
        assert conf.get("scope", SCOPE_DEFAULT) == SCOPE_DEFAULT, path
        if conf["name"] == "custom":  # a user's class: its defaults are its own (tests/test_custom_norm.py)
            assert conf["_target_"] == "???" and conf["label"] is None
            continue
        defaults = default_options(conf["name"])
        for key, value in conf.items():
            if key not in ("name", "scope"):
                assert defaults[key] == value, (path, key)


def test_verdicts_on_the_fixture(sweep):
    _, _, data, _ = built(sweep)
    v = {x.key: x for x in build_verdicts(data, load_paper())}
    c1 = {(r.dataset, r.comparison): r for r in v["claim1"].rows if r.test == "superiority"}
    ni = {r.dataset: r for r in v["claim1"].rows if r.test == "non-inferiority"}
    # iwslt14: LN-simple - LN = +0.5 on each of 3 seeds: supported, and the over-fitting signature holds
    assert c1[("iwslt14_de_en", "metric")].estimate == pytest.approx(0.5)
    assert c1[("iwslt14_de_en", "metric")].verdict == "supported" and c1[("iwslt14_de_en", "metric")].n_seeds == 3
    assert c1[("iwslt14_de_en", "train_loss")].estimate == pytest.approx(0.2)   # higher final train loss
    assert c1[("iwslt14_de_en", "valid_loss")].estimate == pytest.approx(0.1)   # lower best valid loss
    assert c1[("iwslt14_de_en", "train_loss")].verdict == c1[("iwslt14_de_en", "valid_loss")].verdict == "supported"
    assert c1[("rt", "metric")].verdict == "contradicted"  # -1.0 on both seeds
    # non-inferiority (the paper's "does not decrease"): the same interval against -margin (0.3 BLEU, 0.5 points)
    assert ni["iwslt14_de_en"].verdict == "supported" and ni["rt"].verdict == "contradicted"
    assert (ni["rt"].estimate, ni["rt"].ci_low) == (c1[("rt", "metric")].estimate, c1[("rt", "metric")].ci_low)
    assert c1[("enwik8", "metric")].verdict == c1[("mnist_sample", "metric")].verdict == "inconclusive"  # n=1
    assert c1[("mnist_sample", "metric")].kind == "offline_sample" and c1[("rt", "metric")].kind == "paper"
    summary = {(s["kind"], s["comparison"]): s for s in v["claim1"].summaries() if s["test"] == "superiority"}
    assert summary[("paper", "metric")]["n_datasets"] == 3 and summary[("offline_sample", "metric")]["n_datasets"] == 1
    assert (summary[("paper", "metric")]["supported"], summary[("paper", "metric")]["contradicted"]) == (1, 1)
    # claim 2 on iwslt14: (LN-simple - DetachNorm) - (DetachNorm - w/o Norm) per seed = 1.3, 1.3, 1.75
    c2 = v["claim2"].rows
    assert [r.dataset for r in c2] == ["iwslt14_de_en"] and c2[0].estimate == pytest.approx(1.45)
    assert (c2[0].ci_low, c2[0].ci_high) == pytest.approx(t_interval([1.3, 1.3, 1.75]))
    assert c2[0].verdict == "supported" and c2[0].paper_estimate == pytest.approx(1.7)
    assert any("wmt14_en_de" in m and "LN-simple" in m for m in v["claim2"].missing)
    # claim 3: the default AdaNorm has one seed on iwslt14 (the k=0.2 variant is not the default)
    c3 = {(r.dataset, r.comparison): r for r in v["claim3"].rows}
    assert c3[("iwslt14_de_en", "metric")].n_seeds == 1 and c3[("iwslt14_de_en", "metric")].verdict == "inconclusive"
    # the paper's own numbers, counted by its own rule, give its published counts
    counts = {(c, t.name): v[c].paper_count(t) for c in v for t in v[c].claim.tests}
    assert counts[("claim1", "non-inferiority")] == (6, 8) and counts[("claim1", "superiority")] == (4, 8)
    assert counts[("claim3", "superiority")] == (7, 8)


def test_not_enough_data(tmp_path):
    seeds(tmp_path, "iwslt14_de_en", "layernorm", [35.0])
    _, _, data, _ = built(tmp_path)
    for verdict in build_verdicts(data, load_paper()):
        assert not verdict.rows and not verdict.summaries()
        assert "not enough data" in verdict.missing[0]


def test_latex_booktabs_and_consistent_columns(sweep):
    _, _, _, tables = built(sweep)
    for table in tables.values():
        tex = to_latex(table)
        for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
            assert tex.count(rule) == 1
        body = tex.split(r"\toprule")[1].split(r"\bottomrule")[0]
        rows = [line for line in body.splitlines() if line.endswith(r"\\")]
        assert len(rows) == len(table.rows) + 1
        assert all(len(re.findall(r"(?<!\\)&", row)) == len(table.columns) for row in rows)
        assert "±" not in tex and "_sample" not in tex.replace(r"\_sample", "")


def test_report_files_figures_and_out(sweep, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([str(sweep), "--out", "results/fixture"]) == 0
    out = tmp_path / "results" / "fixture"
    line = capsys.readouterr().out.strip()
    assert line == "read 34 results (28 done, 5 diverged, 1 failed) from 1 dir → results/fixture/report.md"
    report = (out / "report.md").read_text(encoding="utf-8")
    for key in ("table1", "table2", "table4", "all"):
        assert (out / "tables" / f"{key}.md").read_text().startswith("### Table") or key == "all"
        assert list(csv.DictReader((out / "tables" / f"{key}.csv").open()))
        assert r"\bottomrule" in (out / "tables" / f"{key}.tex").read_text()
    doc = json.loads((out / "verdicts.json").read_text())
    fields = {"claim", "dataset", "kind", "comparison", "estimate", "ci_low", "ci_high", "n_seeds", "verdict",
              "equivalent", "paper_estimate", "seeds_needed"}
    assert doc["rows"] and all(fields <= set(r) for r in doc["rows"])
    assert {(r["claim"], r["dataset"], r["comparison"], r["verdict"]) for r in doc["rows"]} >= {
        (1, "iwslt14_de_en", "metric", "supported"), (1, "rt", "metric", "contradicted"),
        (2, "iwslt14_de_en", "metric", "supported")}
    assert {(s["claim"], s["kind"]) for s in doc["summary"]} >= {(1, "paper"), (1, "offline_sample")}
    assert "**supported**" in report and "**contradicted**" in report and "Equivalence margins" in report
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "iwslt14_de_en_losses.png" in pngs and "enwik8_metric.png" in pngs
    assert {"claim1_forest.png", "claim2_forest.png", "iwslt14_de_en_paired_losses.png"} <= set(pngs)
    assert not any(p.endswith("_probe.png") for p in pngs)  # no probe.json: skipped silently
    assert all((out / "figures" / p).stat().st_size > 5000 for p in pngs)
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        assert (out / link).is_file(), link
    assert "Read 34 results" in report and "`outputs`" in report  # relative to where it ran
    assert not (sweep / "report.md").exists()


def test_default_out_is_first_dir_and_output_is_deterministic(sweep, tmp_path):
    write_report([sweep], sweep, figures=False)
    first = {p.name: p.read_bytes() for p in (sweep / "tables").iterdir()} | {"r": (sweep / "report.md").read_bytes()}
    write_report([sweep], sweep, figures=False)
    again = {p.name: p.read_bytes() for p in (sweep / "tables").iterdir()} | {"r": (sweep / "report.md").read_bytes()}
    assert first == again


def test_duplicates_across_dirs_count_once(sweep, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(sweep / "jobs" / "rt", copy / "jobs" / "rt")
    jobs, problems = load_jobs([sweep, copy])
    assert len([j for j in jobs if j.dataset == "rt"]) == 4
    assert len(problems) == 4 and all("same dataset, variant and seed" in p for p in problems)


def test_cli_errors_on_empty_or_missing_dir(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for bad in ("empty", "missing"):
        assert main([str(tmp_path / bad)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert "pass the output folder" in err
    with pytest.raises(CollectError):
        load_jobs([tmp_path / "empty"])


def test_unreadable_result_is_listed_not_fatal(sweep):
    bad = sweep / "jobs" / "rt" / "broken" / "seed1-x" / "result.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    jobs, problems = load_jobs([sweep])
    assert len(problems) == 1 and "broken" in problems[0] and len(jobs) == 34


def test_quick_stand_ins_sit_beside_their_paper_data_set():
    from normlab.report.collect import canonical
    from normlab.report.tables import is_sample_of_paper

    assert canonical("quick_rt") == "rt" and canonical("mnist_sample") == "mnist" and canonical("custom_x") == "custom_x"
    assert is_sample_of_paper("quick_ptb") and not is_sample_of_paper("quick_nothing")
