"""The Triton kernels against the reference formulas (under Triton's interpreter), and the backend choice.

TRITON_INTERPRET=1 must be set before triton_kernels is first imported (triton.jit reads it then),
so this module sets it at collection time; under the default `auto` backend CPU tensors still take
the C kernels, so the rest of the session is unaffected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from normlab.norms import backends, build_norm, cpu_kernels, registry  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
try:
    import triton  # noqa: F401
    HAVE_TRITON = True
except Exception:  # not installed, or a broken install
    HAVE_TRITON = False
needs_triton = pytest.mark.skipif(not HAVE_TRITON, reason="triton is not importable here (pip install triton==3.7.1)")
needs_interpreter = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                       reason="TRITON_INTERPRET was set to something other than 1 for this run")


CASES = [
    ("layernorm_simple", {}), ("layernorm_simple", {"std": "biased", "eps_placement": "variance"}),
    ("detach_mean", {}), ("detach_mean", {"eps_placement": "variance"}), ("detach_std", {}), ("detachnorm", {}),
    ("adanorm", {}), ("adanorm", {"scale": 1.0, "k": 0.2}),
    ("layernorm", {"std": "unbiased", "eps_placement": "std"}),
    ("rmsnorm", {}), ("rmsnorm_simple", {}), ("dyt", {}),
]
# (rtol, atol) for outputs and gradients: float32 is exact up to summation order; the
# low-precision ones are one or two rounding steps of their own dtype on O(1) values.
TOLERANCES = {torch.float32: (1e-5, 1e-5), torch.float16: (4e-3, 4e-3), torch.bfloat16: (2e-2, 2e-2)}
ENTRY_POINTS = ("norm_forward", "norm_backward", "rms_forward", "rms_backward", "dyt_forward", "dyt_backward")


@pytest.fixture
def triton_calls(monkeypatch):
    """Forces the triton backend and counts calls into the kernel module's entry points."""
    monkeypatch.setenv(backends.ENV, "triton")
    kernels = backends.triton_kernels()
    calls = []
    for entry in ENTRY_POINTS:
        real = getattr(kernels, entry)
        monkeypatch.setattr(kernels, entry, lambda *a, _real=real, _entry=entry, **kw: (calls.append(_entry),
                                                                                          _real(*a, **kw))[1])
    return calls


def _inputs(layout, n, dtype):
    gen = torch.Generator().manual_seed(n)
    if layout == "tbc_view":  # fairseq's T x B x C, seen batch-first: a non-contiguous view
        x = (torch.randn(5, 3, n, generator=gen) * 3 + 1).to(dtype).transpose(0, 1)
        assert not x.is_contiguous()
    else:
        x = (torch.randn(12, n, generator=gen) * 3 + 1).to(dtype)
    g = torch.randn(x.shape, generator=gen).to(dtype)
    return x, g


def _check(name, options, x, g, dtype, calls):
    torch.manual_seed(3)
    module = build_norm(name, x.shape[-1], **options)
    with torch.no_grad():
        for p in module.parameters():  # non-trivial gains and biases
            p.add_(torch.randn_like(p) * 0.3)
    module.to(dtype)
    xx = x.clone().requires_grad_()
    y = module(xx)
    y.backward(g)
    assert y.dtype == dtype and xx.grad.dtype == dtype and y.shape == x.shape

    params = {key: p.detach().double().requires_grad_() for key, p in module.named_parameters()}
    xr = x.detach().double().requires_grad_()
    ref = registry.forward(name, options, xr, params)
    ref.backward(g.double())

    rtol, atol = TOLERANCES[dtype]
    torch.testing.assert_close(y.double(), ref.detach(), rtol=rtol, atol=atol)
    # gradients: a little looser in float32 (sums over a row), scaled by the gradient's size
    grad_tol = dict(rtol=max(rtol, 1e-4), atol=max(atol, 1e-4) * max(1.0, xr.grad.abs().max().item()))
    torch.testing.assert_close(xx.grad.double(), xr.grad, **grad_tol)
    for key, p in module.named_parameters():
        assert p.grad is not None and p.grad.dtype == dtype, key
        size = max(1.0, params[key].grad.abs().max().item())
        torch.testing.assert_close(p.grad.double(), params[key].grad, rtol=rtol * 2, atol=atol * 2 * size,
                                   msg=lambda m, key=key: f"{name} {key} gradient: {m}")
    assert calls and calls[-1].endswith("backward") and calls[-2].endswith("forward"), calls


