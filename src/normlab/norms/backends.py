"""Which kernels a norm call runs: NORMLAB_NORM_BACKEND=auto|triton|torch|c, read at every call.

* ``auto`` (default): the fused C kernels for CPU tensors (cpu_kernels.c; float16/bfloat16 are
  normalized in float32 there), the fused Triton kernels for CUDA tensors when triton imports,
  torch's kernels otherwise (float64, other devices, no compiler, no triton).
* ``c``, ``triton``, ``torch`` force one path. A forced path that cannot run on the tensor at hand
  raises NormBackendError saying why; it never falls back silently. ``triton`` runs CPU tensors
  through Triton's interpreter when TRITON_INTERPRET=1 is set (before triton is first imported).

Empty inputs take the torch path under every backend: there is nothing to compute. The
``layernorm`` norm with its default options is torch's own fused LayerNorm on every backend.
"""

from __future__ import annotations

import os
import torch

from . import cpu_kernels

ENV = "NORMLAB_NORM_BACKEND"
BACKENDS = ("auto", "triton", "torch", "c")
TRITON_PIN = "triton==3.7.1"  # the release torch 2.13's CUDA wheels require (requirements.lock)
_KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


class NormBackendError(RuntimeError):
    """A forced NORMLAB_NORM_BACKEND that cannot run on the given tensor, or an unknown name."""


def requested() -> str:
    name = os.environ.get(ENV, "").strip().lower() or "auto"
    if name not in BACKENDS:
        raise NormBackendError(f"unknown {ENV}={name!r}; choose one of: {', '.join(BACKENDS)}")
    return name


_TRITON_ERROR = None  # why triton does not import, once tried


def _triton_import_error() -> str | None:
    global _TRITON_ERROR
    if _TRITON_ERROR is None:
        try:
            import triton  # noqa: F401
            import triton.language  # noqa: F401
            _TRITON_ERROR = ""
        except Exception as err:  # ImportError, or a broken install raising anything else
            _TRITON_ERROR = f"triton does not import ({type(err).__name__}: {err}); install {TRITON_PIN}"
    return _TRITON_ERROR or None


_KERNELS = None


def triton_kernels():
    """The Triton kernel module, imported on first use (triton.jit fixes interpreter mode then)."""
    global _KERNELS
    if _KERNELS is None:
        from . import triton_kernels as module
        _KERNELS = module
    return _KERNELS


def _triton_problem(x: torch.Tensor) -> str | None:
    if x.dtype not in _KERNEL_DTYPES:
        return f"the Triton kernels take float32/float16/bfloat16 tensors, got {x.dtype}"
    if not (x.is_cuda or x.is_cpu):
        return f"the Triton kernels run on CUDA tensors (or CPU under TRITON_INTERPRET=1), got {x.device.type}"
    error = _triton_import_error()
    if error:
        return error
    kernels = triton_kernels()
    if x.is_cpu and not kernels.INTERPRETED:
        if os.environ.get("TRITON_INTERPRET", "0") == "1":
            return ("TRITON_INTERPRET=1 was set after normlab's Triton kernels were first imported; "
                    "set it before the process imports them")
        return "a CPU tensor needs Triton's interpreter: set TRITON_INTERPRET=1 before the first norm call"
    if x.shape[-1] > kernels.MAX_FUSED_SIZE:
        return f"hidden size {x.shape[-1]} exceeds the Triton kernels' limit of {kernels.MAX_FUSED_SIZE}"
    return None


def _c_problem(x: torch.Tensor, params=()) -> str | None:
    if not x.is_cpu:
        return f"the C kernels run on CPU tensors only, got a {x.device.type} tensor"
    for t in (x, *params):
        if t is not None and t.dtype not in _KERNEL_DTYPES:
            return f"the C kernels take float32/float16/bfloat16 tensors, got {t.dtype}"
    if cpu_kernels.library() is None:
        return "the C kernels are not available (NORMLAB_FUSED_KERNELS=0, or no C compiler to build them)"
    return None


def select(x: torch.Tensor, params=(), c_ok: bool = True) -> str:
    """'c', 'triton' or 'torch' for input x (and parameters `params`); c_ok=False rules C out.

    Runs at every norm call, so the default path is kept to a few attribute reads.
    """
    name = os.environ.get(ENV) or "auto"
    if name == "auto":
        return _auto(x, params, c_ok)
    name = requested()
    if name == "torch" or x.numel() == 0:
        return "torch"
    if name == "c":
        problem = _c_problem(x, params) or (None if c_ok else "the C kernels need rows of length > 1")
        if problem:
            raise NormBackendError(f"{ENV}=c cannot run here: {problem}")
        return "c"
    if name == "triton":
        problem = _triton_problem(x)
        if problem:
            raise NormBackendError(f"{ENV}=triton cannot run here: {problem}")
        return "triton"
    return _auto(x, params, c_ok)


def _auto(x: torch.Tensor, params, c_ok: bool) -> str:
    if x.is_cuda:
        return "triton" if x.numel() and _triton_problem(x) is None else "torch"
    return "c" if c_ok and x.numel() and _c_problem(x, params) is None else "torch"
