"""Autograd Functions with closed-form backward passes.

Composing mean/std/sub/div under autograd costs 3-9x a fused nn.LayerNorm on CPU. These
Functions instead run torch's fused normalization kernels plus a few cheap fix-ups:

* forward: ``native_layer_norm`` gives (x - mean) * rstd with rstd = 1/sqrt(var_biased + e);
  one in-place per-row rescale turns that into the paper's (x - mean) / (std + eps).
* backward: batch norm's training backward on the (1, rows, dim) view is the fused formula
  ``w * invstd * (g - mean(g) - xh * mean(g * xh))``, ``xh = (input - mean) * invstd``, which
  holds for *any* per-row mean/invstd/w we hand it. Choosing invstd and w per row yields
  each variant's exact gradient in one pass (derivation in NormalizeFn.backward).

Low-precision inputs are normalized in float32 and cast back (gradients too).

Which kernels run is backends.select's choice (NORMLAB_NORM_BACKEND): the fused C kernels
(cpu_kernels.c) for CPU tensors, the fused Triton kernels (triton_kernels.py) for CUDA tensors,
and the torch path below otherwise. The C and Triton kernels compute the same closed forms.
"""

from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from . import backends, cpu_kernels

_LOW_PRECISION = (torch.float16, torch.bfloat16)
# Stand-in variance epsilon when the real eps is added to the std: keeps rstd finite for
# constant rows (<= 1e15) while changing std by <= 1e-15, far below any accepted eps.
_TINY = 1e-30

_native_backward = torch.ops.aten.native_layer_norm_backward
_bn_backward = torch.ops.aten.native_batch_norm_backward
_tanh_backward = torch.ops.aten.tanh_backward.grad_input

FULL, DETACH_MEAN, DETACH_STD, DETACH_BOTH = "full", "detach_mean", "detach_std", "detach_both"


def _upcast(t: torch.Tensor | None) -> torch.Tensor | None:
    return t.float() if t is not None and t.dtype in _LOW_PRECISION else t


def _row_view(t: torch.Tensor) -> torch.Tensor:
    # batch-norm kernels see (1, rows, dim): per-channel = per-row statistics and weights
    return t.reshape(1, -1, t.shape[-1])  # copies only a non-contiguous input (e.g. fairseq's T x B x C)


def _rows_backward(g, inp, mean, invstd, weight):
    """weight*invstd*(g - mean(g) - xh*mean(g*xh)) with xh = (inp - mean)*invstd, per row.

    This is batch norm's training backward on the (1, rows, dim) view, a fused kernel that,
    unlike layer norm's, takes a per-row weight; any per-row mean/invstd/weight are valid.
    """
    return _bn_backward(_row_view(g), _row_view(inp), weight.view(-1), None, None, mean.view(-1),
                        invstd.view(-1), True, 0.0, [True, False, False])[0].view(g.shape)


def _rows_affine(t, shift, scale, bias=None):
    """(t - shift) * scale [+ bias] per row, in one fused pass (batch norm in eval mode)."""
    ones = torch.ones_like(scale).view(-1)
    return torch.native_batch_norm(_row_view(t), scale.view(-1), None if bias is None else ones * bias,
                                   shift.view(-1), ones, False, 0.0, 0.0)[0].view(t.shape)


def _inv_d(rstd, den, corr):
    """1/d per row, from what NormalizeFn.forward saved."""
    return rstd / den if den is not None else rstd / corr


