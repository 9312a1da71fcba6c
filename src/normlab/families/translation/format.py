"""The translation family's on-disk format: fairseq's own binarized translation data (read by fairseq's
built-in translation task), plus the detokenized test references that sacreBLEU scores against."""

TEXT = "text"  # text/{split}.{lang}: what was binarized
BIN = "bin"  # fairseq-preprocess --joined-dictionary output
TEST_REF_PREFIX = "test.ref."  # test.ref.<tgt>: detokenized references aligned with bin/test.*
META = "meta.json"
