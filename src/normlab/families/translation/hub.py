"""`dataset.source=hf` for WMT14 En-De: the hub's wmt/wmt14 (config de-en, a `translation` column of
{de, en} pairs) through the same steps as prepare-wmt14en2de.sh --icml17 (canonical.Wmt14): punctuation
normalized, non-printing characters removed, tokenized with -a, 40k joint BPE, train and valid cleaned
after BPE. The hub's validation split is newstest2013, not every 100th training pair: a deviation."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Mapping

from normlab.data import hub
from normlab.data.progress import track
from normlab.data.text import lowercase, moses_tokenize, parallel_map, write_lines
from normlab.families.translation.canonical import Wmt14, wmt_train_chunk
from normlab.families.translation.common import Recipe
from normlab.families.translation.spec import Built, DatasetInfo, Log, Spec


class Hub(Recipe):
    def __init__(self, info: DatasetInfo, source, spec: Mapping[str, Any], cache_dir: Path):
        super().__init__(info)
        self.source, self.spec, self.cache_dir = source, dict(spec), Path(cache_dir)

    def inputs(self, spec: Spec, raw: Path) -> Any:
        return {"mode": "hf", **hub.identity(self.source, self.spec)}

    def acquire(self, spec: Spec, raw: Path, log: Log) -> None:
        hub.local_folder(self.spec)  # a named folder must exist; the hub is read in build

    def build(self, spec: Spec, raw: Path, text: Path, scratch: Path, log: Log) -> Built:
        s, t = spec.source_lang, spec.target_lang
        work = scratch / "work"
        refs: list[str] = []
        for split, data in hub.load(self.source, self.spec, self.cache_dir, log).items():
            (pairs,) = hub.columns(data, self.source, "translation")
            if split == "train" and spec.max_train_pairs:
                pairs = pairs[: spec.max_train_pairs]
            for x in (s, t):
                side = [pair[x] for pair in pairs]
                if split == "test":
                    tokenized = moses_tokenize([seg.replace("’", "'") for seg in side], x, aggressive=True)
                    if x == t:
                        refs = [" ".join(seg.split()) for seg in side]
                else:
                    tokenized = list(track(parallel_map(partial(wmt_train_chunk, x), side, spec.workers),
                                           f"tokenizing {split}.{x}", total=len(side)))
                write_lines(work / f"{split}.{x}", lowercase(tokenized) if spec.lowercase else tokenized)
        bpe = Wmt14._bpe(spec, work, text, log)
        return Built(lowercase(refs) if spec.lowercase else refs, bpe,
                     notes=[f"from the Hugging Face hub: {self.source.id}"],
                     test_ref_kind="the hub's raw test segments" + (", lowercased" if spec.lowercase else ""))

    def deviations(self, counts: Mapping[str, int]) -> list[str]:
        return [f"WMT14 from the Hugging Face hub ({self.source.id}, {self.source.config}): valid is its "
                f"validation split (newstest2013, {counts.get('valid', 0):,} pairs after cleaning), not every "
                "100th training pair as prepare-wmt14en2de.sh takes it; train is all of the hub's training "
                f"pairs ({counts.get('train', 0):,} after cleaning)"]
