"""normlab.norms: forward formulas, closed-form gradients, dtypes, options and errors.

The reference code here is written out independently of the library (plain torch ops) for the paper's
forms; every norm of the registry is also checked against the registry's own formula (norms/reference.py),
so a norm added to the registry is tested here without editing this file.
"""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
import torch.nn.functional as F

from normlab.norms import NORMS, REGISTRY, NormConfigError, build_norm

N = 6  # small last dim: float64 gradchecks stay fast
NORMALIZING = ("layernorm_simple", "detach_mean", "detach_std", "detachnorm", "adanorm")
MOMENT_OPTIONS = [dict(std=s, eps_placement=p) for s in ("unbiased", "biased") for p in ("std", "variance")]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny tensors: threads only add sync cost, and stall badly on a busy 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _x(*shape, dtype=torch.float64, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _randomize_params(m, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(0.5 + torch.rand(p.shape, generator=gen, dtype=p.dtype))
    return m


INDEPENDENT = ("none", "layernorm", "layernorm_simple", "detach_mean", "detach_std", "detachnorm", "adanorm",
               "rmsnorm", "rmsnorm_simple", "dyt")


# ---- independent reference formulas -------------------------------------------------------


def ref_stats(x, eps, std="unbiased", eps_placement="std"):
    """Mean and the divisor d of y = (x - mean) / d, from the written-out definition."""
    n = x.shape[-1]
    mean = x.sum(-1, keepdim=True) / n
    var = ((x - mean) ** 2).sum(-1, keepdim=True) / (n - 1 if std == "unbiased" else n)
    d = var.sqrt() + eps if eps_placement == "std" else (var + eps).sqrt()
    return mean, d


def registry_forward(name, m, x):
    return REGISTRY[name].reference(x, dict(m.named_parameters()), **m.options())


def ref_forward(name, m, x):
    if name not in INDEPENDENT:
        return registry_forward(name, m, x)
    if name == "none":
        return x
    if name in ("rmsnorm", "rmsnorm_simple"):
        y = x / (x.pow(2).mean(-1, keepdim=True) + m.eps).sqrt()
        return y * m.weight if name == "rmsnorm" else y
    if name == "dyt":
        return m.weight * torch.tanh(m.alpha * x) + m.bias
    mean, d = ref_stats(x, m.eps, m.std, m.eps_placement)
    y = (x - mean) / d
    if name == "layernorm":
        return y * m.weight + m.bias
    if name == "adanorm":
        return m.scale * (1 - m.k * y) * y
    return y


def frozen_forward(name, m, x0):
    """The forward with the detached quantities fixed at x0: its derivative is the variant's backward."""
    if name not in ("detach_mean", "detach_std", "detachnorm", "adanorm"):
        return lambda x: ref_forward(name, m, x)
    mean0, d0 = ref_stats(x0, m.eps, m.std, m.eps_placement)

    def f(x):
        mean, d = ref_stats(x, m.eps, m.std, m.eps_placement)
        if name == "detach_mean":
            return (x - mean0) / d
        if name == "detach_std":
            return (x - mean) / d0
        if name == "detachnorm":
            return (x - mean0) / d0
        return m.scale * (1 - m.k * (x0 - mean0) / d0) * (x - mean) / d  # adanorm

    return f


# ---- gradients ------------------------------------------------------------------------------


def _gradcheck(name, m, x0, fast_mode=True):
    params = tuple(m.parameters())
    frozen = frozen_forward(name, m, x0)
    # value = the frozen forward (m(x) - m(x).detach() is exactly 0); backward = the module's
    fn = lambda x, *p: m(x) - m(x).detach() + frozen(x).detach()  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x0.clone().requires_grad_(), *params), fast_mode=fast_mode)


@pytest.mark.parametrize("name", NORMS)
def test_gradcheck_defaults(name):
    m = _randomize_params(build_norm(name, N).double())
    if name not in ("detach_mean", "detach_std", "detachnorm", "adanorm"):  # true derivatives
        x = _x(2, 3, N, seed=5).requires_grad_()
        assert torch.autograd.gradcheck(lambda x, *p: m(x), (x, *m.parameters()), fast_mode=True)
    _gradcheck(name, m, _x(2, 3, N), fast_mode=False)


@pytest.mark.parametrize("options", MOMENT_OPTIONS, ids=lambda o: f"{o['std']}-{o['eps_placement']}")
@pytest.mark.parametrize("name", NORMALIZING + ("layernorm",))
def test_gradcheck_moment_options(name, options):
    # a large eps makes the std/variance placements differ clearly
    m = _randomize_params(build_norm(name, N, eps=0.3, **options).double())
    _gradcheck(name, m, _x(4, N, seed=2))