class NormalizeFn(torch.autograd.Function):
    """y = (x - mu) / d over the last dim, optionally AdaNorm z = C * (1 - k*sg(y)) * y.

    d = std + eps (eps_on_std) or sqrt(var + eps); std/var unbiased (N-1) or biased (N).
    mode detaches mu and/or d in the backward pass (the paper's DetachNorm family).
    """

    @staticmethod
    def forward(ctx, x, eps: float, unbiased: bool, eps_on_std: bool, mode: str = FULL,
                scale: float = 1.0, k: float = 0.0):
        n = x.shape[-1]
        ctx.path = backends.select(x, c_ok=n > 1)
        if ctx.path == "triton":  # one fused pass, reading x in its own dtype (triton_kernels.py)
            z, x2, stats = backends.triton_kernels().norm_forward(x, eps, unbiased, eps_on_std, scale, k)
            ctx.meta = (x.dtype, mode, scale, k, None)
            ctx.save_for_backward(x2, stats)
            return z
        xf = _upcast(x)
        if ctx.path == "c":  # one fused pass on CPU float32 (cpu_kernels.c)
            xf = xf.contiguous()
            z, stats = cpu_kernels.norm_forward(xf, eps, unbiased, eps_on_std, scale, k)
            ctx.meta = (x.dtype, mode, scale, k, None)
            ctx.save_for_backward(xf, stats)
            return z if z.dtype == x.dtype else z.to(x.dtype)
        corr = math.sqrt(n / (n - 1)) if unbiased else 1.0  # std_unbiased = corr * std_biased
        zeros = xf.new_zeros(n)  # a gain/bias also selects the CPU kernel's vectorized path (~1.7x)
        if eps_on_std:
            y, mu, rstd = torch.native_layer_norm(xf, (n,), torch.full_like(zeros, scale), zeros, _TINY)
            # 1/d = 1/(corr/rstd + eps) = rstd/den
            den = rstd.mul(eps).add_(corr)
            y.mul_(den.reciprocal())  # in-place multiply: the cheapest full pass
        else:
            # var_unbiased + eps = corr^2 * (var_biased + eps/corr^2): a constant factor, in the gain
            y, mu, rstd = torch.native_layer_norm(xf, (n,), torch.full_like(zeros, scale / corr), zeros,
                                                  eps / corr**2)
            den = None
        # y holds C * y_s (C = scale, 1 unless AdaNorm; y_s the simple normalization)
        if k != 0.0:  # AdaNorm, in place: C*y_s - C*k*y_s^2 (the backward recomputes y_s)
            y.addcmul_(y, y, value=-k / scale)
        ctx.meta = (x.dtype, mode, scale, k, corr)
        full = mode in (FULL, DETACH_MEAN)
        ctx.save_for_backward(xf if full else None, mu if full else None, rstd, den)
        return y if y.dtype == x.dtype else y.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        x_dtype, mode, scale, k, corr = ctx.meta
        if ctx.path == "triton":
            x2, stats = ctx.saved_tensors
            return (backends.triton_kernels().norm_backward(g, x2, stats, mode, scale, k, g.shape),) + (None,) * 6
        g = _upcast(g).contiguous()
        if ctx.path == "c":
            xf, stats = ctx.saved_tensors
            return (cpu_kernels.norm_backward(g, xf, stats, mode, scale, k).to(x_dtype),) + (None,) * 6
        xf, mu, rstd, den = ctx.saved_tensors
        if g.numel() == 0:  # batch norm kernels divide by the channel count (SIGFPE on CPU)
            dx = g.clone()
        elif mode == DETACH_BOTH:  # d and mu constant: g / d
            dx = g * _inv_d(rstd, den, corr)
        elif mode == DETACH_STD:  # only mu differentiated: (g - mean(g)) / d
            dx = _rows_affine(g, g.mean(-1, keepdim=True), _inv_d(rstd, den, corr))
        else:
            # With y_s = x_c * r the exact gradient is  r*(G - mean(G)) - alpha*sum(G*y_s)*y_s,
            # alpha = 1/((N-u)*std) (eps on std) or 1/((N-u)*d) (eps in the variance), times C.
            # _rows_backward(G, x, mu, rho, w) = w*rho*(G - mean(G)) - w*rho^3/(N r^2)*sum(G*y_s)*y_s,
            # so w*rho = C*r and rho^2 = N*alpha*r, i.e.
            #   eps on std:  rho = rstd*sqrt(corr/den), w = C*sqrt(1/(corr*den))
            #   in variance: rho = corr*r = rstd,        w = C/corr
            if k != 0.0:  # AdaNorm: the backward of G = g * (1 - k*y_s) = g * (1 - k*r*(x - mu))
                g = _rows_affine(xf, mu, _inv_d(rstd, den, corr).mul_(-k), bias=1.0).mul_(g)
            if den is not None:
                t = den.mul(corr).rsqrt_()
                rho, w = rstd * t.mul(corr), t.mul_(scale)
            else:
                rho, w = rstd, torch.full_like(rstd, scale / corr)
            dx = _rows_backward(g, xf, mu, rho, w)
            if mode == DETACH_MEAN:  # mu constant: drop the -r*mean(g) term
                dx.add_(g.mean(-1, keepdim=True).mul_(_inv_d(rstd, den, corr)))
        return (dx.to(x_dtype),) + (None,) * 6