@needs_triton
@needs_interpreter
@pytest.mark.parametrize("layout, n", [("tbc_view", 37), ("contiguous", 64)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}{'-' + '-'.join(map(str, o.values())) if o else ''}"
                                                        for n, o in CASES])
def test_kernels_match_reference(name, options, dtype, layout, n, triton_calls):
    x, g = _inputs(layout, n, dtype)
    _check(name, options, x, g, dtype, triton_calls)


@needs_triton
@needs_interpreter
@pytest.mark.parametrize("name", ["layernorm_simple", "rmsnorm", "dyt"])
def test_kernels_large_rows_and_odd_leading_shape(name, triton_calls):
    # a hidden size above one block's minimum and a 4-d input with a single row per program group
    x, g = _inputs("contiguous", 1000, torch.float32)
    x, g = x[:6].reshape(2, 1, 3, 1000), g[:6].reshape(2, 1, 3, 1000)
    _check(name, {}, x, g, torch.float32, triton_calls)


@needs_triton
@needs_interpreter
def test_constant_rows_are_finite(triton_calls):
    x, g = torch.ones(4, 16), torch.randn(4, 16)
    for name in ("layernorm_simple", "adanorm", "detach_mean", "detachnorm"):
        xx = x.clone().requires_grad_()
        y = build_norm(name, 16)(xx)
        y.backward(g)
        assert torch.isfinite(y).all() and torch.isfinite(xx.grad).all(), name
    xx = x.clone().requires_grad_()
    build_norm("layernorm_simple", 16)(xx).backward(g)
    torch.testing.assert_close(xx.grad, (g - g.mean(-1, keepdim=True)) / 1e-5)  # d = 0 + eps


@needs_triton
@needs_interpreter
def test_triton_agrees_with_c_kernels(monkeypatch):
    if cpu_kernels.library() is None:
        pytest.skip("no C compiler here: the fused kernels are not built")
    x, g = _inputs("tbc_view", 48, torch.float32)
    results = {}
    for backend in ("c", "triton"):
        monkeypatch.setenv(backends.ENV, backend)
        torch.manual_seed(0)
        module = build_norm("adanorm", 48)
        xx = x.clone().requires_grad_()
        module(xx).backward(g)
        results[backend] = xx.grad
    torch.testing.assert_close(results["c"], results["triton"], rtol=1e-5, atol=1e-5)


# ---- backend selection ----------------------------------------------------------------------------

def test_unknown_backend_lists_choices(monkeypatch):
    monkeypatch.setenv(backends.ENV, "cuda")
    with pytest.raises(backends.NormBackendError, match="auto, triton, torch, c"):
        build_norm("rmsnorm", 8)(torch.randn(2, 8))


def test_forced_c_on_unsupported_tensor_raises(monkeypatch):
    monkeypatch.setenv(backends.ENV, "c")
    with pytest.raises(backends.NormBackendError, match="=c cannot run here: .*float64"):
        build_norm("layernorm_simple", 8)(torch.randn(2, 8, dtype=torch.float64))
    with pytest.raises(backends.NormBackendError, match="float64"):
        build_norm("dyt", 8).double()(torch.randn(2, 8, dtype=torch.float64))
    monkeypatch.setenv("NORMLAB_FUSED_KERNELS", "0")
    cpu_kernels.library.cache_clear()
    try:
        with pytest.raises(backends.NormBackendError, match="NORMLAB_FUSED_KERNELS=0"):
            build_norm("rmsnorm", 8)(torch.randn(2, 8))
    finally:
        monkeypatch.delenv("NORMLAB_FUSED_KERNELS")
        cpu_kernels.library.cache_clear()


