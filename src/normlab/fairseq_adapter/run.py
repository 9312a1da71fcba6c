"""fairseq training and generation in this process, from a list of command-line arguments."""

from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence


def to_argv(options: Mapping[str, Any]) -> list[str]:
    """{'max_tokens': 4096, 'share_all_embeddings': True, 'adam_betas': '(0.9,0.98)'} -> fairseq flags.

    True is a bare flag; False and None leave the option out (fairseq's default applies).
    """
    argv = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + str(key).replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


@contextmanager
def fairseq_hydra() -> Iterator[None]:
    """Let fairseq compose its own Hydra config inside a running Hydra app, then put ours back.

    fairseq 0.12's convert_namespace_to_omegaconf clears the global Hydra instance and uses
    hydra.experimental.initialize, which refuses to run once an app declared version_base >= 1.2.
    """
    from hydra import version
    from hydra.core.global_hydra import GlobalHydra

    base = version.VersionBase.instance()
    saved_base = base.version_base
    saved_hydra = GlobalHydra.instance().hydra
    version.setbase("1.1")
    try:
        yield
    finally:
        base.version_base = saved_base
        GlobalHydra.instance().clear()
        if saved_hydra is not None:
            GlobalHydra.instance().initialize(saved_hydra)


def to_config(args):
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    with fairseq_hydra():
        restore_fairseq_configs()
        return convert_namespace_to_omegaconf(args)


def restore_fairseq_configs() -> None:
    """Put fairseq's config nodes back into Hydra's ConfigStore before fairseq composes from it.

    fairseq stores them once, when its modules are imported. Hydra's joblib launcher replaces the
    ConfigStore of a worker process with the sweep parent's (which never imported fairseq) at every
    job, so a worker's second job would find no 'lr_scheduler/fixed' and fail. Storing the same
    nodes again is idempotent and takes milliseconds.
    """
    from fairseq.dataclass.initialize import hydra_init
    from fairseq.models import MODEL_DATACLASS_REGISTRY
    from fairseq.registry import REGISTRIES
    from fairseq.tasks import TASK_DATACLASS_REGISTRY
    from hydra.core.config_store import ConfigStore

    hydra_init()
    store = ConfigStore.instance()
    groups = {name: registry["dataclass_registry"] for name, registry in REGISTRIES.items()}
    groups.update(task=TASK_DATACLASS_REGISTRY, model=MODEL_DATACLASS_REGISTRY)
    for group, dataclasses in groups.items():
        for name, dataclass in dataclasses.items():
            node = dataclass()
            node._name = name
            store.store(name=name, group=group, node=node, provider="fairseq")


def device_argv(world_size: int | None, say=print) -> list[str]:
    """fairseq's device and distributed flags for a single-task job, decided here rather than by fairseq.

    `world_size` is trainer.distributed_world_size: 0 trains on the CPU (launcher=slurm sets it from
    hydra.launcher.gpus_per_node), None on every GPU this process sees, N on N of them. The flags are
    always explicit because fairseq's distributed_utils.infer_init_method otherwise reacts to the
    SLURM_* variables of any job that isn't exactly 1 GPU: it takes the world size from
    torch.cuda.device_count(), which is 0 in a CPU job, and then "trains" by spawning 0 processes
    (the log ends at `Rank 0, device_id: 0`, there is no checkpoint_best.pt). With the world size
    given, it never looks at SLURM: 1 returns early, and N > 1 comes with its own init method.
    """
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if world_size == 0 or gpus == 0:
        return ["--cpu", "--distributed-world-size", "1"]
    n = gpus if world_size is None else int(world_size)
    if n > gpus:
        say(f"asked for {n} GPUs, this job sees {gpus}: training on {gpus}")
        n = gpus
    if n <= 1:
        return ["--distributed-world-size", "1"]
    port = _free_port()  # one node, one process per GPU, spawned by fairseq
    return ["--distributed-world-size", str(n), "--distributed-init-method", f"tcp://localhost:{port}",
            "--distributed-port", str(port)]


