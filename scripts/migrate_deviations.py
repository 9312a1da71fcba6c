"""Rewrite the `deviations` and `data_kind` of every result.json below a folder from its stored config,
as the runner now writes them (normlab.runner.deviations), without running anything again.

    python scripts/migrate_deviations.py results/offline_grid/jobs          # rewrite
    python scripts/migrate_deviations.py results/offline_grid/jobs --check  # say what would change

For each result, the recipe's documentation inside its stored `config` (dataset.deviations, provenance,
paper_values, kind, and the `budget` section's reasons) is replaced by the current recipe's, composed from
the job's own overrides; a job whose settings that recipe no longer reproduces (its identity differs) is
left alone and listed. Then `deviations` is derived from that config (plus the lines data preparation
added, which no config shows: the hub's splits) and `data_kind` read from its `dataset.kind`. Nothing
else in the file changes, and it is written as the runner writes it, so a second run changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from normlab.compose import compose, dataset_choice, recipe_reference
from normlab.runner.deviations import contradictions, data_kind, data_lines, recipe_deviations
from normlab.runner.identity import DATASET_DOC_KEYS, identity
from normlab.runner.result import write_json_atomic


def _with_docs(stored: dict, current: dict) -> dict:
    """`stored` (a dataset config) with the documentation keys of `current`, in place where it had them."""
    out = {}
    for key, value in stored.items():
        if key in DATASET_DOC_KEYS:
            if key in current:
                out[key] = current[key]
        else:
            out[key] = value
        if key == "recipe":  # a key the stored config lacks goes after the recipe's name
            out.update({k: current[k] for k in DATASET_DOC_KEYS if k in current and k not in stored})
    out.update({k: current[k] for k in DATASET_DOC_KEYS if k in current and k not in out})
    return out


def migrate(data: dict) -> tuple[dict, str | None]:
    """(the migrated result, None), or (the result unchanged, why it was left alone)."""
    cfg = data["config"]
    overrides = list(data.get("overrides") or [])
    choice = dataset_choice(cfg, overrides)
    if choice is None:
        return data, f"dataset {cfg['dataset'].get('name')!r} is not one of normlab's dataset configs"
    args = overrides if any(o.startswith("dataset=") for o in overrides) else [f"dataset={choice}", *overrides]
    current = compose(args)
    if identity(current) != identity(cfg):
        return data, "its overrides no longer compose to its settings (the recipe changed since it ran)"
    new_cfg = {**cfg, "dataset": _with_docs(cfg["dataset"], current["dataset"])}
    if "budget" in cfg or "budget" in current:
        new_cfg["budget"] = current.get("budget")
    out = {**data, "config": new_cfg}
    out["data_kind"] = data_kind(new_cfg["dataset"])
    reference = recipe_reference(new_cfg, overrides)
    out["deviations"] = [*recipe_deviations(new_cfg, data.get("norm_options"), reference),
                         *data_lines(data.get("deviations") or [])]
    # keep the file's own key order (data_kind before deviations, as the runner writes it)
    return {k: out[k] for k in [*data, *[k for k in out if k not in data]]}, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    paths = sorted(args.folder.rglob("result.json"))
    if not paths:
        print(f"no result.json below {args.folder}", file=sys.stderr)
        return 2
    changed = skipped = lines_before = lines_after = wrong_before = wrong_after = 0
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        new, why = migrate(data)
        before, after = data.get("deviations") or [], new.get("deviations") or []
        lines_before += len(before)
        lines_after += len(after)
        wrong_before += len(contradictions(before, data["config"]))
        wrong_after += len(contradictions(after, new["config"]))
        if why:
            skipped += 1
            print(f"left alone {path}: {why}")
            continue
        if new != data:
            changed += 1
            if not args.check:
                write_json_atomic(path, new)
    verb = "would rewrite" if args.check else "rewrote"
    print(f"{verb} {changed} of {len(paths)} result.json ({skipped} left alone); deviations: {lines_before} lines "
          f"before, {lines_after} after; numbers stated as the job's own that its config contradicts: "
          f"{wrong_before} before, {wrong_after} after")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
