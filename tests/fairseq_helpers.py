"""Tiny fairseq translation runs for the tests."""

from __future__ import annotations

from pathlib import Path

from normlab.fairseq_adapter import run as fairseq_run

TINY_MODEL = [
    "--encoder-layers", "2", "--decoder-layers", "2",
    "--encoder-embed-dim", "16", "--decoder-embed-dim", "16",
    "--encoder-ffn-embed-dim", "32", "--decoder-ffn-embed-dim", "32",
    "--encoder-attention-heads", "2", "--decoder-attention-heads", "2",
]


def parse_train_args(data: Path | str, *extra: str):
    return fairseq_run.parse_train_args([data, *extra])


def train(data: Path, save_dir: Path, *extra: str) -> None:
    fairseq_run.train([
        data, "--task", "translation", "--arch", "norm_transformer_iwslt_de_en", *TINY_MODEL,
        "--optimizer", "adam", "--lr", "0.002", "--max-tokens", "2000", "--seed", "1",
        "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1",
        "--save-dir", save_dir, "--no-progress-bar", "--log-format", "simple", "--num-workers", "0",
        "--no-epoch-checkpoints", "--cpu", *extra,
    ])


def generate(data: Path, checkpoint: Path, *extra: str):
    return fairseq_run.generate([
        data, "--path", checkpoint, "--beam", "2", "--max-len-a", "1", "--max-len-b", "4",
        "--batch-size", "32", "--gen-subset", "test", "--num-workers", "0", "--cpu", *extra])
