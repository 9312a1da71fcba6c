"""Let torch >= 2.6's safe checkpoint loading (weights_only=True) read fairseq 0.12 checkpoints.

fairseq 0.12 pickles its legacy model arguments (an argparse.Namespace inside cfg["model"]) into
every checkpoint, so resuming from checkpoint_last.pt and fairseq-generate fail under the new
default. We allow exactly the globals those checkpoints hold, found with
torch.serialization.get_unsafe_globals_in_checkpoint on checkpoints of every normlab model;
weights_only stays on, so anything else in a checkpoint is still refused.
"""

import argparse

import torch

FAIRSEQ_CHECKPOINT_GLOBALS = [argparse.Namespace]

torch.serialization.add_safe_globals(FAIRSEQ_CHECKPOINT_GLOBALS)
