"""A plain (non-editable) wheel carries its configs: it composes a job from outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_installed_wheel_composes_a_job_from_any_folder(tmp_path):
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(REPO)],
                   check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("normlab-*.whl"))
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "NORMLAB_HOME": str(tmp_path / "home")}
    code = "import normlab, sys; print(normlab.__file__); sys.argv[1:] = sys.argv[1:]; from normlab.train import main; main()"
    out = subprocess.run([sys.executable, "-c", code, "dataset=rt", "norm=adanorm", "--cfg", "job"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0].startswith(str(site))  # the installed copy, not the checkout
    assert "name: adanorm" in out and "name: rt" in out and "family: classification" in out
