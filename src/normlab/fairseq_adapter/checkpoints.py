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


def load_checkpoint(checkpoint, data_bin, cpu: bool = False):
    """(model in eval mode, fairseq cfg, task, on_cuda) from a normlab checkpoint, its data path
    replaced by `data_bin` so that a moved data cache still works. The task must be registered
    (its family imported) first. The model goes to the GPU when there is one, unless `cpu`."""
    from fairseq import checkpoint_utils

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)], arg_overrides={"data": str(data_bin)})
    model = models[0].eval()
    use_cuda = torch.cuda.is_available() and not cpu
    if use_cuda:
        model = model.cuda()
    return model, cfg, task, use_cuda
