"""What a job's result.json says about its data and its setup: `data_kind` and `deviations`.

`data_kind` is what the dataset config declares (`dataset.kind`: paper, offline_sample, generated or
user), never a guess from its name; a dataset config that declares none is `user` data.

`deviations` are one line each:
  * the dataset's hand-written facts that no setting shows (`dataset.deviations`: its data, its model's
    missing parts); these state no number the config holds;
  * one derived line per setting whose value is not its reference, built from the resolved config: the
    job's own value first, then the paper's (`dataset.paper_values`, with its provenance tag) and, where
    it differs from both, the recipe's own (the dataset config composed alone, without budget=, debug=,
    the experiment or the command line: normlab.compose.recipe_reference, which normlab-train passes to
    the runner), then what set the job's value:
        trainer.max_update: 1,200 updates instead of the recipe's 20,000; budget=offline: the grid's CPU budget
        optim.warmup_updates: 200 updates instead of the paper's 8,000 (official code); budget=offline: ...
        trainer.max_update: 20,000 updates instead of the paper's 90,000 (official code); the recipe's value
  * notes on the norm (scope, options, AdaNorm's C), debug=smoke, and the `our choice` settings.

`contradictions` reads lines back: the numbers a line states as the job's own (a derived line's value,
"1,200 updates", "beam 4", "256-byte windows", ...) that its config does not hold.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
from typing import Any, Iterable, Mapping

DATA_KINDS = ("paper", "offline_sample", "generated", "user")
PROVENANCE_KINDS = ("official code", "paper (quoted)", "paper (unverified)", "our choice")
DATA_KIND_DEVIATIONS = {"offline_sample": "a small offline sample of the data, not the paper's full data set",
                        "generated": "generated stand-in data, not the paper's data set",
                        "user": "your own data (dataset.raw_dir), not the paper's data set"}
SMOKE = "debug=smoke: a minute's job (smaller model, fewer updates, less data) instead of the recipe"
# The config sections whose settings are compared, in the order their lines come.
SECTIONS = ("model", "optim", "trainer", "dataset", "eval")
# Settings that change nothing a job computes (where the data lives, logging, the device count decided at
# run time); the keys documenting the recipe (normlab.runner.identity.DATASET_DOC_KEYS) are no settings either.
NOT_COMPARED = {"dataset.name", "dataset.raw_dir", "dataset.download", "dataset.source", "dataset.hf_path",
                "dataset.hf_revision", "dataset.family", "trainer.log_interval", "trainer.num_workers",
                "trainer.no_epoch_checkpoints", "trainer.distributed_world_size", "eval.batch_size"}
UNITS = {"trainer.max_update": "updates", "trainer.max_epoch": "epochs", "optim.warmup_updates": "updates"}
NULL_MEANS = {"trainer.max_update": "no limit", "trainer.max_epoch": "no limit", "dataset.max_train_pairs": "all",
              "dataset.max_valid_pairs": "all", "dataset.max_test_pairs": "all"}
# model.<key> -> the fairseq argument it sets, where the names differ
ARG_NAMES = {"init": "init_method"}
HUB_MARK = "from the Hugging Face hub"  # the lines data preparation adds (normlab.data.hub, translation/hub.py)


class DataKindError(ValueError):
    """A dataset config's `kind` is not one of DATA_KINDS, or not what its recipe entry reads."""


def data_kind(dataset: Mapping[str, Any]) -> str:
    """The kind of data a job's numbers come from, as its dataset config declares it (`dataset.kind`);
    `user` when it declares none. Never inferred from the dataset's name."""
    kind = dataset.get("kind")
    if kind is None:
        return "user"
    if kind not in DATA_KINDS:
        raise DataKindError(f"dataset.kind={kind!r}: choose one of {', '.join(DATA_KINDS)}")
    return str(kind)


def check_data_kind(dataset: Mapping[str, Any], recipes: Mapping[str, Any]) -> str:
    """data_kind, refused in one line when the family's recipe entry (`dataset.recipe`) reads another kind
    of data: an entry's `kind` (e.g. custom: user, generated: generated) or `user` are the only choices."""
    kind = data_kind(dataset)
    entry_kind = getattr(recipes.get(dataset.get("recipe")), "kind", None)
    if entry_kind is not None and kind not in (entry_kind, "user"):
        raise DataKindError(f"dataset.kind={kind}, but recipe {dataset.get('recipe')!r} reads {entry_kind} data: "
                            f"set dataset.kind={entry_kind} (or user)")
    return kind


