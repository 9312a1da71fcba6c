#!/usr/bin/env python
"""Overhead of normlab-train over plain fairseq: the same tiny job both ways, on the same prepared data.

    python scripts/bench_runner.py [--repeats 3] [--updates 200]

normlab-train: Hydra composition, data cache lookup, training, evaluation, result.json (W&B off).
Plain: fairseq-train then fairseq-generate with the same arguments (--user-dir for the plugin).
Prints the median wall time of each and their ratio (goal: at most 1.10).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PLUGIN = Path(__file__).resolve().parents[1] / "src" / "normlab" / "plugin"


def timed(cmd: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def main() -> None:
    import os

    from normlab.compose import compose
    from normlab.families import get_family
    from normlab.runner.job import data_spec, train_argv

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--updates", type=int, default=200)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="normlab-bench-"))
    env = {**os.environ, "NORMLAB_OUTPUT": str(work / "out"), "NORMLAB_DATA_DIR": str(work / "data")}
    os.environ.update(env)
    overrides = ["dataset=synthetic_translation", "logger=none", "norm=adanorm", f"trainer.max_update={args.updates}",
                 "trainer.max_epoch=100", "eval.beam=5", "eval.max_len_b=20", "force=true"]
    cfg = compose(overrides)
    family = get_family(cfg["dataset"]["family"])
    spec = data_spec(cfg["dataset"])
    prepared = family.prepare(spec, log=lambda _: None)  # both sides start from the same cached data
    save = work / "plain"
    train = [str(BIN / "fairseq-train"), "--user-dir", str(PLUGIN), *train_argv(cfg, family.task_args(spec, prepared), save)]
    generate = [str(BIN / "fairseq-generate"), "--user-dir", str(PLUGIN), *family.task_args(spec, prepared),
                "--path", str(save / "checkpoint_best.pt"), "--gen-subset", "test", "--beam", "5", "--max-len-b", "20",
                "--batch-size", "128", "--post-process", "subword_nmt", "--cpu", "--num-workers", "0"]

    ours, plain = [], []
    for i in range(args.repeats):
        shutil.rmtree(work / "out", ignore_errors=True)
        shutil.rmtree(save, ignore_errors=True)
        ours.append(timed([str(BIN / "normlab-train"), *overrides], env))
        plain.append(timed(train, env) + timed(generate, env))
        print(f"run {i + 1}: normlab-train {ours[-1]:.1f} s, fairseq-train + fairseq-generate {plain[-1]:.1f} s", flush=True)
    a, b = statistics.median(ours), statistics.median(plain)
    print(f"\n| job ({args.updates} updates, tiny Transformer, CPU) | wall time (median of {args.repeats}) |")
    print("|---|---|")
    print(f"| normlab-train | {a:.1f} s |")
    print(f"| fairseq-train + fairseq-generate | {b:.1f} s |")
    print(f"| ratio | {a / b:.2f}× (goal ≤ 1.10×) |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
