"""`tonecraft train ...`: train a codec or a language model.

    tonecraft train codec -c configs/codec_tiny.yaml [key.sub=value ...]
    tonecraft train lm -c configs/lm_finetune.yaml optim.lr=5e-5 run.out_dir=runs/ft
    tonecraft train lm --resume runs/ft              # continue exactly where the run stopped
    tonecraft train export runs/ft [-o DIR]           # write the loadable folder from the latest checkpoint
    tonecraft train defaults lm                       # print the full default config as YAML

Several processes / machines: `torchrun --nproc_per_node N -m tonecraft.cli train lm -c cfg.yaml`
(gloo on CPU, nccl on GPU; `run.batch_size` is the global batch).
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ..errors import CheckpointError, ConfigError, Interrupted
from ..train.run_config import load_run_config, trainer_classes


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="train_command", metavar="ACTION")
    for kind, text in (("codec", "train a neural audio codec (EnCodec recipe)"),
                       ("lm", "train or fine-tune a MusicGen / AudioGen language model")):
        s = sub.add_parser(kind, help=text, description=text)
        s.add_argument("-c", "--config", help="YAML config file")
        s.add_argument("--resume", nargs="?", const="", default=None, metavar="RUN_DIR",
                       help="continue from the run folder's checkpoint (RUN_DIR, or run.out_dir of the config); "
                            "starts fresh when there is no checkpoint yet")
        s.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")
    e = sub.add_parser("export", help="export the latest checkpoint of a run to a loadable folder")
    e.add_argument("run_dir")
    e.add_argument("-o", "--output", help="output folder (default RUN_DIR/export)")
    d = sub.add_parser("defaults", help="print the default config of a trainer as YAML")
    d.add_argument("kind", choices=["codec", "lm"])
    p.set_defaults(_train_parser=p)


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "train_command", None)
    if cmd in ("codec", "lm"):
        return _run_train(args)
    if cmd == "export":
        return _run_export(args)
    if cmd == "defaults":
        import yaml

        from ..train.config import to_dict

        cfg_cls = trainer_classes(args.kind)[0]
        sys.stdout.write(yaml.safe_dump(to_dict(cfg_cls()), sort_keys=False))
        return 0
    args._train_parser.print_help()
    return 2


def _run_train(args) -> int:
    from ..train import distributed

    if args.resume and "=" in args.resume:  # `--resume key=value ...`: the flag form, then overrides
        args.overrides = [args.resume, *args.overrides]
        args.resume = ""

    cfg = load_run_config(args.train_command, args.config, args.resume, args.overrides)
    trainer_cls = trainer_classes(args.train_command)[1]
    ckpt = Path(cfg.run.out_dir) / "checkpoint.pt"
    resume = args.resume is not None and ckpt.exists()
    if args.resume is None and ckpt.exists():
        raise ConfigError(f"{cfg.run.out_dir} already holds a checkpoint: pass --resume to continue it, "
                          "or choose another run.out_dir")
    try:
        trainer = trainer_cls(cfg, resume=resume)
        trainer.fit()
    finally:
        distributed.cleanup()
    if trainer.stop_signal is not None:  # not a success: the caller (scheduler, script) must see it
        name = signal.Signals(trainer.stop_signal).name
        raise Interrupted(f"stopped at step {trainer.step} by {name}, checkpoint saved in {cfg.run.out_dir}; "
                          "continue with --resume", trainer.stop_signal)
    return 0


def _run_export(args) -> int:
    from ..train.checkpoint import load_checkpoint

    run_dir = Path(args.run_dir)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    kind = state.get("kind")
    if kind not in ("codec", "lm"):
        raise CheckpointError(f"{run_dir}: unknown checkpoint kind {kind!r}")
    from ..train.config import from_dict

    cfg_cls, trainer_cls = trainer_classes(kind)
    cfg = from_dict(cfg_cls, state["config"])
    cfg.run.device = "cpu"
    cfg.run.out_dir = str(run_dir)
    trainer = trainer_cls(cfg, resume=True, write_config=False)
    out = trainer.export(args.output)
    print(f"exported step {trainer.step} to {out}")
    return 0
