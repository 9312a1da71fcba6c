"""The gradient probe (`+probe.gradients=true`): the paper's mechanism measured, not argued.

Theorem (paper §3.3): under LayerNorm-simple the gradient leaving the norm, ∂ℓ/∂x, has mean 0 over the
hidden dim and variance at most D_g/σ²; with μ and σ detached (DetachNorm) the mean is ḡ/σ. At a few set
training steps (micro-batches, counted per norm in training mode) this records, for every norm the
variant put in the model, the mean and variance over the hidden dim of the gradient entering the norm from
above (∂ℓ/∂y, "in") and leaving it (∂ℓ/∂x, "out"), averaged over rows, plus the mean |row mean| and the
input's mean row std σ. Off by default; when on, the cost is one extra reduction per norm at those steps
only (the hooks return at once on every other step).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


def _row_stats(t: torch.Tensor) -> dict[str, float]:
    rows = t.detach().float().reshape(-1, t.shape[-1])
    means = rows.mean(-1)
    return {"mean": float(means.mean()), "abs_mean": float(means.abs().mean()),
            "var": float(rows.var(-1, unbiased=False).mean())}


class GradientProbe:
    def __init__(self, steps, path: Path | str):
        self.steps = sorted({int(s) for s in steps})
        self.path = Path(path)
        self.points: dict[int, dict] = {}
        self.count = 0

    def attach(self, module: nn.Module) -> nn.Module:
        name = f"norm{self.count:02d}"
        self.count += 1
        state = {"step": 0, "sigma": None}

        def before(mod, inputs):
            if mod.training:
                state["step"] += 1
                if state["step"] in self.steps:
                    x = inputs[0].detach().float()
                    state["sigma"] = float(x.reshape(-1, x.shape[-1]).std(-1).mean())

        def after_backward(mod, grad_input, grad_output):
            step = state["step"]
            if not mod.training or step not in self.steps or grad_input[0] is None or grad_output[0] is None:
                return
            g_in, g_out = _row_stats(grad_output[0]), _row_stats(grad_input[0])
            self.points.setdefault(step, {})[name] = {
                "in_mean": g_in["mean"], "in_var": g_in["var"], "in_abs_mean": g_in["abs_mean"],
                "out_mean": g_out["mean"], "out_var": g_out["var"], "out_abs_mean": g_out["abs_mean"],
                "sigma": state["sigma"], "dim": int(grad_input[0].shape[-1]), "norm": getattr(mod, "name", ""),
            }
            self.write()

        module.register_forward_pre_hook(before)
        module.register_full_backward_hook(after_backward)
        return module

    def write(self) -> None:
        payload = {"steps": self.steps, "unit": "training steps (micro-batches)",
                   "points": [{"num_updates": step, "positions": self.points[step]} for step in sorted(self.points)]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".probe.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=1)
        os.replace(tmp, self.path)


# The model's layers each build their norms from their own copy of the arguments, so the one probe of a
# training run is found by its output file; `forget` starts a fresh one (a job run again in-process).
_PROBES: dict[str, GradientProbe] = {}


def probe_for(steps: str, path: Path | str) -> GradientProbe:
    key = str(Path(path).resolve())
    if key not in _PROBES:
        _PROBES[key] = GradientProbe([s for s in steps.split(",") if s.strip()], path)
    return _PROBES[key]


def forget(path: Path | str) -> None:
    _PROBES.pop(str(Path(path).resolve()), None)