@pytest.mark.parametrize("name, options", [
    ("adanorm", dict(scale=1.0, k=0.2)), ("adanorm", dict(scale=3.5, k=0.05)),
    ("rmsnorm", dict(eps=0.5)), ("dyt", dict(alpha_init=1.7)),
])
def test_gradcheck_other_options(name, options):
    _gradcheck(name, _randomize_params(build_norm(name, N, **options).double()), _x(3, N, seed=3))


def _closed_form_grad(name, x, g, eps=1e-5, scale=2.0, k=0.1):
    """Hand-derived input gradients (unbiased std, eps added to the std)."""
    n = x.shape[-1]
    mean = x.mean(-1, keepdim=True)
    sigma = ((x - mean) ** 2).sum(-1, keepdim=True).div(n - 1).sqrt()
    y = (x - mean) / (sigma + eps)

    def full(g):  # d/dx of (x - mean)/(sigma + eps), applied to g
        through_std = y * (g * y).sum(-1, keepdim=True) / ((n - 1) * sigma)
        return (g - g.mean(-1, keepdim=True)) / (sigma + eps) - through_std

    if name == "detachnorm":
        return g / (sigma + eps)
    if name == "detach_std":
        return (g - g.mean(-1, keepdim=True)) / (sigma + eps)
    if name == "detach_mean":
        return g / (sigma + eps) - y * (g * y).sum(-1, keepdim=True) / ((n - 1) * sigma)
    if name == "adanorm":
        return full(g * scale * (1 - k * y))
    return full(g)


def _naive_detach(name, x, eps=1e-5, scale=2.0, k=0.1):
    """The official code's autograd composition (fairseq/modules/layer_norm.py, modes nowb/adanorm)."""
    mean, std = x.mean(-1, keepdim=True), x.std(-1, keepdim=True)
    if name in ("detach_mean", "detachnorm"):
        mean = mean.detach()
    if name in ("detach_std", "detachnorm"):
        std = std.detach()
    y = (x - mean) / (std + eps)
    return scale * (1 - k * y.detach()) * y if name == "adanorm" else y


@pytest.mark.parametrize("name", NORMALIZING)
def test_input_gradient_closed_forms(name):
    x, g = _x(3, 5, 16, seed=7), _x(3, 5, 16, seed=8)
    x.requires_grad_()
    build_norm(name, 16).double()(x).backward(g)
    expected = _closed_form_grad(name, x.detach(), g)
    torch.testing.assert_close(x.grad, expected, rtol=1e-10, atol=1e-12)
    naive = torch.autograd.grad(_naive_detach(name, x), x, g)[0]
    torch.testing.assert_close(x.grad, naive, rtol=1e-10, atol=1e-12)


def test_detachnorm_gradient_is_g_over_std_plus_eps():
    x = (_x(4, 32) * 3 + 1).requires_grad_()
    g = _x(4, 32, seed=1)
    build_norm("detachnorm", 32, eps=1e-3).double()(x).backward(g)
    torch.testing.assert_close(x.grad, g / (x.detach().std(-1, keepdim=True) + 1e-3))


