"""Run under torchrun: train with the given trainer kind/config, then dump this rank's weights."""
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)

from tonecraft.train import distributed  # noqa: E402
from tonecraft.train.run_config import load_run_config, trainer_classes  # noqa: E402

kind, cfg_path, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
cfg = load_run_config(kind, cfg_path, None, sys.argv[4:])
trainer = trainer_classes(kind)[1](cfg)
trainer.fit()
states = {f"{n}.{k}": v.detach().cpu() for n, m in trainer.modules.items()
          for k, v in distributed.unwrap(m).state_dict().items()}
torch.save(states, out / f"rank{trainer.dist.rank}.pt")
distributed.cleanup()
