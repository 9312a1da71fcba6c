"""Sliding-window scoring of a byte stream: every scored byte sees at least half a block of context.

The test split is one stream of N tokens (format.py: a byte per token, newline = </s>), predicted from the
input X = [</s>] + stream[:-1] (the first token is predicted from </s>, as fairseq's blocks start).
Windows of L = tokens_per_sample inputs start at 0, S, 2S, ... (stride S = L/2 by default), and a last one
ends at N. Each target is scored once, in the first window that holds it: the first window scores all its
L targets (contexts 1..L tokens, as a model that starts at the beginning of the text must), every later
window only the targets after the previous window's end, so each of those sees at least L - S inputs
before it. Non-overlapping blocks, as training reads them, would give the bytes an average context of
about L/2; here it is about L - S/2 (384 bytes for L = 512), still short of Transformer-XL's recurrent
memory, which the paper's model had and this one has not.
"""

from __future__ import annotations

from typing import Sequence


def windows(n: int, length: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, first scored target) of each window over n targets; ends are exclusive and the scored
    ranges [first, end) tile [0, n) in order."""
    if n <= 0:
        raise ValueError("sliding windows over an empty stream")
    if not 0 < stride <= length:
        raise ValueError(f"stride must be in 1..tokens_per_sample ({length}), got {stride}")
    out, scored, start = [], 0, 0
    while scored < n:
        start = min(start, max(0, n - length))  # the last window ends at n, not after it
        end = min(start + length, n)
        out.append((start, end, scored))
        scored, start = end, start + stride
    return out


def sliding_window_nll(model, stream, length: int, stride: int, eos: int, batch_windows: int = 32,
                       device=None) -> list[tuple[float, int]]:
    """[(NLL in nats, targets scored)] per window (in stream order) of `model` (a fairseq decoder-only LM in
    eval mode) over `stream` (1-D token ids)."""
    import torch

    stream = torch.as_tensor(stream, dtype=torch.long)
    inputs = torch.cat([stream.new_tensor([eos]), stream[:-1]])
    spans = windows(len(stream), length, stride)
    out: list[tuple[float, int]] = []
    with torch.no_grad():
        for i in range(0, len(spans), batch_windows):
            chunk = spans[i:i + batch_windows]
            # all windows have `length` inputs but a lone first one over a stream shorter than that
            by_size: dict[int, list[int]] = {}
            for j, (start, end, _) in enumerate(chunk):
                by_size.setdefault(end - start, []).append(j)
            results: dict[int, tuple[float, int]] = {}
            for size, members in by_size.items():
                src = torch.stack([inputs[chunk[j][0]:chunk[j][1]] for j in members])
                tgt = torch.stack([stream[chunk[j][0]:chunk[j][1]] for j in members])
                if device is not None:
                    src, tgt = src.to(device), tgt.to(device)
                logits = model(src)[0]
                lprobs = model.get_normalized_probs((logits,), log_probs=True).float()
                nll = -lprobs.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
                for row, j in enumerate(members):
                    start, end, first = chunk[j]
                    results[j] = (float(nll[row, first - start:].sum()), end - first)
            out.extend(results[j] for j in range(len(chunk)))
    return out


def stream_of(dataset: Sequence) -> "torch.Tensor":  # noqa: F821
    """The test split's items (lines ending in </s>) back into one token stream."""
    import torch

    return torch.cat([dataset[i].long() for i in range(len(dataset))])