# ---- forward --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NORMS)
def test_forward_matches_formula(name):
    m = _randomize_params(build_norm(name, 16).double())
    x = _x(2, 7, 16) * 2 + 0.5
    torch.testing.assert_close(m(x), ref_forward(name, m, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NORMS)
def test_forward_matches_registry_formula(name):
    m = _randomize_params(build_norm(name, 16).double())
    x = _x(2, 7, 16) * 2 + 0.5
    torch.testing.assert_close(m(x), registry_forward(name, m, x), rtol=1e-12, atol=1e-12)


def test_registry_entries_are_complete():
    for name, spec in REGISTRY.items():
        assert spec.cls.name == name and spec.label and spec.short and spec.color.startswith("#")
        assert set(spec.defaults()) == set(spec.cls.option_names())


def test_width_dependent_default_is_built_at_the_real_width():
    # ScaleNorm's g starts at sqrt(dim): the option it reports is the one it was built with
    assert build_norm("scalenorm", 64).options()["g_init"] == 8.0
    assert build_norm("scalenorm", 512).g.item() == pytest.approx(512 ** 0.5)
    assert REGISTRY["scalenorm"].defaults() == {"g_init": None, "eps": 1e-5}


@pytest.mark.parametrize("options", MOMENT_OPTIONS, ids=lambda o: f"{o['std']}-{o['eps_placement']}")
@pytest.mark.parametrize("name", NORMALIZING + ("layernorm",))
def test_forward_moment_options(name, options):
    m = _randomize_params(build_norm(name, 16, eps=0.1, **options).double())
    x = _x(5, 16) * 0.7
    torch.testing.assert_close(m(x), ref_forward(name, m, x), rtol=1e-12, atol=1e-12)


def test_textbook_options_equal_f_layer_norm():
    x = _x(4, 9, 32).requires_grad_()
    g = _x(4, 9, 32, seed=1)
    m = build_norm("layernorm_simple", 32, std="biased", eps_placement="variance").double()
    out = m(x)
    torch.testing.assert_close(out, F.layer_norm(x, (32,), eps=1e-5))
    torch.testing.assert_close(torch.autograd.grad(out, x, g)[0],
                               torch.autograd.grad(F.layer_norm(x, (32,), eps=1e-5), x, g)[0])


def test_layernorm_is_torch_layernorm():
    m = build_norm("layernorm", 8)
    assert isinstance(m, torch.nn.LayerNorm) and list(m.state_dict()) == ["weight", "bias"]
    assert m.eps == 1e-5 and m.normalized_shape == (8,)
    ref = torch.nn.LayerNorm(8)
    ref.load_state_dict(_randomize_params(m).state_dict())
    x = _x(3, 8, dtype=torch.float32)
    torch.testing.assert_close(m(x), ref(x), rtol=0, atol=0)


def test_paper_defaults():
    ada = build_norm("adanorm", 8)
    assert (ada.scale, ada.k, ada.eps, ada.std, ada.eps_placement) == (2.0, 0.1, 1e-5, "unbiased", "std")
    assert build_norm("rmsnorm", 8).eps == 1e-6
    dyt = build_norm("dyt", 8)
    assert dyt.alpha.item() == 0.5 and dyt.weight.eq(1).all() and dyt.bias.eq(0).all()
    assert [n for n in NORMS if not list(build_norm(n, 8).parameters())] == [
        "none", "layernorm_simple", "detach_mean", "detach_std", "detachnorm", "adanorm", "rmsnorm_simple"]


@pytest.mark.parametrize("name", NORMS)
@pytest.mark.parametrize("shape", [(5, 12), (2, 3, 12), (2, 3, 4, 12)], ids=lambda s: f"{len(s)}d")
def test_shapes(name, shape):
    m = build_norm(name, 12).double()
    x = _x(*shape).requires_grad_()
    out = m(x)
    assert out.shape == shape
    out.square().sum().backward()
    assert x.grad.shape == shape and torch.isfinite(x.grad).all()
    flat = m(x.detach().reshape(-1, 12)).reshape(shape)  # rows are independent
    torch.testing.assert_close(out.detach(), flat, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NORMS)
@pytest.mark.parametrize("shape", [(12,), (0, 12), (2, 0, 12)], ids=["1d", "empty", "empty-3d"])
def test_degenerate_shapes(name, shape):
    x = torch.randn(shape, requires_grad=True)
    out = build_norm(name, 12)(x)
    out.sum().backward()
    assert out.shape == shape and x.grad.shape == shape


@pytest.mark.parametrize("name", [n for n in NORMS if n != "none"])
def test_output_may_be_modified_in_place(name):
    # like nn.LayerNorm, nothing the backward needs is the returned tensor (residual code does out += x)
    x = _x(3, 8).requires_grad_()
    m = build_norm(name, 8).double()
    out = m(x)
    out.add_(1.0)
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", NORMS)
def test_noncontiguous_input_and_expanded_grad(name):
    m = build_norm(name, 10).double()
    x = _x(5, 10, 4).transpose(1, 2).requires_grad_()  # (5, 4, 10), not contiguous
    m(x).sum().backward()  # sum's backward hands in an expanded (stride 0) gradient
    ref = x.detach().contiguous().requires_grad_()
    m(ref).sum().backward()
    torch.testing.assert_close(x.grad, ref.grad)


@pytest.mark.parametrize("name", NORMS)
def test_constant_rows(name):
    # std = 0: the paper's forms divide by eps alone; the formulas' 0/0 terms vanish
    m = build_norm(name, 16)
    x = torch.full((3, 16), 2.5).requires_grad_()
    g = _x(3, 16, dtype=torch.float32)
    out = m(x)
    out.backward(g)
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    centred = g - g.mean(-1, keepdim=True)
    expected = {"layernorm_simple": centred, "detach_std": centred, "adanorm": 2.0 * centred,
                "detach_mean": g, "detachnorm": g}.get(name)
    if expected is not None:
        assert out.abs().max() == 0
        torch.testing.assert_close(x.grad, expected / 1e-5, rtol=1e-5, atol=0)


# ---- low precision --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", NORMS)
def test_low_precision(name, dtype):
    m = _randomize_params(build_norm(name, 64))
    x32 = _x(4, 8, 64, dtype=torch.float32) * 3 + 1
    g32 = _x(4, 8, 64, dtype=torch.float32, seed=1)
    x = x32.to(dtype).requires_grad_()
    out = m(x)
    out.backward(g32.to(dtype))
    assert out.dtype == dtype and x.grad.dtype == dtype
    # the same (rounded) input in float32 gives the same result up to the output's rounding
    ref_x = x.detach().float().requires_grad_()
    ref = m(ref_x)
    ref.backward(g32.to(dtype).float())
    tol = dict(rtol=2e-2, atol=2e-2) if dtype == torch.bfloat16 else dict(rtol=2e-3, atol=2e-3)
    torch.testing.assert_close(out.float(), ref, **tol)
    torch.testing.assert_close(x.grad.float(), ref_x.grad, **tol)
    assert all(p.grad.dtype == torch.float32 for p in m.parameters())


# ---- modules: repr, copies, state dicts -----------------------------------------------------


@pytest.mark.parametrize("name", NORMS)
def test_module_plumbing(name):
    m = build_norm(name, 8)
    assert repr(m).startswith(f"{type(m).__name__}({name}, dim=8")
    rebuilt = build_norm(m.name, m.dim, **m.options())
    assert repr(rebuilt) == repr(m)
    x = _x(3, 8, dtype=torch.float32)
    _randomize_params(m)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        torch.testing.assert_close(clone(x), m(x))
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    rebuilt.load_state_dict(torch.load(buf, weights_only=True))
    torch.testing.assert_close(rebuilt(x), m(x))


def test_repr_shows_options():
    assert repr(build_norm("adanorm", 512, k=0.05)) == \
        "AdaNorm(adanorm, dim=512, scale=2.0, k=0.05, eps=1e-05, std=unbiased, eps_placement=std)"


# ---- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("args, kwargs, words", [
    (("foo", 8), {}, ["unknown norm 'foo'", ", ".join(NORMS)]),
    (("LayerNorm", 8), {}, ["unknown norm 'LayerNorm'"]),
    (("layernorm", 8), dict(k=0.1),
     ["layernorm has no option 'k'", "options: eps, std, eps_placement"]),
    (("none", 8), dict(eps=1e-5), ["none has no option 'eps'", "options: none"]),
    (("adanorm", 8), dict(scale=-1), ["adanorm option 'scale' must be > 0, got -1"]),
    (("adanorm", 8), dict(scale=0.0), ["'scale' must be > 0"]),
    (("adanorm", 8), dict(k=1), ["adanorm option 'k' must be in (0, 0.2236]", "Chebyshev", "got 1"]),
    (("adanorm", 8), dict(k=0), ["'k' must be > 0"]),
    (("adanorm", 8), dict(k=float("nan")), ["'k' must be a finite number"]),
    (("adanorm", 8), dict(k="0.1"), ["'k' must be a finite number"]),
    (("layernorm_simple", 8), dict(std="sample"),
     ["option 'std' must be one of: unbiased, biased, got 'sample'"]),
    (("detachnorm", 8), dict(eps_placement="var"), ["'eps_placement' must be one of: std, variance"]),
    (("layernorm", 8), dict(eps=0), ["layernorm option 'eps' must be > 0"]),
    (("rmsnorm", 8), dict(eps=-1e-6), ["rmsnorm option 'eps'"]),
    (("dyt", 8), dict(alpha_init=-0.5), ["dyt option 'alpha_init' must be > 0"]),
    (("layernorm", 0), {}, ["layernorm dim must be an int >= 1, got 0"]),
    (("adanorm", 1), {}, ["adanorm dim must be an int >= 2, got 1"]),
    (("rmsnorm", 8.0), {}, ["rmsnorm dim must be an int"]),
])
def test_config_errors(args, kwargs, words):
    with pytest.raises(NormConfigError) as err:
        build_norm(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, ValueError)
    for word in words:
        assert word in message


@pytest.mark.parametrize("k", [0.05, 0.1, 0.2])
def test_sweep_values_of_k_are_accepted(k):
    assert build_norm("adanorm", 8, k=k, scale=1.0).k == k


def test_biased_std_allows_dim_one():
    assert build_norm("layernorm_simple", 1, std="biased").dim == 1