def check_single_task() -> None:
    """Each job is one process (which spawns one per GPU); several SLURM tasks would each run the job."""
    tasks = int(os.environ.get("SLURM_NTASKS") or 1) if os.environ.get("SLURM_JOB_ID") else 1
    if tasks > 1:
        raise ValueError(f"this SLURM job has {tasks} tasks; normlab runs one task per job: set "
                         "hydra.launcher.tasks_per_node=1 hydra.launcher.nodes=1 (fairseq uses all the GPUs of that task)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checkpoint_damage(path) -> str | None:
    """Why the fairseq checkpoint `path` can't be loaded (one line), or None if it reads back whole.

    torch.save writes a zip archive: a truncated file has no central directory, garbage is no zip,
    and every member's CRC is checked, streaming, without unpickling (cheap next to a training epoch).
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except FileNotFoundError:
        return "missing"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return f"unreadable: {err}"
    return f"member {bad} fails its CRC check" if bad else None


def parse_train_args(argv: Sequence[str]):
    import normlab.fairseq_adapter  # noqa: F401  (registers the models before fairseq parses --arch)
    from fairseq import options

    args = options.parse_args_and_arch(options.get_training_parser(), input_args=list(map(str, argv)))
    _bf16_without_tpu(args, argv)
    return args


def _bf16_without_tpu(args, argv) -> None:
    # fairseq 0.12 reads --bf16 as "implies --tpu" (its bf16 path was written for TPUs) and would then
    # look for torch_xla. Its trainer handles bf16 on CUDA and CPU as it is, so unless --tpu was asked
    # for, bf16 trains on the device the job has.
    if getattr(args, "bf16", False) and "--tpu" not in list(map(str, argv)):
        args.tpu = False


def check_train_args(argv: Sequence[str]) -> None:
    """Parse ARGV as fairseq-train would, and turn its usage wall into one ValueError line (the
    offending argument and what is wrong with it)."""
    import contextlib
    import io

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            parse_train_args(argv)
    except SystemExit as stop:
        if isinstance(stop.code, str):  # normlab's own checks exit with their message
            raise ValueError(stop.code) from None
        errors = [line for line in captured.getvalue().splitlines() if ": error: " in line]
        message = errors[-1].split(": error: ", 1)[1] if errors else captured.getvalue().strip().splitlines()[-1:]
        raise ValueError(f"fairseq refuses the job's arguments: {message}") from None


def train(argv: Sequence[str]) -> None:
    """fairseq-train ARGV, in-process."""
    from fairseq import checkpoint_utils, distributed_utils
    from fairseq_cli import train as fairseq_train

    args = parse_train_args(argv)
    slurm = os.environ.get("SLURM_JOB_ID")
    if os.environ.get("SLURM_ARRAY_JOB_ID"):  # as squeue shows it
        slurm = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID')}"
    where = f", SLURM job {slurm} (restart {os.environ.get('SLURM_RESTART_COUNT', '0')})" if slurm else ""
    logging.getLogger(__name__).info(f"device: {'cpu' if args.cpu else 'cuda'}, "
                                     f"distributed world size {args.distributed_world_size}{where}")
    # fairseq keeps the best validation loss so far on a function attribute; a second job in the
    # same process (a multirun, a test session) would otherwise compare against the first job's
    # best and never write its own checkpoint_best.pt. Resuming restores it from the checkpoint.
    if hasattr(checkpoint_utils.save_checkpoint, "best"):
        del checkpoint_utils.save_checkpoint.best
    distributed_utils.call_main(to_config(args), fairseq_train.main)


def generate(argv: Sequence[str]):
    """fairseq-generate ARGV, in-process; returns fairseq's scorer."""
    import normlab.fairseq_adapter  # noqa: F401
    from fairseq import options
    from fairseq_cli import generate as fairseq_generate

    args = options.parse_args_and_arch(options.get_generation_parser(), input_args=list(map(str, argv)))
    return fairseq_generate.main(to_config(args))
