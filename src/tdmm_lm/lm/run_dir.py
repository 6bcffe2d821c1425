"""The training run's folder: its stored config, its JSON-lines log and the checks on both.

:func:`check_run_dir` refuses to overwrite a run and refuses to resume one with other
settings; :class:`RunLog` appends ``train_log.jsonl`` (and TensorBoard scalars when it is
installed); :func:`params_digest` fingerprints the weights, to check that processes of a
distributed run stayed in sync. :func:`start_from` and :func:`freeze_except` begin a run from a
trained model (``TrainConfig.init_from``, ``train_only``).
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
    "freeze_except",
    "params_digest",
    "start_from",
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


def start_from(lm: torch.nn.Module, model_dir: Path) -> list[str]:
    """Load a trained model's weights into ``lm``; return the names it did not hold.

    Those keep ``lm``'s initialisation: a part the new config adds. Stored half-precision
    weights (a shipped model) are cast to ``lm``'s dtype.

    Raises:
        InvalidInputError: No weights in ``model_dir``, or weights ``lm`` has no place for
            or of another shape (another architecture).
    """
    from safetensors.torch import load_file

    path = model_dir / "model.safetensors"
    if not path.is_file():
        raise InvalidInputError(f"init_from {model_dir}: no model.safetensors in it")
    own = lm.state_dict()
    stored = load_file(str(path))
    foreign = sorted(k for k, v in stored.items() if k not in own or own[k].shape != v.shape)
    if foreign:
        raise InvalidInputError(
            f"init_from {model_dir}: its weights do not fit this model ({', '.join(foreign[:5])})"
        )
    lm.load_state_dict({k: v.to(own[k].dtype) for k, v in stored.items()}, strict=False)
    return sorted(set(own) - set(stored))


def freeze_except(lm: torch.nn.Module, prefixes: tuple[str, ...]) -> int:
    """Stop gradients to every parameter not named by a prefix; return the count left.

    Raises:
        InvalidInputError: No parameter matches the prefixes.
    """
    trained = 0
    for name, param in lm.named_parameters():
        param.requires_grad_(name.startswith(prefixes))
        trained += param.numel() if param.requires_grad else 0
    if not trained:
        raise InvalidInputError(f"train_only {list(prefixes)}: no weight of the model matches")
    return trained
