"""The GPU check of normlab's norms, in one run of at most five minutes on one GPU.

    bash scripts/device_check.sh            # or: PYTHONPATH=src python scripts/device_check.py

Prints Markdown (paste it into docs/gpu.md):
1. every norm's max error against the reference formulas (normlab.norms.reference, float64) on
   CUDA in float32/float16/bfloat16, forward, input gradient and parameter gradients;
2. forward+backward time of every norm against torch's fused nn.LayerNorm (and Liger-Kernel's
   LayerNorm when it imports) at (8192, 1024) and (16384, 4096), float32 and bfloat16;
3. the training-step time of fairseq's norm_transformer_iwslt_de_en per --norm against fairseq's own
   transformer_iwslt_de_en (built-in LayerNorm), same batch, float32 and bfloat16;
4. one smoke job per task family (`normlab-train dataset=quick_X debug=smoke trainer.bf16=true`),
   evaluation included, with its wall time.

Without a GPU it prints one line and exits 0. Each section has a share of the time budget
(--budget, seconds) and prints what it measured in that share; a failing section prints its error
and the next one runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_NORM, GOAL_STEP = 1.10, 1.05


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=280.0, help="seconds for the whole check (default 280)")
    p.add_argument("--sections", default="errors,speed,train,smoke", help="comma-separated subset to run")
    p.add_argument("--smoke-timeout", type=float, default=150.0, help="seconds per smoke job at most")
    return p.parse_args(argv)


def emit(line: str = "") -> None:
    print(line, flush=True)


def table(header, rows) -> None:
    emit("| " + " | ".join(header) + " |")
    emit("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        emit("| " + " | ".join(str(c) for c in row) + " |")
    emit()


class Clock:
    def __init__(self, budget: float):
        self.start, self.budget = time.monotonic(), budget

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.start)


# ---- 1. errors against the reference formulas ----------------------------------------------------

def check_errors(torch, clock, deadline):
    from normlab.norms import NORMS, REGISTRY, backends, build_norm, registry

    emit("## Max error against the reference formulas (float64), CUDA")
    emit()
    emit("Input (512, 1024) ~ 3·N(0,1) + 1 in the given dtype; gradient N(0,1); parameters perturbed "
         "from their init; the formula runs in float64 on the same rounded inputs. Errors are absolute.")
    emit()
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows = []
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        x = (torch.randn(512, 1024, device="cuda", generator=gen) * 3 + 1).to(dtype)
        g = torch.randn(512, 1024, device="cuda", generator=gen).to(dtype)
        for name in NORMS:
            if name == "none" or clock.left() < deadline:
                continue
            torch.manual_seed(1)
            module = build_norm(name, 1024)
            with torch.no_grad():
                for p in module.parameters():
                    p.add_(torch.randn_like(p) * 0.3)
            module.to("cuda", dtype)
            kernels = REGISTRY[name].kernels  # a norm without fused kernels runs torch's ops
            path = backends.select(x) if set(kernels) & set(backends.BACKENDS) else (kernels or ("torch",))[0]
            err = registry.max_errors(module, name, {}, x, g)
            rows.append([name, str(dtype).replace("torch.", ""), path, f"{err['forward']:.2e}",
                         f"{err['grad_input']:.2e}", f"{err['grad_params']:.2e}" if "grad_params" in err else "—"])
    table(["norm", "dtype", "kernels", "forward", "grad input", "grad params"], rows)


# ---- 2. forward+backward speed ---------------------------------------------------------------------

def _liger_layernorm():
    try:
        from liger_kernel.transformers import LigerLayerNorm
    except Exception:
        return None
    return LigerLayerNorm


def _time_modules(torch, modules, x, g, blocks=7, per_block=20, warmup=5):
    """Median ms per forward+backward over round-robin blocks, CUDA events around each block."""
    def step(m):
        x.grad = None
        for p in m.parameters():
            p.grad = None
        m(x).backward(g)

    for m in modules.values():
        for _ in range(warmup):
            step(m)
    torch.cuda.synchronize()
    times = {name: [] for name in modules}
    for _ in range(blocks):
        for name, m in modules.items():
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(per_block):
                step(m)
            end.record()
            end.synchronize()
            times[name].append(start.elapsed_time(end) / per_block)
    return {name: statistics.median(ts) for name, ts in times.items()}


def check_speed(torch, clock, deadline):
    from normlab.norms import NORMS, build_norm

    emit("## Forward+backward time against torch's fused nn.LayerNorm")
    emit()
    emit(f"CUDA events around blocks of 20 calls (x.grad and parameter grads reset each call), 5 warmup "
         f"calls, median of 7 round-robin blocks. Goal: every norm ≤ {GOAL_NORM:.2f}× nn.LayerNorm.")
    emit()
    liger = _liger_layernorm()
    if liger is None:
        emit("Liger-Kernel is not installed: no Liger column.")
        emit()
    header = ["shape", "dtype", "norm", "ms", "× nn.LayerNorm"] + (["× Liger LayerNorm"] if liger else [])
    rows, misses = [], []
    for shape in ((8192, 1024), (16384, 4096)):
        for dtype in (torch.float32, torch.bfloat16):
            if clock.left() < deadline:
                emit(f"(skipped {shape} {dtype}: time budget)")
                continue
            dim = shape[-1]
            x = torch.randn(*shape, device="cuda", dtype=dtype, requires_grad=True)
            g = torch.randn(*shape, device="cuda", dtype=dtype)
            modules = {"nn.LayerNorm": torch.nn.LayerNorm(dim)}
            if liger is not None:
                modules["Liger LayerNorm"] = liger(dim)
            modules.update((name, build_norm(name, dim)) for name in NORMS if name != "none")
            for m in modules.values():
                m.to("cuda", dtype)
            ms = _time_modules(torch, modules, x, g)
            base, lig = ms["nn.LayerNorm"], ms.get("Liger LayerNorm")
            for name, t in ms.items():
                ratio = t / base
                if name in NORMS and ratio > GOAL_NORM:
                    misses.append(f"{name} {shape} {str(dtype)[6:]} {ratio:.2f}×")
                rows.append([f"{shape[0]}×{shape[1]}", str(dtype).replace("torch.", ""), name, f"{t:.3f}",
                             f"{ratio:.2f}"] + ([f"{t / lig:.2f}"] if lig else []))
            del x, g, modules
            torch.cuda.empty_cache()
    table(header, rows)
    emit(f"Goal ≤ {GOAL_NORM:.2f}×: " + ("met by every norm." if not misses else "missed by " + ", ".join(misses)))
    emit()


# ---- 3. training step of the IWSLT transformer --------------------------------------------------

def _iwslt_model(torch, arch, norm, data_dir):
    from fairseq import options, tasks

    argv = [str(data_dir), "--task", "translation", "--source-lang", "de", "--target-lang", "en",
            "--arch", arch, "--encoder-normalize-before", "--decoder-normalize-before",
            "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1", "--dropout", "0.3",
            "--share-decoder-input-output-embed"]
    if norm is not None:
        argv += ["--norm", norm]
    args = options.parse_args_and_arch(options.get_training_parser(), input_args=argv)
    task = tasks.setup_task(args)
    return task, task.build_model(args), task.build_criterion(args)


def _iwslt_batch(torch, vocab, sentences=128, src_len=36, tgt_len=34):
    """A left-padded source / right-shifted target batch of 128 sentences, ~4.4k target tokens."""
    gen = torch.Generator().manual_seed(0)
    low = vocab.nspecial
    src = torch.randint(low, len(vocab), (sentences, src_len), generator=gen)
    src[:, -1] = vocab.eos()
    lengths = torch.randint(src_len // 2, src_len + 1, (sentences,), generator=gen)
    for i, n in enumerate(lengths.tolist()):  # fairseq left-pads sources
        src[i, : src_len - n] = vocab.pad()
    tgt = torch.randint(low, len(vocab), (sentences, tgt_len), generator=gen)
    tgt[:, -1] = vocab.eos()
    prev = torch.cat([torch.full((sentences, 1), vocab.eos()), tgt[:, :-1]], dim=1)
    return {"id": torch.arange(sentences), "nsentences": sentences, "ntokens": tgt.numel(),
            "net_input": {"src_tokens": src, "src_lengths": lengths, "prev_output_tokens": prev},
            "target": tgt}


def _to_cuda(torch, sample):
    if isinstance(sample, dict):
        return {k: _to_cuda(torch, v) for k, v in sample.items()}
    return sample.cuda() if torch.is_tensor(sample) else sample


def check_train_step(torch, clock, deadline):
    import normlab.plugin  # noqa: F401  (registers norm_transformer_iwslt_de_en and --norm)
    from normlab.norms import NORMS

    emit("## Training step: norm_transformer_iwslt_de_en per norm vs fairseq's transformer_iwslt_de_en")
    emit()
    emit("Pre-norm IWSLT De-En shape (6+6 layers, 512/1024, 4 heads), shared decoder embeddings, "
         "label-smoothed cross-entropy, one batch of 128 sentences (36 source, 34 target tokens, "
         "8k-word generated dictionary); step = forward + backward + Adam, float32 and bfloat16 "
         "(model in bf16). Median of 15 steps after 5 warmup, CUDA events. "
         f"Goal: ≤ {GOAL_STEP:.2f}× fairseq's built-in LayerNorm.")
    emit()
    tmp = Path(tempfile.mkdtemp(prefix="normlab-device-check-"))
    words = "".join(f"w{i} {1000 - i % 997}\n" for i in range(8000))
    for lang in ("de", "en"):
        (tmp / f"dict.{lang}.txt").write_text(words)
    candidates = [("fairseq transformer_iwslt_de_en", "transformer_iwslt_de_en", None)]
    candidates += [(name, "norm_transformer_iwslt_de_en", name) for name in NORMS]
    rows, misses = [], []
    for dtype in (torch.float32, torch.bfloat16):
        base = None
        for label, arch, norm in candidates:
            if clock.left() < deadline:
                emit(f"(skipped {label} {dtype}: time budget)")
                continue
            torch.manual_seed(0)
            task, model, criterion = _iwslt_model(torch, arch, norm, tmp)
            model.to("cuda", dtype).train()
            sample = _to_cuda(torch, _iwslt_batch(torch, task.source_dictionary))
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, eps=1e-6 if dtype == torch.float32 else 1e-4)
            times = []
            for i in range(20):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                loss, _, _ = criterion(model, sample)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                end.record()
                end.synchronize()
                if i >= 5:
                    times.append(start.elapsed_time(end))
            ms = statistics.median(times)
            base = ms if norm is None else base
            ratio = ms / base if base else float("nan")
            if norm is not None and ratio > GOAL_STEP:
                misses.append(f"{label} {str(dtype)[6:]} {ratio:.2f}×")
            rows.append([str(dtype).replace("torch.", ""), label, f"{ms:.2f}", f"{ratio:.3f}",
                         f"{loss.item():.3f}"])
            del model, optimizer, criterion, task, sample
            torch.cuda.empty_cache()
    shutil.rmtree(tmp, ignore_errors=True)
    table(["dtype", "model / --norm", "ms per step", "× fairseq LayerNorm", "last loss"], rows)
    emit(f"Goal ≤ {GOAL_STEP:.2f}×: " + ("met by every norm." if not misses else "missed by " + ", ".join(misses)))
    emit()


# ---- 4. smoke jobs -------------------------------------------------------------------------------

def _conf_dir() -> Path:
    try:
        from normlab.config import CONF_DIR
        return Path(CONF_DIR)
    except Exception:
        return REPO / "conf"


def _family_datasets() -> dict:
    """The first quick_* dataset of each task family, from the dataset configs' `family:` lines."""
    found = {}
    for path in sorted((_conf_dir() / "dataset").glob("quick_*.yaml")):
        match = re.search(r"^\s*family:\s*(\S+)", path.read_text(), re.M)
        if match:
            found.setdefault(match.group(1), path.stem)
    return found


