"""The options of ``mmpx train`` and ``mmpx test`` as one object, :class:`RunOptions`, shared by
:func:`~mmpose_ext.apis.train`, :func:`~mmpose_ext.apis.test`, the config they run
(:mod:`mmpose_ext.apis.prepare`) and its edits (:mod:`mmpose_ext.apis.configure`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path


@dataclass(frozen=True)
class RunOptions:
    """The options of :func:`train` and :func:`test` (``mmpx train`` / ``mmpx test``), in one place.

    Shared:
        work_dir: run folder; default ``work_dirs/<config stem>`` (as MMPose's tools).
        cfg_options: ``KEY=VALUE`` overrides.
        trust_checkpoint: load the named checkpoint(s) without the safe-load allow-list.
        preflight: check files, metainfo, annotations and head/keypoint agreement before building anything.
        device: ``cpu`` or ``cuda``; default cuda when available. See :func:`~mmpose_ext.apis.launch.use_device`
            (from Python, prefer ``CUDA_VISIBLE_DEVICES=''`` before importing torch for a CPU run on a GPU host).
        launcher: ``none``, ``pytorch`` or ``slurm`` (``mpi`` on GPUs only): this process is one of several
            started by torchrun / srun. ``mmpx train --nproc N`` starts them for you.
        master_port: with ``launcher='slurm'``, the rendezvous port (``MASTER_PORT``, default 29500).

    Training only:
        resume: ``True``/``"auto"`` resumes from the latest checkpoint in ``work_dir``; a path resumes from it.
        load_from: initial weights (not optimizer state), through :class:`~mmpose_ext.engine.PartialLoadHook`.
        amp: mixed precision (``AmpOptimWrapper``).
        seed, deterministic: ``cfg.randomness`` (mmengine's ``set_randomness``).
        no_validate: no validation during training (as MMPose's ``tools/train.py --no-validate``).
        auto_scale_lr: scale the learning rate by batch size / ``auto_scale_lr.base_batch_size``.
        freeze: :class:`~mmpose_ext.engine.FreezeHook` patterns (``backbone``, ``backbone:2``, globs).
        progress: add :class:`~mmpose_ext.engine.ProgressHook`; default: when stderr is a terminal.
        vis: mmengine visualisation backends to add (``tensorboard``, ``wandb``, ``mlflow``); the local
            ``scalars.json`` is always written.

    Testing only:
        dump: write every prediction to this pickle (MMPose's ``tools/test.py --dump``).
        show_dir: draw the predictions on every test image into this folder.
        outputs: other paths the caller will write (option -> path, e.g. ``{"--out": "metrics.json"}``), checked
            with the others against what the config reads before the run starts.
    """

    work_dir: str | Path | None = None
    cfg_options: list[str] | None = None
    trust_checkpoint: bool = False
    preflight: bool = True
    device: str | None = None
    launcher: str = "none"
    master_port: int | None = None
    resume: str | bool | None = None
    load_from: str | Path | None = None
    amp: bool = False
    seed: int | None = None
    deterministic: bool = False
    no_validate: bool = False
    auto_scale_lr: bool = False
    freeze: list[str] | None = None
    progress: bool | None = None
    vis: list[str] | None = None
    dump: str | Path | None = None
    show_dir: str | Path | None = None
    outputs: dict | None = None

    @classmethod
    def of(cls, options: RunOptions | None = None, **changes) -> RunOptions:
        """``options`` (default: all defaults) with ``changes``; an unknown name is a TypeError naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(options or cls(), **changes)


__all__ = ["RunOptions"]
