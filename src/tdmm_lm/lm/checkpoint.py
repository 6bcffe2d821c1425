"""Training checkpoints as safetensors + JSON (never pickles).

A checkpoint is a folder ``RUN/checkpoints/step-{step:07d}/``::

    model.safetensors       the model's state dict (tensors that share memory stored once)
    optimizer.safetensors   every tensor of the optimizer state, plus the RNG states of
                            every process (``rng.torch`` (world, n) uint8)
    state.json              step, the optimizer's non-tensor state, aliases of shared
                            tensors, and whatever the trainer adds (e.g. the best val loss)

It is written to a temporary folder that is renamed into place, so a checkpoint folder is
complete or absent; older checkpoints are deleted only after the new one has landed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch

__all__ = ["latest_checkpoint", "load_checkpoint", "save_checkpoint", "split_shared"]

CHECKPOINT_DIR = "checkpoints"
_PREFIX = "step-"


def split_shared(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
    """Keep one name per storage (safetensors refuses aliases); return name -> kept name."""
    kept: dict[str, torch.Tensor] = {}
    seen: dict[tuple[int, tuple, tuple], str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        if key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        kept[name] = tensor.detach().contiguous().cpu().clone()
    return kept, aliases


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state dict -> (tensors, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"state.{index}.{name}"] = value.detach().contiguous().cpu().clone()
            else:
                plain.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "plain": plain}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], rest: dict) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith("state."):
            continue
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, slots in rest["plain"].items():
        state.setdefault(int(index), {}).update(slots)
    return {"state": state, "param_groups": rest["param_groups"]}


def save_checkpoint(
    run_dir: Path,
    step: int,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    rng_states: torch.Tensor,
    extra: dict[str, Any] | None = None,
    keep: int = 1,
) -> Path:
    """Write ``run_dir/checkpoints/step-{step}`` atomically and drop older checkpoints.

    Args:
        run_dir: The run (model) directory.
        step: Optimisation steps done.
        model_state: The (unwrapped) model's state dict.
        optimizer_state: The optimizer's state dict.
        rng_states: (world, n) uint8 torch RNG states, one row per process.
        extra: JSON-able trainer state.
        keep: Checkpoints to keep (the newest).

    Returns:
        The checkpoint folder.
    """
    from safetensors.torch import save_file

    root = Path(run_dir) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{_PREFIX}{step:07d}"
    staging = root / f".tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        weights, aliases = split_shared(model_state)
        save_file(weights, str(staging / "model.safetensors"))
        opt_tensors, opt_rest = _flatten_optimizer(optimizer_state)
        opt_tensors["rng.torch"] = rng_states.to(torch.uint8).contiguous()
        save_file(opt_tensors, str(staging / "optimizer.safetensors"))
        state = {"step": step, "aliases": aliases, "optimizer": opt_rest, "extra": extra or {}}
        (staging / "state.json").write_text(json.dumps(state, indent=1))
        if target.exists():  # a re-run of the same step: replace it
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    for old in sorted(root.glob(f"{_PREFIX}*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    root = Path(run_dir) / CHECKPOINT_DIR
    found = sorted(p for p in root.glob(f"{_PREFIX}*") if (p / "state.json").exists())
    return found[-1] if found else None


def load_checkpoint(
    path: Path,
) -> tuple[int, dict[str, torch.Tensor], dict[str, Any], torch.Tensor, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns:
        (step, model state dict, optimizer state dict, (world, n) uint8 RNG states, extra).
    """
    from safetensors.torch import load_file

    state = json.loads((path / "state.json").read_text())
    weights = load_file(str(path / "model.safetensors"))
    for alias, name in state["aliases"].items():
        weights[alias] = weights[name]
    opt_tensors = load_file(str(path / "optimizer.safetensors"))
    rng = opt_tensors.pop("rng.torch")
    optimizer = _unflatten_optimizer(opt_tensors, state["optimizer"])
    return int(state["step"]), weights, optimizer, rng, state["extra"]