def _train_command():
    exe = shutil.which("normlab-train")
    return [exe] if exe else [sys.executable, "-m", "normlab.train"]


def _failure_line(lines) -> str:
    tail = [ln.strip() for ln in lines[-40:] if "HYDRA_FULL_ERROR" not in ln]
    pattern = re.compile(r"error|exception|could not|not in struct|unrecognized|no such", re.I)
    return next((ln for ln in tail if pattern.search(ln)), tail[-1] if tail else "")


def _run_jobs(datasets, extra, out_root, limit, tag):
    """Runs one smoke job per dataset side by side; {family: (dataset, wall s, rc or None, log lines)}."""
    env = dict(os.environ, NORMLAB_OUTPUT=str(out_root))
    jobs = {}
    for family, dataset in datasets.items():
        cmd = _train_command() + [f"dataset={dataset}", "debug=smoke", *extra, "logger=none",
                                  f"hydra.run.dir={out_root / 'hydra' / tag / dataset}"]
        log_path = out_root / f"{dataset}-{tag}.log"
        log = open(log_path, "w")
        jobs[family] = (dataset, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO),
                        time.monotonic(), log, log_path)
    done = {}
    for family, (dataset, proc, started, log, log_path) in jobs.items():
        try:
            rc = proc.wait(timeout=max(1.0, limit - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
        log.close()
        lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
        done[family] = (dataset, time.monotonic() - started, rc, lines)
    return done


def check_smoke(torch, clock, deadline, per_job):
    emit("## Smoke jobs on the GPU, bf16 (`normlab-train dataset=quick_X debug=smoke trainer.bf16=true logger=none`)")
    emit()
    datasets = _family_datasets()
    if not datasets:
        emit(f"No quick_* dataset configs under {_conf_dir()}: nothing to run.")
        return
    # The jobs run side by side (one GPU, many CPU cores) so that all fit the budget: their wall
    # times are upper bounds of a job run alone. A job whose config rejects trainer.bf16 is run
    # again without it, so that the GPU run is measured anyway.
    out_root = Path(tempfile.mkdtemp(prefix="normlab-smoke-"))
    results = _run_jobs(datasets, ["trainer.bf16=true"], out_root, max(10.0, min(per_job, clock.left() - deadline)),
                        "bf16")
    rows, again = [], {}
    for family, (dataset, wall, rc, lines) in results.items():
        if rc == 0:
            note = "ok" + (f": {lines[-1][:150]}" if lines else "")
        elif rc is None:
            note = f"timed out after {wall:.0f} s"
        else:
            note = f"exit {rc}: {_failure_line(lines)[:200]}"
            if "bf16" in " ".join(lines[-40:]):
                again[family] = dataset
        rows.append([family, dataset, "bf16", f"{wall:.1f}", note])
    if again and clock.left() - deadline > 20:
        for family, (dataset, wall, rc, lines) in _run_jobs(again, [], out_root, min(per_job, clock.left() - deadline),
                                                            "fp32").items():
            note = ("ok" + (f": {lines[-1][:150]}" if lines else "")) if rc == 0 else (
                f"timed out after {wall:.0f} s" if rc is None else f"exit {rc}: {_failure_line(lines)[:200]}")
            rows.append([family, dataset, "fp32 (bf16 rejected)", f"{wall:.1f}", note])
    table(["family", "dataset", "precision", "wall s (side by side)", "result"],
          [[c.replace("|", "\\|") for c in row] for row in rows])
    shutil.rmtree(out_root, ignore_errors=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("device_check: no GPU here (torch.cuda.is_available() is False); nothing to measure")
        return 0
    clock = Clock(args.budget)
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # stdout stays Markdown; errors still show
    import triton  # noqa: F401  (the kernels need it; fail here in one line if it is missing)

    import fairseq

    emit(f"# normlab device check: {torch.cuda.get_device_name()}")
    emit()
    emit(f"torch {torch.__version__} (CUDA {torch.version.cuda}), triton {triton.__version__}, "
         f"fairseq {fairseq.__version__}, NORMLAB_NORM_BACKEND={os.environ.get('NORMLAB_NORM_BACKEND', 'auto')}, "
         f"{time.strftime('%Y-%m-%d %H:%M %Z')}")
    emit()
    wanted = args.sections.split(",")
    # each section must leave the later ones their share: (section, seconds to keep for the rest)
    plan = [("errors", check_errors, 0.80), ("speed", check_speed, 0.62), ("train", check_train_step, 0.45)]
    for name, fn, keep in plan:
        if name not in wanted:
            continue
        try:
            fn(torch, clock, keep * args.budget if "smoke" in wanted else 0.0)
        except Exception as err:  # one line, then the next section
            emit(f"**{name} failed**: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
            emit()
        torch.cuda.empty_cache()
    if "smoke" in wanted:
        try:
            check_smoke(torch, clock, 5.0, args.smoke_timeout)
        except Exception as err:
            emit(f"**smoke failed**: {type(err).__name__}: {err}")
    emit(f"Total {time.monotonic() - clock.start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
