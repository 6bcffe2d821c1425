"""The training run's folder: its stored config, its JSON-lines log and the checks on both.

:func:`check_run_dir` refuses to overwrite a run and refuses to resume one with other
settings; :class:`RunLog` appends ``train_log.jsonl`` (and TensorBoard scalars when it is
installed); :func:`params_digest` fingerprints the weights, to check that processes of a
distributed run stayed in sync.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.lm.checkpoint import latest_checkpoint
from tdmm_lm.lm.recipes import TrainConfig

__all__ = [
    "CACHE_DIR",
    "LOG_NAME",
    "TRAIN_CONFIG_NAME",
    "RunLog",
    "check_run_dir",
    "params_digest",
]

log = logging.getLogger(__name__)

TRAIN_CONFIG_NAME = "train_config.json"
LOG_NAME = "train_log.jsonl"
CACHE_DIR = "cache"


class RunLog:
    """Appends JSON lines to ``train_log.jsonl`` (and scalars to TensorBoard if installed)."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.path = run_dir / LOG_NAME
        self.enabled = enabled
        self.start = time.time()
        self.board = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.board = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:  # TensorBoard is optional
                pass

    def write(self, event: str, step: int, **values: Any) -> None:
        """Log one event with its values."""
        if not self.enabled:
            return
        record = {"event": event, "step": step, "wall_s": round(time.time() - self.start, 2)}
        record.update(values)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.board.add_scalar(f"{event}/{key}", value, step)
        log.info("%s step %d %s", event, step, values)


def check_run_dir(cfg: TrainConfig, resume: bool) -> Path | None:
    """Validate the output folder; return the checkpoint to resume from, if any."""
    out = Path(cfg.output)
    stored_path = out / TRAIN_CONFIG_NAME
    if not resume:
        if stored_path.exists() or latest_checkpoint(out) is not None:
            raise InvalidInputError(
                f"{out} already holds a training run; pass --resume to continue it, or "
                "choose another -o"
            )
        return None
    if stored_path.exists():
        stored = TrainConfig.from_dict(json.loads(stored_path.read_text()))
        conflicts = cfg.resume_conflicts(stored)
        if conflicts:
            raise InvalidInputError(
                f"cannot resume {out} with other settings ({'; '.join(conflicts)})"
            )
    return latest_checkpoint(out)


def params_digest(module: torch.nn.Module) -> str:
    """SHA-256 of a module's parameters (to check that processes stayed in sync)."""
    h = hashlib.sha256()
    for name, p in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