def test_forced_backends_run_their_path(monkeypatch):
    if cpu_kernels.library() is None:
        pytest.skip("no C compiler here: the fused kernels are not built")
    x = torch.randn(3, 8)
    for backend, expect in (("c", "c"), ("torch", "torch"), ("auto", "c"), ("", "c")):
        monkeypatch.setenv(backends.ENV, backend)
        assert backends.select(x) == expect, backend
    monkeypatch.setenv(backends.ENV, "auto")
    assert backends.select(x.double()) == "torch" and backends.select(x, c_ok=False) == "torch"
    assert backends.select(x[:0]) == "torch"  # empty: nothing to compute on any backend


def test_forced_triton_without_interpreter_raises():
    # a fresh process without TRITON_INTERPRET: a CPU tensor cannot take the Triton path
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update({backends.ENV: "triton", "PYTHONPATH": str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")})
    code = ("import torch\nfrom normlab.norms import build_norm, backends\n"
            "try:\n    build_norm('rmsnorm', 8)(torch.randn(2, 8))\n"
            "except backends.NormBackendError as err:\n    print('raised:', err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("raised: NORMLAB_NORM_BACKEND=triton cannot run here:"), out.stdout
    assert ("TRITON_INTERPRET=1" in out.stdout) if HAVE_TRITON else ("triton does not import" in out.stdout)


def test_device_check_without_gpu_prints_one_line():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO / "src"), PYTHON=sys.executable)
    out = subprocess.run(["bash", str(REPO / "scripts" / "device_check.sh")], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and "no GPU" in lines[0], out.stdout


_AOT = r"""
import itertools, triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from normlab.norms import triton_kernels as tk

POINTERS = {"MEAN", "INVD", "ALPHA", "RINV", "DW_PART", "PART", "A_PART"}  # float32 statistics
VARIANTS = [(tk._norm_fwd, dict(UNBIASED=u, EPS_ON_STD=e, ADA=a)) for u, e, a in itertools.product((0, 1), repeat=3)]
VARIANTS += [(tk._norm_bwd, dict(MODE=m, ADA=a)) for m in range(4) for a in (0, 1)]
VARIANTS += [(tk._rms_fwd, dict(HAS_W=w)) for w in (0, 1)]
VARIANTS += [(tk._rms_bwd, dict(HAS_W=w, WANT_DW=d)) for w, d in ((0, 0), (1, 0), (1, 1))]
VARIANTS += [(tk._dyt_fwd, dict(EXACT=1)), (tk._dyt_bwd, dict(EXACT=1))]
for dtype, (fn, consts) in itertools.product(("fp32", "fp16", "bf16"), VARIANTS):
    consts = {k: bool(v) if k != "MODE" else v for k, v in consts.items()}
    consts["BLOCK"], warps = tk.launch_config(1024)
    signature = {}
    for arg in fn.arg_names:
        if arg in consts:
            signature[arg] = "constexpr"
        elif arg.isupper() and arg != "N":
            signature[arg] = "*fp32" if arg in POINTERS else "*" + dtype
        else:
            signature[arg] = "fp32" if arg in ("eps", "scale", "k") else "i32"
    triton.compile(ASTSource(fn, signature, constexprs=consts), target=GPUTarget("cuda", 90, 32),
                   options={"num_warps": warps})
print("compiled", len(VARIANTS) * 3)
"""


@needs_triton
def test_kernels_compile_for_sm90(tmp_path):
    # the interpreter skips Triton's compiler: compile every variant for an H100-class GPU (no GPU needed)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(TRITON_CACHE_DIR=str(tmp_path), PYTHONPATH=str(REPO / "src"))
    out = subprocess.run([sys.executable, "-c", _AOT], capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0 and "ptxas" in out.stderr and "not found" in out.stderr.lower():
        pytest.skip("this triton install has no ptxas to compile with")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "compiled 69", out.stdout  # 23 variants x 3 dtypes
