"""Copy a grid's finished datasets into the repository: every job's result.json, outcomes.npz and probe.json
(numbers only: no checkpoint, no data), then rebuild the report over what was copied.

    python scripts/collect_grid.py $NORMLAB_OUTPUT/offline_grid results/offline_grid
    python scripts/collect_grid.py $NORMLAB_OUTPUT/offline_modern_norms results/offline_modern_norms \
        --experiments offline_modern_norms offline_modern_norms_seq --with results/offline_grid/jobs

A dataset is copied only once every job the sweeps planned for it (their experiment files' sweeper params)
has a result (done or diverged), so a committed dataset is always whole; the others are listed with how
many jobs are still missing. --with: more job folders the report reads beside the copied ones (a study's
extra variants are compared with the grid's committed jobs).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

KEEP = ("result.json", "outcomes.npz", "probe.json")


def planned(experiments: list[str]) -> dict[str, int]:
    """{dataset: jobs the experiments' sweeps plan for it}, from their sweeper params."""
    from omegaconf import OmegaConf

    from normlab.config import CONF_DIR

    counts: dict[str, int] = defaultdict(int)
    for name in experiments:
        params = OmegaConf.load(CONF_DIR / "experiment" / f"{name}.yaml").hydra.sweeper.params
        axes = {k: str(v).split(",") for k, v in params.items()}
        for combo in itertools.product(*axes.values()):
            counts[dict(zip(axes, combo))["dataset"]] += 1
    return dict(counts)


def main(source: str, target: str, experiments: list[str], also: list[str]) -> int:
    source_dir, target_dir = Path(source), Path(target)
    jobs = defaultdict(list)
    for result in sorted(source_dir.glob("*/*/*/result.json")):
        try:
            data = json.loads(result.read_text())
        except ValueError:
            continue
        jobs[data["dataset"]].append((result.parent, data))
    expected = planned(experiments)
    copied = []
    for dataset, found in sorted(jobs.items()):
        finished = [(folder, d) for folder, d in found if d.get("status") in ("done", "diverged")]
        need = expected.get(dataset, len(found))
        runs = defaultdict(list)
        for folder, d in finished:
            runs[(d.get("norm"), json.dumps(d.get("norm_options"), sort_keys=True), d.get("seed"))].append(folder)
        stale = [folders for folders in runs.values() if len(folders) > 1]
        if stale:
            # two configs of one (variant, seed): a pilot or an edited recipe left behind; the report would
            # average them as if they were seeds of one cell
            print(f"{dataset}: not copied: one variant and seed ran with different configs, move the stale "
                  f"one(s) out of {source_dir}: " + "; ".join(" vs ".join(map(str, f)) for f in stale))
            continue
        if len(finished) < need:
            print(f"{dataset}: {len(finished)} of {need} jobs finished; not copied yet")
            continue
        for folder, _ in finished:
            dest = target_dir / "jobs" / folder.relative_to(source_dir)
            dest.mkdir(parents=True, exist_ok=True)
            for name in KEEP:
                if (folder / name).exists():
                    shutil.copy2(folder / name, dest / name)
        copied.append(dataset)
        print(f"{dataset}: {len(finished)} jobs copied to {target_dir / 'jobs' / dataset}")
    if copied:
        report = Path(sys.executable).with_name("normlab-report")
        return subprocess.call([str(report), *also, str(target_dir / "jobs"), "--out", str(target_dir)])
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the sweep's output folder, $NORMLAB_OUTPUT/<group>")
    parser.add_argument("target", help="the committed copy, results/<group>")
    parser.add_argument("--experiments", nargs="+", default=["offline_grid", "offline_grid_seq"],
                        help="the experiments whose sweeps fill SOURCE (default: the offline grid's two)")
    parser.add_argument("--with", dest="also", nargs="*", default=[], metavar="DIR",
                        help="job folders the report reads beside TARGET/jobs")
    args = parser.parse_args()
    sys.exit(main(args.source, args.target, args.experiments, args.also))
