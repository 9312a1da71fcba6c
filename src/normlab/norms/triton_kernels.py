"""Fused Triton kernels for every normlab norm: one pass forward and one pass backward per row.

The layout is the usual one for row-wise norms on a GPU: one program owns a whole row, the row's
BLOCK (the hidden size rounded up to a power of two) sits in registers, the statistics are computed
in float32 and the per-row values the backward needs (mean, 1/d, the std-gradient coefficient, or
RMSNorm's 1/rms) are saved as float32 vectors. Inputs and gradients are read in their own dtype
(float32, float16, bfloat16) and written back in it; only the statistics are float32.

Parameter gradients (RMSNorm's gain, DyT's alpha, gain and bias) are reduced in two steps: each
program walks a contiguous chunk of rows, accumulating its share in float32 registers, and writes
one partial row; a torch sum over the (programs, dim) partials finishes them.

With TRITON_INTERPRET=1 set before this module is first imported, the kernels run on CPU tensors
through Triton's interpreter (that is how the tests check them without a GPU).
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

# triton.jit picks the interpreter at decoration time, i.e. when this module is imported.
INTERPRETED = os.environ.get("TRITON_INTERPRET", "0") == "1"
if not INTERPRETED:
    from triton.language.extra import libdevice
else:  # the interpreter has no libdevice; _tanh uses its exp form instead
    libdevice = None

# Rows longer than this do not fit one program's registers (float32: 256 KiB per row).
MAX_FUSED_SIZE = 65536
_MODES = {"full": 0, "detach_mean": 1, "detach_std": 2, "detach_both": 3}


def launch_config(n: int) -> tuple[int, int]:
    """(BLOCK, num_warps) for rows of length n: more warps as the row grows, 8-16 values a thread."""
    block = triton.next_power_of_2(n)
    if block > MAX_FUSED_SIZE:
        raise ValueError(f"hidden size {n} exceeds the fused kernels' limit of {MAX_FUSED_SIZE}")
    warps = 4 if block < 2048 else 8 if block < 8192 else 16 if block < 32768 else 32
    return block, warps


def _param_programs(rows: int, device: torch.device) -> int:
    """How many programs share the rows when parameter gradients are accumulated."""
    if device.type == "cuda":
        count = torch.cuda.get_device_properties(device).multi_processor_count * 2
    else:  # the interpreter: a few, so that the partial-sum path is exercised
        count = 4
    return max(1, min(rows, count))


def _rows(t: torch.Tensor) -> torch.Tensor:
    """A (rows, n) view with unit stride along n; copies only when no such view exists."""
    t2 = t.reshape(-1, t.shape[-1])
    return t2 if t2.stride(-1) == 1 or t2.shape[-1] == 1 else t2.contiguous()


def _row_stride(t2: torch.Tensor) -> int:
    return t2.stride(0) if t2.shape[0] > 1 else t2.shape[1]


# ---- (x - mu) / d, optionally AdaNorm C * (1 - k*y) * y ------------------------------------------

@triton.jit
def _norm_fwd(X, Z, MEAN, INVD, ALPHA, stride_x, stride_z, N, eps, scale, k,
              UNBIASED: tl.constexpr, EPS_ON_STD: tl.constexpr, ADA: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=0) / N
    xc = tl.where(mask, x - mean, 0.0)
    if UNBIASED:
        dof = N - 1.0
    else:
        dof = N * 1.0
    var = tl.sum(xc * xc, axis=0) / dof
    if EPS_ON_STD:
        sd = tl.sqrt(var)
        d = sd + eps
        # dsd/dx_j = xc_j / (dof * sd); a constant row has y = 0, so its term vanishes
        alpha = tl.where(sd > 0.0, 1.0 / (dof * tl.maximum(sd, 1e-30)), 0.0)
    else:
        d = tl.sqrt(var + eps)
        alpha = 1.0 / (dof * d)
    invd = 1.0 / d
    y = xc * invd
    if ADA:
        y = y * (scale - scale * k * y)
    tl.store(Z + row * stride_z + cols, y.to(Z.dtype.element_ty), mask=mask)
    tl.store(MEAN + row, mean)
    tl.store(INVD + row, invd)
    tl.store(ALPHA + row, alpha)


@triton.jit
def _norm_bwd(G, X, DX, MEAN, INVD, ALPHA, stride_g, stride_x, stride_dx, N, scale, k,
              MODE: tl.constexpr, ADA: tl.constexpr, BLOCK: tl.constexpr):
    # dx = invd*(G - [mean G]) - [alpha*sum(G*y)*y], G = g*C*(1 - k*y) for AdaNorm (its factor is
    # detached), else g; the bracketed terms (gradients through mu and through d) are dropped
    # when MODE detaches them: 0 full, 1 mean detached, 2 std detached, 3 both.
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    gr = tl.load(G + row * stride_g + cols, mask=mask, other=0.0).to(tl.float32)
    invd = tl.load(INVD + row)
    if MODE == 3 and not ADA:
        dx = gr * invd
    else:
        mean = tl.load(MEAN + row)
        x = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
        y = tl.where(mask, (x - mean) * invd, 0.0)
        if ADA:
            gr = gr * (scale - scale * k * y)
        dx = gr
        if MODE == 0 or MODE == 2:
            dx = dx - tl.sum(gr, axis=0) / N
        dx = dx * invd
        if MODE == 0 or MODE == 1:
            dx = dx - (tl.load(ALPHA + row) * tl.sum(gr * y, axis=0)) * y
    tl.store(DX + row * stride_dx + cols, dx.to(DX.dtype.element_ty), mask=mask)


def norm_forward(x, eps, unbiased, eps_on_std, scale, k):
    """z (x's dtype and shape) and float32 stats (3, rows): mean, 1/d, std-gradient coefficient."""
    n = x.shape[-1]
    x2 = _rows(x)
    rows = x2.shape[0]
    z = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    stats = torch.empty(3, rows, dtype=torch.float32, device=x.device)
    block, warps = launch_config(n)
    _norm_fwd[(rows,)](x2, z, stats[0], stats[1], stats[2], _row_stride(x2), n, n, float(eps), float(scale),
                       float(k), UNBIASED=bool(unbiased), EPS_ON_STD=bool(eps_on_std), ADA=k != 0.0,
                       BLOCK=block, num_warps=warps)
    return z, x2, stats


def norm_backward(g, x2, stats, mode, scale, k, shape):
    """dx in x2's dtype, shaped `shape`; x2 and stats as norm_forward returned them."""
    n = x2.shape[-1]
    g2 = _rows(g)
    rows = g2.shape[0]
    dx = torch.empty(shape, dtype=x2.dtype, device=x2.device)
    block, warps = launch_config(n)
    _norm_bwd[(rows,)](g2, x2, dx, stats[0], stats[1], stats[2], _row_stride(g2), _row_stride(x2), n, n,
                       float(scale), float(k), MODE=_MODES[mode], ADA=k != 0.0, BLOCK=block, num_warps=warps)
    return dx


# ---- RMSNorm: x * rinv [* w], rinv = 1/sqrt(mean(x^2) + eps) -------------------------------------

@triton.jit
def _rms_fwd(X, W, Z, RINV, stride_x, stride_z, N, eps, HAS_W: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
    rinv = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / N + eps)
    z = x * rinv
    if HAS_W:
        z = z * tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(Z + row * stride_z + cols, z.to(Z.dtype.element_ty), mask=mask)
    tl.store(RINV + row, rinv)


@triton.jit
def _rms_bwd(G, X, W, RINV, DX, DW_PART, stride_g, stride_x, stride_dx, rows, rows_per_program, N,
             HAS_W: tl.constexpr, WANT_DW: tl.constexpr, BLOCK: tl.constexpr):
    # y = x*rinv; dx = rinv*(g*w - y*mean(g*w*y)); dw = sum over rows of g*y
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    if HAS_W:
        w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    dw = tl.zeros((BLOCK,), dtype=tl.float32)
    start = pid.to(tl.int64) * rows_per_program  # int64 loop index: row offsets may pass 2^31
    end = tl.minimum(start + rows_per_program, rows)
    for row in tl.range(start, end):
        g = tl.load(G + row * stride_g + cols, mask=mask, other=0.0).to(tl.float32)
        x = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
        rinv = tl.load(RINV + row)
        if HAS_W:
            gw = g * w
        else:
            gw = g
        c = tl.sum(gw * x, axis=0) * rinv * rinv / N
        tl.store(DX + row * stride_dx + cols, (rinv * (gw - x * c)).to(DX.dtype.element_ty), mask=mask)
        if WANT_DW:
            dw += g * (x * rinv)
    if WANT_DW:
        tl.store(DW_PART + pid * N + cols, dw, mask=mask)


def rms_forward(x, weight, eps):
    n = x.shape[-1]
    x2 = _rows(x)
    rows = x2.shape[0]
    z = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    rinv = torch.empty(rows, dtype=torch.float32, device=x.device)
    w = None if weight is None else weight.contiguous()
    block, warps = launch_config(n)
    _rms_fwd[(rows,)](x2, w if w is not None else x2, z, rinv, _row_stride(x2), n, n, float(eps),
                      HAS_W=w is not None, BLOCK=block, num_warps=warps)
    return z, x2, rinv


def rms_backward(g, x2, weight, rinv, want_weight_grad, shape):
    """dx (x2's dtype, shaped `shape`) and, if wanted, the gain's gradient in float32."""
    n = x2.shape[-1]
    g2 = _rows(g)
    rows = g2.shape[0]
    dx = torch.empty(shape, dtype=x2.dtype, device=x2.device)
    w = None if weight is None else weight.contiguous()
    want = bool(want_weight_grad and w is not None)
    programs = _param_programs(rows, x2.device) if want else rows
    per = -(-rows // programs)
    programs = -(-rows // per)
    parts = torch.empty(programs if want else 1, n, dtype=torch.float32, device=x2.device)
    block, warps = launch_config(n)
    _rms_bwd[(programs,)](g2, x2, w if w is not None else x2, rinv, dx, parts, _row_stride(g2),
                          _row_stride(x2), n, rows, per, n, HAS_W=w is not None, WANT_DW=want, BLOCK=block,
                          num_warps=warps)
    return dx, parts.sum(0) if want else None


# ---- Dynamic Tanh: w * tanh(alpha*x) + b -----------------------------------------------------------

@triton.jit
def _tanh(u, EXACT: tl.constexpr):
    if EXACT:
        t = libdevice.tanh(u)
    else:  # sign(u) * (1 - e) / (1 + e), e = exp(-2|u|) <= 1: no overflow, within ~1e-7 of tanh
        e = tl.exp(-2.0 * tl.abs(u))
        t = (1.0 - e) / (1.0 + e)
        t = tl.where(u < 0.0, -t, t)
    return t


@triton.jit
def _dyt_fwd(X, A, W, B, Z, stride_x, stride_z, N, EXACT: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
    a = tl.load(A).to(tl.float32)
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(B + cols, mask=mask, other=0.0).to(tl.float32)
    z = w * _tanh(a * x, EXACT) + b
    tl.store(Z + row * stride_z + cols, z.to(Z.dtype.element_ty), mask=mask)


@triton.jit
def _dyt_bwd(G, X, A, W, DX, PART, A_PART, stride_g, stride_x, stride_dx, rows, rows_per_program, N,
             EXACT: tl.constexpr, BLOCK: tl.constexpr):
    # t = tanh(a*x); du = g*w*(1 - t^2); dx = a*du; da = sum du*x; dw = sum g*t; db = sum g
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    a = tl.load(A).to(tl.float32)
    w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
    dw = tl.zeros((BLOCK,), dtype=tl.float32)
    db = tl.zeros((BLOCK,), dtype=tl.float32)
    da = tl.zeros((BLOCK,), dtype=tl.float32)
    start = pid.to(tl.int64) * rows_per_program  # int64 loop index: row offsets may pass 2^31
    end = tl.minimum(start + rows_per_program, rows)
    for row in tl.range(start, end):
        g = tl.load(G + row * stride_g + cols, mask=mask, other=0.0).to(tl.float32)
        x = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
        t = _tanh(a * x, EXACT)
        du = g * w * (1.0 - t * t)
        tl.store(DX + row * stride_dx + cols, (du * a).to(DX.dtype.element_ty), mask=mask)
        da += du * x
        dw += g * t
        db += g
    tl.store(PART + (2 * pid) * N + cols, dw, mask=mask)
    tl.store(PART + (2 * pid + 1) * N + cols, db, mask=mask)
    tl.store(A_PART + pid, tl.sum(da, axis=0))


def dyt_forward(x, alpha, weight, bias):
    n = x.shape[-1]
    x2 = _rows(x)
    rows = x2.shape[0]
    z = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    block, warps = launch_config(n)
    _dyt_fwd[(rows,)](x2, alpha, weight.contiguous(), bias.contiguous(), z, _row_stride(x2), n, n,
                      EXACT=not INTERPRETED, BLOCK=block, num_warps=warps)
    return z, x2


def dyt_backward(g, x2, alpha, weight, shape):
    """dx (x2's dtype, shaped `shape`) and float32 gradients of alpha (shape (1,)), weight and bias."""
    n = x2.shape[-1]
    g2 = _rows(g)
    rows = g2.shape[0]
    dx = torch.empty(shape, dtype=x2.dtype, device=x2.device)
    programs = _param_programs(rows, x2.device)
    per = -(-rows // programs)
    programs = -(-rows // per)
    parts = torch.empty(programs, 2, n, dtype=torch.float32, device=x2.device)
    alpha_parts = torch.empty(programs, dtype=torch.float32, device=x2.device)
    block, warps = launch_config(n)
    _dyt_bwd[(programs,)](g2, x2, alpha, weight.contiguous(), dx, parts, alpha_parts, _row_stride(g2),
                          _row_stride(x2), n, rows, per, n, EXACT=not INTERPRETED, BLOCK=block,
                          num_warps=warps)
    sums = parts.sum(0)
    return dx, alpha_parts.sum().reshape(1), sums[0], sums[1]