class RMSNormFn(torch.autograd.Function):
    """x / sqrt(mean(x^2) + eps) [* weight]; F.rms_norm is unfused (~5x LayerNorm) on CPU."""

    @staticmethod
    def forward(ctx, x, weight, eps: float):
        ctx.x_dtype, ctx.w_dtype = x.dtype, None if weight is None else weight.dtype
        ctx.path = backends.select(x, (weight,))
        if ctx.path == "triton":
            out, x2, r = backends.triton_kernels().rms_forward(x, weight, eps)
            ctx.save_for_backward(x2, weight, r)
            return out
        xf, wf = _upcast(x), _upcast(weight)
        n = xf.shape[-1]
        if ctx.path == "c":
            xf, wf = xf.contiguous(), None if wf is None else wf.contiguous()
            out, r = cpu_kernels.rms_forward(xf, wf, eps)
            ctx.save_for_backward(xf, wf, r)
            return out if out.dtype == x.dtype else out.to(x.dtype)
        norm = torch.linalg.vector_norm(xf, dim=-1, keepdim=True)
        r = norm.square_().div_(n).add_(eps).rsqrt_()
        out = xf * r
        if wf is not None:
            out.mul_(wf)
        ctx.save_for_backward(xf, wf, r)
        return out if out.dtype == x.dtype else out.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        xf, wf, r = ctx.saved_tensors
        want_w = wf is not None and ctx.needs_input_grad[1]
        if ctx.path == "triton":
            dx, dw = backends.triton_kernels().rms_backward(g, xf, wf, r, want_w, g.shape)
            return dx, dw.to(ctx.w_dtype) if want_w else None, None
        g = _upcast(g).contiguous()
        n = xf.shape[-1]
        if ctx.path == "c":
            dx, dw = cpu_kernels.rms_backward(g, xf, wf, r, want_w)
            return dx.to(ctx.x_dtype), dw.to(ctx.w_dtype) if want_w else None, None
        # The fused LN backward with mean 0 and rstd r is RMSNorm's backward minus r*mean(g*w).
        dx, dw, _ = _native_backward(g, xf, xf.shape[-1:], torch.zeros_like(r), r, wf, None,
                                     [True, want_w, False])
        gw_mean = g.mean(-1, keepdim=True) if wf is None else (g @ wf).unsqueeze(-1).div_(n)
        dx.add_(gw_mean.mul_(r))
        dw = dw.to(ctx.w_dtype) if want_w else None
        return dx.to(ctx.x_dtype), dw, None


class DyTFn(torch.autograd.Function):
    """weight * tanh(alpha * x) + bias (Dynamic Tanh), alpha a scalar."""

    @staticmethod
    def forward(ctx, x, alpha, weight, bias):
        ctx.dtypes = (x.dtype, alpha.dtype, weight.dtype, bias.dtype)
        ctx.path = backends.select(x, (alpha, weight, bias))
        if ctx.path == "triton":  # alpha stays on the device: no host sync
            out, x2 = backends.triton_kernels().dyt_forward(x, alpha, weight, bias)
            ctx.save_for_backward(x2, None, alpha, weight)
            return out
        xf, af, wf, bf = (_upcast(t) for t in (x, alpha, weight, bias))
        xf = xf.contiguous()  # the backward works on flat (rows, dim) views
        if ctx.path == "c":  # the kernel's backward recomputes tanh: less memory traffic than saving it
            out, t = cpu_kernels.dyt_forward(xf, af.item(), wf.contiguous(), bf.contiguous()), None
        else:
            t = torch.mul(xf, af).tanh_()
            out = torch.addcmul(bf, t, wf)
        ctx.save_for_backward(xf, t, af, wf)
        return out if out.dtype == x.dtype else out.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        xf, t, af, wf = ctx.saved_tensors
        n = xf.shape[-1]
        if ctx.path == "triton":
            dx, dalpha, dweight, dbias = backends.triton_kernels().dyt_backward(g, xf, af, wf, g.shape)
            grads = (dx, dalpha.reshape(af.shape), dweight, dbias)
            return tuple(grad.to(dtype) for grad, dtype in zip(grads, ctx.dtypes))
        if ctx.path == "c":
            dx, dalpha, dweight, dbias = cpu_kernels.dyt_backward(_upcast(g).contiguous(), xf, af.item(),
                                                                  wf.contiguous())
            grads = (dx.view(g.shape), dalpha.reshape(af.shape), dweight, dbias)
            return tuple(grad.to(dtype) for grad, dtype in zip(grads, ctx.dtypes))
        g2, t2 = _upcast(g).contiguous().view(-1, n), t.view(-1, n)
        ones = g2.new_ones(g2.shape[0])  # column sums as BLAS matrix-vector products
        dbias = ones @ g2
        du = g2 * t2
        dweight = ones @ du
        _tanh_backward(g2, t2, grad_input=du).mul_(wf)  # g * (1 - t^2) * weight, reusing du
        dalpha = torch.dot(du.view(-1), xf.view(-1)).reshape(af.shape)
        dx = du.mul_(af).view(g.shape)
        return tuple(grad.to(dtype) for grad, dtype in zip((dx, dalpha, dweight, dbias), ctx.dtypes))
