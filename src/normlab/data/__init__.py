"""Translation data: prepared, cached and binarized for fairseq (see translation.py for the layout)."""

from normlab.data.binarize import binarize_translation
from normlab.data.synthetic import write_synthetic_translation
from normlab.data.translation import DATASETS, DataMissingError, PreparedTranslation, prepare_translation

__all__ = [
    "DATASETS",
    "DataMissingError",
    "PreparedTranslation",
    "binarize_translation",
    "prepare_translation",
    "write_synthetic_translation",
]
