"""The Docker image is built by the same install recipe as `make`, on a pinned base, hadolint-clean."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_pinned_pytorch_cuda_base_and_one_install_recipe():
    base = re.search(r"^FROM (\S+)", DOCKERFILE, re.M).group(1)
    assert re.fullmatch(r"pytorch/pytorch:\d+\.\d+\.\d+-cuda[\d.]+-cudnn\d+-runtime", base)
    assert "bash scripts/install.sh" in DOCKERFILE  # the Makefile's recipe, not a copy of it
    assert re.search(r"^USER 1000", DOCKERFILE, re.M)  # not root
    assert "import torch, fairseq, normlab.plugin" in DOCKERFILE  # the build fails loudly


def test_dockerignore_keeps_local_state_out():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "outputs", "wandb"} <= set(ignored)


def test_hadolint_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (it comes with requirements.lock)")
    out = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
