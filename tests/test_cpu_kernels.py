"""The fused CPU kernels agree with the torch-only path, and their absence falls back cleanly."""

from __future__ import annotations

import pytest
import torch

from normlab.norms import NORMS, build_norm, cpu_kernels


def _run(name, x, g, fused: bool, monkeypatch, **options):
    monkeypatch.setenv("NORMLAB_FUSED_KERNELS", "1" if fused else "0")
    cpu_kernels.library.cache_clear()
    torch.manual_seed(0)
    module = build_norm(name, x.shape[-1], **options)
    with torch.no_grad():
        for p in module.parameters():  # non-trivial gains and biases
            p.add_(torch.randn_like(p) * 0.3)
    xx = x.clone().requires_grad_()
    y = module(xx)
    y.backward(g)
    return y.detach(), xx.grad, [p.grad for p in module.parameters()]


@pytest.fixture(autouse=True)
def _restore_library():
    yield
    cpu_kernels.library.cache_clear()


@pytest.mark.parametrize("name, options", [(n, {}) for n in NORMS] + [
    ("layernorm_simple", {"std": "biased", "eps_placement": "variance"}), ("adanorm", {"scale": 1.0, "k": 0.2}),
    ("detach_mean", {"eps_placement": "variance"})])
def test_fused_kernel_matches_torch_path(name, options, monkeypatch):
    if cpu_kernels.library() is None:
        pytest.skip("no C compiler here: the fused kernels are not built")
    torch.manual_seed(1)
    x = (torch.randn(24, 5, 64) * 3 + 1).transpose(0, 1)  # non-contiguous, as fairseq's T x B x C
    g = torch.randn(5, 24, 64)
    fused = _run(name, x, g, True, monkeypatch, **options)
    plain = _run(name, x, g, False, monkeypatch, **options)
    torch.testing.assert_close(fused[0], plain[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused[1], plain[1], rtol=1e-4, atol=1e-5)
    for a, b in zip(fused[2], plain[2]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_constant_rows_have_finite_gradients(monkeypatch):
    x, g = torch.ones(4, 16), torch.randn(4, 16)
    for name in ("layernorm_simple", "adanorm", "detach_mean", "detachnorm"):
        y, dx, _ = _run(name, x, g, True, monkeypatch)
        assert torch.isfinite(y).all() and torch.isfinite(dx).all()
    _, dx, _ = _run("layernorm_simple", x, g, True, monkeypatch)
    torch.testing.assert_close(dx, (g - g.mean(-1, keepdim=True)) / 1e-5)  # d = 0 + eps


def test_tanh_approximation_is_float_accurate():
    if cpu_kernels.library() is None:
        pytest.skip("no C compiler here: the fused kernels are not built")
    x = torch.cat([torch.linspace(-12, 12, 100001), torch.tensor([0.0, 1e-8, -1e-8, 0.625, -0.625, 1e30, -1e30])])
    torch.testing.assert_close(cpu_kernels.tanh(x), torch.tanh(x), rtol=4e-7, atol=1.2e-7)


def test_without_kernels_the_torch_path_runs(monkeypatch):
    monkeypatch.setenv("NORMLAB_FUSED_KERNELS", "0")
    cpu_kernels.library.cache_clear()
    assert cpu_kernels.library() is None and not cpu_kernels.usable(torch.ones(2, 2))
    y = build_norm("adanorm", 8)(torch.randn(3, 8))
    assert y.shape == (3, 8)


def test_a_failed_build_warns_once_and_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("NORMLAB_KERNEL_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "false")
    monkeypatch.delenv("NORMLAB_FUSED_KERNELS", raising=False)
    cpu_kernels.library.cache_clear()
    with pytest.warns(UserWarning, match="fused CPU norm kernels unavailable"):
        assert cpu_kernels.library() is None
    assert build_norm("rmsnorm", 8)(torch.randn(3, 8)).shape == (3, 8)
    assert not list(tmp_path.iterdir())  # no half-written library left behind
