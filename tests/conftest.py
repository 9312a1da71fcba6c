import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data samples beside the checkout (../shared/data), or a skip saying why not."""
    root = Path(os.environ.get("NORMLAB_RAW_DIR") or SHARED_DATA)
    if not (root / "README.md").exists():
        pytest.skip(f"real data samples not found at {root}: set NORMLAB_RAW_DIR or place shared/ beside the checkout")
    return root


@pytest.fixture(scope="session")
def tiny_translation_bin(tmp_path_factory) -> Path:
    """A small generated parallel corpus, binarized with a joined dictionary."""
    from normlab.data.binarize import binarize_translation
    from normlab.families.translation.generated import write_synthetic_translation

    root = tmp_path_factory.mktemp("tiny_translation")
    text = write_synthetic_translation(root / "text", n_train=200, n_valid=24, n_test=24, seed=0)
    return binarize_translation(text, root / "bin", "src", "tgt")