# --- the job's settings -------------------------------------------------------------------------------


def _get(cfg: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = cfg
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _leaves(node: Any, prefix: str) -> list[str]:
    if not isinstance(node, Mapping):
        return [prefix]
    out = []
    for key, value in node.items():
        out += _leaves(value, f"{prefix}.{key}")
    return out


@functools.lru_cache(maxsize=None)
def _arch_defaults(arch: str) -> dict:
    """The model settings fairseq's architecture `arch` fills in when the config leaves them unset."""
    try:
        import normlab.fairseq_adapter  # noqa: F401  (registers normlab's architectures)
        from fairseq.models import ARCH_CONFIG_REGISTRY

        given = {"norm": "layernorm", "norm_scope": "all", "norm_options": None, "adanorm_scale": None,
                 "adanorm_k": None, "init_method": "xavier"}
        args = argparse.Namespace(**given)
        ARCH_CONFIG_REGISTRY[arch](args)
    except (Exception, SystemExit):  # an unknown arch: its defaults stay unknown
        return {}
    return {k: v for k, v in vars(args).items() if k not in given or k == "init_method"}


def setting(cfg: Mapping[str, Any] | None, path: str) -> Any:
    """The value the job uses for a config path: the config's, else (a model setting) its architecture's
    default, else (dataset.eval_stride) half the window, as the language-model family takes it."""
    value = _get(cfg, path)
    if value is None and path.startswith("model.") and _get(cfg, "model.arch"):
        key = path[len("model."):]
        value = _arch_defaults(str(_get(cfg, "model.arch"))).get(ARG_NAMES.get(key, key))
    if value is None and path == "dataset.eval_stride" and _get(cfg, "dataset.tokens_per_sample"):
        value = int(_get(cfg, "dataset.tokens_per_sample")) // 2
    return value


def fmt(value: Any) -> str:
    """A setting's value as a line states it: 1,200; 0.00025; true; null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() and abs(value) >= 1000 else repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _same(a: Any, b: Any) -> bool:
    return _canonical(a) == _canonical(b)


def _canonical(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value).replace(" ", "")


# --- the derived lines ----------------------------------------------------------------------------------


def _unit(path: str, value: Any) -> str:
    return UNITS[path][:-1] if value == 1 else UNITS[path]  # 1 epoch, 2 epochs


def setting_line(path: str, value: Any, paper: Any = None, tag: str = "", recipe: Any = None,
                 has_paper: bool = False, has_recipe: bool = False, why: str | None = None) -> str:
    """One derived line: `<path>: <job's value> instead of the paper's <v> (<tag>) and the recipe's <v>; <why>`."""
    def shown(v):
        return fmt(v) + (f" ({NULL_MEANS[path]})" if v is None and path in NULL_MEANS else "")

    own = shown(value) + (f" {_unit(path, value)}" if path in UNITS and value is not None else "")
    refs = []
    if has_paper:
        refs.append(f"the paper's {shown(paper)}" + (f" ({tag})" if tag else ""))
    if has_recipe and not _same(recipe, value) and not (has_paper and _same(recipe, paper)):
        refs.append(f"the recipe's {shown(recipe)}")
    return f"{path}: {own} instead of {' and '.join(refs)}" + (f"; {why}" if why else "")


def _provenance_tag(provenance: Mapping[str, Any], path: str) -> str:
    """Where the paper's value of `path` comes from (official code, paper (quoted), paper (unverified)): the
    provenance entry of the path, else of its section (e.g. `optim`)."""
    for key in (path, path.split(".")[0]):
        if key in provenance:
            tag = str(provenance[key]).split(":")[0]
            return tag if tag in PROVENANCE_KINDS[:3] else ""
    return ""


def _set_by(reference: Mapping[str, Any], path: str) -> str | None:
    for prefix, label in reference.get("set_by") or []:
        if path == prefix or path.startswith(prefix + "."):
            return str(label)
    return None


def setting_lines(cfg: Mapping[str, Any], reference: Mapping[str, Any] | None = None) -> list[str]:
    """A line for every setting whose value is not the paper's (`dataset.paper_values`) or, where the paper
    gives none, not the recipe's. `reference` (normlab.compose.recipe_reference, which normlab-train passes):
    `recipe`, the dataset config composed alone, and `set_by`, [config path or section, what set it] in
    precedence order. Without it, settings are compared with the paper's values only."""
    from normlab.runner.identity import DATASET_DOC_KEYS

    reference = reference or {}
    recipe = reference.get("recipe")
    dataset = cfg.get("dataset") or {}
    paper = {str(k): v for k, v in dict(dataset.get("paper_values") or {}).items()}
    provenance = dict(dataset.get("provenance") or {})
    paths = [*paper]
    for source in (cfg, recipe or {}):
        for section in SECTIONS:
            paths += _leaves(source.get(section), section) if isinstance(source.get(section), Mapping) else []
    paths = [p for p in dict.fromkeys(paths) if p.split(".")[0] in SECTIONS and p not in NOT_COMPARED
             and not (p.startswith("dataset.") and p.split(".")[1] in DATASET_DOC_KEYS)]
    paths.sort(key=lambda p: SECTIONS.index(p.split(".")[0]))
    out = []
    for path in paths:
        value = setting(cfg, path)
        if value == "???":
            continue
        ours = setting(recipe, path) if recipe is not None else None
        has_recipe = recipe is not None and ours != "???"
        if path in paper:
            if value is None or _same(value, paper[path]):
                continue  # unset (an unknown default) or the paper's
        elif not has_recipe or _same(value, ours):
            continue
        if has_recipe and _same(value, ours):
            why = "the recipe's value"
        else:
            why = _set_by(reference, path)
        if why is None and path == "dataset.eval_stride" and _get(cfg, path) is None:
            why = "half the window (dataset.eval_stride null)"
        out.append(setting_line(path, value, paper.get(path), _provenance_tag(provenance, path), ours,
                                path in paper, has_recipe, why))
    return out


def recipe_deviations(cfg: Mapping[str, Any], options: Mapping[str, Any] | None = None,
                      reference: Mapping[str, Any] | None = None) -> list[str]:
    """How this job differs from the paper's setup, one line each (result.json's `deviations`, less the
    lines data preparation adds): the dataset's hand-written facts, a line per setting that is not the
    paper's or the recipe's (setting_lines), debug=smoke, norm.scope and norm options, AdaNorm's unknown C,
    and the settings the dataset marks `our choice` in `dataset.provenance` where the paper gives none.
    `reference`: the recipe and what set each setting (see setting_lines)."""
    from normlab.norms import CUSTOM, default_options

    dataset, norm = cfg["dataset"], cfg["norm"]
    out = [str(d) for d in dataset.get("deviations") or []]
    kind = data_kind(dataset)
    if kind in DATA_KIND_DEVIATIONS and not out:
        out.append(DATA_KIND_DEVIATIONS[kind])
    if (cfg.get("debug") or {}).get("smoke"):
        out.append(SMOKE)
    out += setting_lines(cfg, reference)
    paper = dict(dataset.get("paper_values") or {})
    provenance = dict(dataset.get("provenance") or {})
    if norm.get("scope", "all") != "all":
        out.append(f"norm.scope={norm['scope']}: the variant only in the final norms, the per-layer norms "
                   "affine LayerNorm (the released code's behaviour, not the paper's description)")
    if options is not None and norm["name"] != CUSTOM:  # a user's norm has no official form to differ from
        default = default_options(norm["name"])
        changed = {k: v for k, v in dict(options).items() if default.get(k) != v and not (
            norm["name"] == "adanorm" and k == "scale")}
        if changed:
            out.append(f"{norm['name']} options {changed} differ from the official code's form "
                       + str({k: default.get(k) for k in changed}))
    if norm["name"] == "adanorm":
        scale = (options or {}).get("scale", norm.get("scale"))
        out.append(f"AdaNorm C={scale}: the paper's C for this dataset is unknown (the official scripts' "
                   "default is 2, their README command uses 1)")
    ours = [k for k, v in provenance.items()
            if str(v).startswith("our choice") and k not in paper and k != "data" and not str(k).startswith("norm.")]
    if ours:
        out.append("our choice where the paper gives no setting: " + ", ".join(ours))
    return out


# --- reading lines back ---------------------------------------------------------------------------------

_DERIVED = re.compile(r"^(?P<path>(?:%s)\.[\w.]+): (?P<value>.+?) instead of " % "|".join(SECTIONS))
_OLD_DERIVED = re.compile(r"^(?P<path>(?:%s)\.[\w.]+)=(?P<value>.+?) where the paper has " % "|".join(SECTIONS))


def _number(text: str) -> float:
    text = text.replace(",", "")
    return float(text[:-1]) * 1000 if text.endswith("k") else float(text)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _ints(cfg, *paths) -> set:
    return {float(v) for v in (setting(cfg, p) for p in paths) if isinstance(v, (int, float))}


_LAYERS = ("model.encoder_layers", "model.decoder_layers")
_WIDTHS = ("model.encoder_embed_dim", "model.decoder_embed_dim", "model.hidden_dim")
# Numbers a free-text line states as the job's own, each with the settings it must equal.
CLAIMS = (
    (re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?k?) updates\b"), ("trainer.max_update",)),
    (re.compile(r"(?<![\w.,])(\d[\d,]*) epochs\b"), ("trainer.max_epoch",)),
    (re.compile(r"\bbeam (\d+)"), ("eval.beam",)),
    (re.compile(r"(?<![\w.,])(\d+)-byte (?:blocks|windows)\b"), ("dataset.tokens_per_sample",)),
    (re.compile(r"\bsliding window \((\d+) bytes"), ("dataset.tokens_per_sample",)),
    (re.compile(r"\bstride (\d+)"), ("dataset.eval_stride",)),
    (re.compile(r"(?<![\w.,+])(\d+) layers\b"), _LAYERS),
    (re.compile(r"(?<![\w.,])(\d+)\+\d+ layers\b"), ("model.encoder_layers",)),
    (re.compile(r"(?<![\w.,])\d+\+(\d+) layers\b"), ("model.decoder_layers",)),
    (re.compile(r"\blayers of (\d+)"), _WIDTHS),
    (re.compile(r"\bwidth (\d+)"), _WIDTHS),
    (re.compile(r"\bfirst ([\d,]+) of the sample's [\d,]+ test"), ("dataset.max_test_pairs",)),
)


def contradictions(lines: Iterable[str], cfg: Mapping[str, Any]) -> list[str]:
    """Every number the lines state as the job's own that its config does not hold, one message each: a
    derived line's value (`<path>: <value> instead of ...`, or the older `<path>=<value> where the paper
    has ...`) against setting(cfg, path), and in any line the CLAIMS (\"20k updates\", \"beam 4\", ...)."""
    found = []
    for line in lines:
        line = str(line)
        derived = _DERIVED.match(line) or _OLD_DERIVED.match(line)
        if derived:
            path, stated = derived["path"], derived["value"]
            value = setting(cfg, path)
            unit = _unit(path, value) if path in UNITS else None
            if unit and stated.endswith(" " + unit):
                stated = stated[: -len(unit) - 1]
            if derived.re is _DERIVED:
                expected = fmt(value) + (f" ({NULL_MEANS[path]})" if value is None and path in NULL_MEANS else "")
                ok = stated == expected
            else:  # the older lines printed Python's str() of the value
                ok = stated == str(value) or (isinstance(value, (int, float)) and _is_number(stated)
                                              and float(stated) == float(value))
            if not ok:
                found.append(f"{line!r}: the job's {path} is {fmt(value)}")
            continue
        for pattern, paths in CLAIMS:
            for match in pattern.finditer(line):
                held = _ints(cfg, *paths)
                if _number(match.group(1)) not in held:
                    found.append(f"{line!r}: says {match.group(0)!r}, the job's "
                                 + " / ".join(f"{p} is {fmt(setting(cfg, p))}" for p in paths))
    return found


def data_lines(deviations: Iterable[str]) -> list[str]:
    """The lines data preparation added to a result's deviations (the hub's splits), which no config shows."""
    return [str(d) for d in deviations if HUB_MARK in str(d)]

