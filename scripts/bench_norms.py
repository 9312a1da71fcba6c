"""Forward+backward time of every normlab norm against torch's fused nn.LayerNorm.

    PYTHONPATH=src python scripts/bench_norms.py --shape 64 32 512 --device cpu

Prints a markdown table. The norms are timed in round-robin blocks so that machine noise hits
all of them alike; each entry is the median over all timed calls.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from normlab.norms import NORMS, build_norm

BASELINE = "nn.LayerNorm (baseline)"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=int, nargs="+", default=[64, 32, 512], help="input shape (..., dim)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16", "float64"])
    p.add_argument("--repeats", type=int, default=400, help="timed calls per norm (median is reported)")
    p.add_argument("--block", type=int, default=10,
                   help="consecutive calls per norm before moving to the next (round-robin blocks spread "
                        "machine noise over all norms; within a block the allocator reaches a steady state)")
    p.add_argument("--warmup", type=int, default=20)
    return p.parse_args(argv)


def _describe(device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return f"cpu ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads{load})"


def main(argv=None):
    args = parse_args(argv)
    device, dtype, dim = torch.device(args.device), getattr(torch, args.dtype), args.shape[-1]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*args.shape, generator=gen).to(device, dtype).requires_grad_()
    grad = torch.randn(*args.shape, generator=gen).to(device, dtype)
    modules = {BASELINE: torch.nn.LayerNorm(dim)}
    modules.update((name, build_norm(name, dim)) for name in NORMS)
    for m in modules.values():
        m.to(device)

    def step(m):
        x.grad = None
        m.zero_grad(set_to_none=True)
        sync()
        start = time.perf_counter()
        m(x).backward(grad)
        sync()
        return time.perf_counter() - start

    times = {name: [] for name in modules}
    for name, m in modules.items():
        for _ in range(args.warmup):
            step(m)
    for _ in range(-(-args.repeats // args.block)):
        for name, m in modules.items():
            step(m)  # settles the allocator into this norm's pattern
            times[name].extend(step(m) for _ in range(args.block))
    ms = {name: 1e3 * statistics.median(ts) for name, ts in times.items()}

    print(f"shape {tuple(args.shape)} {args.dtype} on {_describe(device)}, torch {torch.__version__}, "
          f"median of {len(times[BASELINE])} calls\n")
    print("| norm | fwd+bwd ms | ratio vs nn.LayerNorm |\n|---|---:|---:|")
    for name, t in ms.items():
        print(f"| {name} | {t:.3f} | {t / ms[BASELINE]:.2f} |")


if __name__ == "__main__":
    main()
