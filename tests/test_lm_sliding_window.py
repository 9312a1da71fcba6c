"""enwik8 evaluation with overlapping context: the windows' coverage and context, and the sliding-window NLL
of a tiny LM against a direct loop that scores every byte alone with its full allowed context."""

from __future__ import annotations

import math

import pytest
import torch

import normlab.plugin  # noqa: F401
from normlab.families.base import Paths
from normlab.families.language_model.sliding import sliding_window_nll, windows

TINY_LM = ["--arch", "norm_transformer_lm", "--decoder-layers", "2", "--decoder-embed-dim", "32",
           "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2"]


@pytest.mark.parametrize("n, length, stride", [(1, 8, 4), (7, 8, 4), (8, 8, 4), (9, 8, 4), (100, 16, 8),
                                               (103, 16, 8), (50, 10, 3), (64, 16, 16)])
def test_windows_tile_the_stream_and_give_each_byte_half_a_block(n, length, stride):
    spans = windows(n, length, stride)
    scored = [p for _, end, first in spans for p in range(first, end)]
    assert scored == list(range(n))  # every target once, in order
    for i, (start, end, first) in enumerate(spans):
        assert 0 <= start <= first < end <= n and end - start <= length
        if i:  # after the first window every scored target has at least length - stride inputs before it
            assert first - start >= length - stride
    assert spans[-1][1] == n


def reference_nll(model, stream, length, stride, eos) -> list[float]:
    """-log p(byte p) for every p, each from its own forward pass over exactly its allowed context:
    the inputs from the start of the first window (starts 0, S, 2S, ..., and one ending at N) holding p."""
    n = len(stream)
    inputs = [eos, *stream[:-1]]
    starts = list(range(0, max(n - length, 0) + 1, stride))
    if starts[-1] + length < n:
        starts.append(n - length)
    out = []
    with torch.no_grad():
        for p in range(n):
            s = min(s for s in starts if s <= p < s + length)
            if p >= length:
                assert p - s >= length - stride
            logits = model(torch.tensor([inputs[s:p + 1]]))[0]
            lprobs = model.get_normalized_probs((logits,), log_probs=True)[0, -1]
            out.append(-float(lprobs[stream[p]]))
    return out


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from fairseq import options, tasks

    from normlab.families.language_model import FAMILY

    root = tmp_path_factory.mktemp("lm")
    spec = {"name": "quick_enwik8", "recipe": "generated", "tokens_per_sample": 16,
            "synthetic": {"n_train": 2000, "n_valid": 200, "n_test": 200}}
    prepared = FAMILY.prepare(spec, Paths(raw=root / "raw", data=root / "data"), log=lambda _: None)
    args = options.parse_args_and_arch(options.get_training_parser(),
                                       input_args=[*FAMILY.task_args(spec, prepared), *TINY_LM, "--norm", "adanorm"])
    task = tasks.setup_task(args)
    torch.manual_seed(0)
    return task.build_model(args).eval(), task.dictionary


def test_sliding_window_nll_equals_a_direct_loop_over_every_byte(tiny_lm):
    model, vocab = tiny_lm
    g = torch.Generator().manual_seed(1)
    stream = (torch.randint(4, len(vocab), (77,), generator=g)).tolist()
    stream[30] = stream[60] = vocab.eos()  # newlines are </s> inside the stream
    length, stride = 16, 8
    rows = sliding_window_nll(model, stream, length, stride, vocab.eos(), batch_windows=3)
    direct = reference_nll(model, stream, length, stride, vocab.eos())
    spans = windows(len(stream), length, stride)
    assert [n for _, n in rows] == [end - first for _, end, first in spans]
    for (nll, _), (_, end, first) in zip(rows, spans):
        assert nll == pytest.approx(sum(direct[first:end]), rel=1e-5, abs=1e-5)
    bpc = sum(r[0] for r in rows) / len(stream) / math.log(2)
    assert bpc == pytest.approx(sum(direct) / len(stream) / math.log(2), rel=1e-6)

    # Context matters to this model, so the check above could fail: non-overlapping blocks score differently.
    blocks = sliding_window_nll(model, stream, length, length, vocab.eos())
    assert abs(sum(r[0] for r in blocks) - sum(direct)) > 1e-3
